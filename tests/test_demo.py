"""The demo project (testproject/, ``make demo``) still works: the rest of the suite runs against
the test project (tests/settings.py), so this is the one test of the demo itself.

``manage.py check`` is clean, ``migrate`` and ``demo_setup`` run, and under gunicorn with the hook
a 50 MB ``PUT /objects/big`` is refused with 413 before any body byte while a small one is stored
(200 and its MD5 as ETag), as the Makefile's ``make demo`` banner promises.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.process import ROOT
from harness.raw import Exchange
from harness.server import Server

pytestmark = pytest.mark.e2e

DEMO = ROOT / "testproject"


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
        [sys.executable, "manage.py", *command], cwd=DEMO, env=env, capture_output=True,
        text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_demo_checks_migrates_and_refuses_before_the_body(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    assert "no issues" in manage(env, "check", "--fail-level", "WARNING")
    manage(env, "migrate", "--noinput", "-v0")
    assert "demo-token" in manage(env, "demo_setup")
    server = Server(
        "gthread", True, tmp_path / "demo.log", env,
        app="testproject.wsgi:application", chdir=DEMO,
    ).start()
    try:
        with Exchange(server.address) as conn:
            conn.request_head("PUT", "/objects/big", {
                "Content-Length": str(50 * 10**6), "Content-Type": "application/octet-stream",
                "Expect": "100-continue"})
            interim, refused = conn.read_final()
        assert (interim, refused.status, conn.sent_body_bytes) == ([], 413, 0)

        body = os.urandom(100_000)
        with Exchange(server.address) as conn:
            conn.request_head("PUT", "/objects/small", {
                "Content-Length": str(len(body)), "Content-Type": "application/octet-stream",
                "Expect": "100-continue"})
            assert conn.read_response().status == 100
            conn.send_body(body)
            _, stored = conn.read_final()
        assert stored.status == 200
        assert stored.header("ETag") == f'"{hashlib.md5(body).hexdigest()}"'
    finally:
        server.stop()
