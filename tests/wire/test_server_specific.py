"""What is true of one server only, on the wire (the cases every server shares are in
tests/wire/test_conformance.py and test_bodylimit_wire.py, over tests/servers.py's table).

gunicorn without django-expect's hook (one warning, the policy still holds); Apache + mod_wsgi
without deploy/apache-expect.conf (keeps the connection, discards a body sent anyway) and the
"coordination is inactive" warning per mode; uWSGI without ``lazy_continue`` (nothing answers
Expect); django-expect's ``manage.py runserver`` serving static files under DEBUG.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.raw import Exchange
from harness.wsgi_servers import WSGIServer, WSGIServerPool
from tests.conftest import ServerPool
from tests.fakes import upload_head

PACKAGE = Path(__file__).resolve().parents[2] / "django_expect"

BODY = b"0123456789abcdef" * 50  # 800 bytes, under /lab/small's 1000-byte limit
SHA = hashlib.sha256(BODY).hexdigest()


def test_without_the_gunicorn_hook_the_policy_still_holds_and_one_warning_is_logged(
    server_pool: ServerPool,
) -> None:
    stock = server_pool.get("gthread", hook=False)
    for _ in range(2):
        with Exchange(stock.address) as conn:
            conn.request_head("POST", "/lab/small", upload_head(5000, expect=False))
            _, final = conn.read_final()  # the body was never sent: decided from the head
            assert final.status == 413
    assert stock.log().count("100-continue coordination is inactive") == 1


def test_mod_wsgi_without_the_conf_keeps_the_connection_and_discards_the_body(
    wsgi_pool: WSGIServerPool,
) -> None:
    """Without deploy/apache-expect.conf Apache keeps the connection after a 401 or 415 (it
    closes after a 413 on its own) and reads and discards a body sent anyway before the next
    request, so it is never parsed as a request."""
    server = wsgi_pool.get("mod_wsgi-no-conf")
    smuggled = b"GET /lab/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    body = smuggled + b"x" * (5000 - len(smuggled))
    for path, headers, status in (
        ("/lab/login", {}, 401),
        ("/lab/types", {"Content-Type": "text/plain"}, 415),
    ):
        with Exchange(server.address) as conn:
            conn.request_head("POST", path, upload_head(len(body)) | headers)
            interim, final = conn.read_final()
            assert interim == [] and final.status == status
            assert final.header("Connection") is None  # kept alive
            conn.send_body(body)  # a client that sends the body anyway
            conn.request_head("GET", "/")
            interim, after = conn.read_final()
            assert after.status == 200 and b"django-expect" in after.body


@pytest.mark.parametrize(("kind", "warned"), [("mod_wsgi", False), ("mod_wsgi-daemon", True)])
def test_mod_wsgi_embedded_mode_is_not_warned_as_inactive(
    wsgi_pool: WSGIServerPool, kind: str, warned: bool
) -> None:
    """Embedded mode needs no adapter (Apache sends the 100 when the view reads the body): the
    "coordination is inactive" warning would mislead there. Daemon mode invites the body before
    Django runs: warned (the control, and proof the log is read)."""
    server = wsgi_pool.get(kind)
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(5000))
        if kind == "mod_wsgi-daemon":
            conn.read_response()  # the eager 100
            conn.send_body(b"x" * 5000)
        _, final = conn.read_final()
        assert final.status == 413
    deadline = time.monotonic() + 5
    while warned and "coordination is inactive" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)  # (not an assertion) until Apache's log has the line
    assert ("coordination is inactive" in server.log()) is warned


def test_uwsgi_alone_never_sends_a_100(wsgi_pool: WSGIServerPool) -> None:
    """Without django_expect.uwsgi.lazy_continue nothing answers Expect: a refusal still comes
    before the body, but an accepted upload waits for the client's own timeout (curl, Go: 1 s)."""
    server = wsgi_pool.get("uwsgi-http-socket-plain")
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(5000))
        interim, final = conn.read_final()
        assert interim == [] and final.status == 413
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(BODY)))
        with pytest.raises(TimeoutError):
            conn.read_response(timeout=1.5)
        conn.send_body(BODY)
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200 and final.json()["sha256"] == SHA


@pytest.fixture(scope="module")
def debug_runserver(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WSGIServer]:
    workdir = tmp_path_factory.mktemp("runserver-debug")
    env = dict(project_env_vars, DJANGO_DEBUG="1")
    server = WSGIServer("runserver", workdir / "runserver.log", env, workdir).start()
    yield server
    server.stop()


def test_runserver_serves_static_files_and_holds_the_100(
    debug_runserver: WSGIServer, wsgi_pool: WSGIServerPool
) -> None:
    """With DEBUG on, django-expect's runserver serves a static file through staticfiles'
    handler, which answers before Django's middleware (no X-Frame-Options), and, on the same
    server, refuses an upload without a 100. Control: with DEBUG off (the pool's runserver) the
    file comes from the demo's own URL pattern, through the middleware (X-Frame-Options set)."""
    path = "/static/django_expect/precheck.js"
    expected = (PACKAGE / "static" / "django_expect" / "precheck.js").read_bytes()
    with Exchange(debug_runserver.address) as conn:
        conn.request_head("GET", path)
        _, final = conn.read_final()
        assert final.status == 200
        assert final.body == expected
        assert final.header("X-Frame-Options") is None  # staticfiles' handler, not the URLconf
    with Exchange(debug_runserver.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(5000))
        interim, final = conn.read_final()
        assert interim == [] and final.status == 413
    with Exchange(wsgi_pool.get("runserver").address) as conn:
        conn.request_head("GET", path)
        _, final = conn.read_final()
        assert final.status == 200 and final.body == expected
        assert final.header("X-Frame-Options") == "DENY"  # the demo's URLconf
