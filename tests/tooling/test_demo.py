"""The demo project (testproject/, ``make demo``) still works: the rest of the suite runs against
the test project (tests/settings.py, which installs the demo's app and serves its pages), so this
is the one test of the demo's own settings, URLs and API endpoints.

``manage.py check`` is clean, ``migrate`` and ``demo_setup`` run, and under gunicorn with the hook
a 50 MB ``PUT /objects/big`` is refused with 413 before any body byte while a small one is stored
(200 and its MD5 as ETag), as the Makefile's ``make demo`` banner promises; the demo's DRF and
django-ninja endpoints refuse from the head (401 without credentials, 413 over 5 MB) and accept a
small upload.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from harness.process import ROOT
from harness.raw import Exchange
from harness.server import Server

DEMO = ROOT / "testproject"
BASIC_DEMO = "Basic " + base64.b64encode(b"demo:demo").decode()
BOUNDARY = "demo-boundary"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


def form_body(content: bytes) -> bytes:
    """A multipart body with one file field, ``file``."""
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def refused_from_the_head(server: Server, path: str, headers: dict[str, str]) -> int:
    """Send only the head of a POST that waits for 100 Continue; the final status (no 100, no
    body byte sent)."""
    with Exchange(server.address) as conn:
        conn.request_head("POST", path, {**headers, "Expect": "100-continue"})
        interim, refused = conn.read_final()
    assert (interim, conn.sent_body_bytes) == ([], 0)
    return refused.status


def accepted(server: Server, path: str, headers: dict[str, str], body: bytes) -> dict[str, object]:
    """POST a small body after the 100; the JSON answer of a 2xx."""
    with Exchange(server.address) as conn:
        conn.request_head(
            "POST", path, {**headers, "Content-Length": str(len(body)), "Expect": "100-continue"}
        )
        assert conn.read_response().status == 100
        conn.send_body(body)
        _, answer = conn.read_final()
    assert answer.status in (200, 201), (answer.status, answer.body[:500])
    result: dict[str, object] = answer.json()
    return result


def demo_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="testproject.settings",
        DEMO_DB=str(tmp_path / "db.sqlite3"),
        DEMO_MEDIA_ROOT=str(tmp_path / "media"),
        PYTHONPATH=os.pathsep.join([str(DEMO), str(ROOT)]),
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *command: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=DEMO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_demo_checks_migrates_and_refuses_before_the_body(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    assert "no issues" in manage(env, "check", "--fail-level", "WARNING")
    manage(env, "migrate", "--noinput", "-v0")
    assert "demo-token" in manage(env, "demo_setup")
    server = Server(
        "gthread",
        True,
        tmp_path / "demo.log",
        env,
        app="testproject.wsgi:application",
        chdir=DEMO,
    ).start()
    try:
        with Exchange(server.address) as conn:
            conn.request_head(
                "PUT",
                "/objects/big",
                {
                    "Content-Length": str(50 * 10**6),
                    "Content-Type": "application/octet-stream",
                    "Expect": "100-continue",
                },
            )
            interim, refused = conn.read_final()
        assert (interim, refused.status, conn.sent_body_bytes) == ([], 413, 0)

        body = os.urandom(100_000)
        with Exchange(server.address) as conn:
            conn.request_head(
                "PUT",
                "/objects/small",
                {
                    "Content-Length": str(len(body)),
                    "Content-Type": "application/octet-stream",
                    "Expect": "100-continue",
                },
            )
            assert conn.read_response().status == 100
            conn.send_body(body)
            _, stored = conn.read_final()
        assert stored.status == 200
        assert stored.header("ETag") == f'"{hashlib.md5(body).hexdigest()}"'

        # DRF: a ViewSet's create, 5 MB and login (Basic demo:demo).
        raw = {"Content-Type": "application/octet-stream"}
        assert (
            refused_from_the_head(server, "/drf/documents/", {**raw, "Content-Length": "1000"})
            == 401
        )
        assert (
            refused_from_the_head(
                server,
                "/drf/documents/",
                {**raw, "Content-Length": str(6 * 10**6), "Authorization": BASIC_DEMO},
            )
            == 413
        )
        answer = accepted(server, "/drf/documents/", {**raw, "Authorization": BASIC_DEMO}, body)
        assert (answer["user"], answer["size"]) == ("demo", len(body))

        # django-ninja: an operation with a multipart UploadedFile, 5 MB.
        assert (
            refused_from_the_head(
                server, "/ninja/documents", {"Content-Type": FORM, "Content-Length": str(6 * 10**6)}
            )
            == 413
        )
        answer = accepted(server, "/ninja/documents", {"Content-Type": FORM}, form_body(body))
        assert (answer["name"], answer["sha256"]) == ("a.bin", hashlib.sha256(body).hexdigest())
    finally:
        server.stop()
