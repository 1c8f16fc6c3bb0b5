"""The promise on WSGI servers other than gunicorn, on the wire (docs/howto/servers.md's table).

Servers (harness/wsgi_servers.py): django-expect's ``manage.py runserver`` and Django's own
(the control), waitress, Apache + mod_wsgi (embedded mode with and without
deploy/apache-expect.conf, daemon mode), uWSGI ``--http-socket`` and its ``--http`` router (with
``django_expect.uwsgi.lazy_continue``, without it, and with ``--http-manage-expect``). For each:
is a refusal the precise status (never the 500 that PEP 3333-strict servers gave an
application-set ``Connection: close``), is the 100 sent before the policy ran, and what does a
refused upload cost on the wire (raw sockets; six real clients through the byte-counting relay).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.raw import Exchange
from harness.relay import Relay
from harness.wsgi_servers import WSGIServer, WSGIServerPool
from tests.clients.adapters import CurlCLI
from tests.clients.fixtures import CLIENTS, ClientFactory, bodies, go_build_dir, make_client
from tests.clients.scenarios import REJECTIONS, Bodies, run_scenario, wire_body_bytes
from tests.fakes import upload_head

PACKAGE = Path(__file__).resolve().parent.parent / "django_expect"

__all__ = ["bodies", "go_build_dir", "make_client"]  # fixtures

BODY = b"0123456789abcdef" * 50  # 800 bytes, under /lab/small's 1000-byte limit
SHA = hashlib.sha256(BODY).hexdigest()

#: Servers that keep the promise: no 100 before a refusal, 0 body bytes for a refused upload.
KEEPS_PROMISE = ["runserver", "mod_wsgi", "uwsgi-http-socket", "uwsgi-http"]
#: ... and send the 100 when the view reads the body (all of them; uWSGI through lazy_continue).
LAZY_100 = [*KEEPS_PROMISE, "uwsgi-http11-socket"]
#: Servers that invite the body before Django runs (the refusal is still the precise status).
EAGER_100 = ["runserver-stock", "waitress", "mod_wsgi-daemon", "uwsgi-http-manage-expect"]

RAW_REJECTIONS = [
    ("/lab/small", {"Content-Length": "5000"}, 413, "content_too_large"),
    ("/lab/types", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("/lab/login", {}, 401, "login_required"),
]


@pytest.fixture(scope="session")
def wsgi_pool(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WSGIServerPool]:
    pool = WSGIServerPool(project_env_vars, tmp_path_factory.mktemp("wsgi-servers"))
    yield pool
    pool.stop_all()


def _server(pool: WSGIServerPool, kind: str) -> WSGIServer:
    return pool.get(kind)


# -- the servers that keep the promise: raw sockets ---------------------------------------------


@pytest.mark.parametrize("kind", KEEPS_PROMISE)
@pytest.mark.parametrize(("path", "headers", "status", "code"), RAW_REJECTIONS)
def test_refusal_is_the_precise_status_without_a_100(
    wsgi_pool: WSGIServerPool, kind: str, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    server = _server(wsgi_pool, kind)
    with Exchange(server.address) as conn:
        conn.request_head("POST", path, upload_head(len(BODY)) | headers)
        interim, final = conn.read_final()  # only the head was sent
        assert interim == []
        assert final.status == status, final.body
        assert final.json()["error"]["code"] == code
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


def test_mod_wsgi_without_the_conf_keeps_the_connection_and_discards_the_body(
    wsgi_pool: WSGIServerPool,
) -> None:
    """Without deploy/apache-expect.conf Apache keeps the connection after a 401 or 415 (it
    closes after a 413 on its own) and reads and discards a body sent anyway before the next
    request, so it is never parsed as a request."""
    server = _server(wsgi_pool, "mod_wsgi-no-conf")
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
    server = _server(wsgi_pool, kind)
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


def test_mod_wsgi_without_the_conf_go_sends_the_refused_body(
    wsgi_pool: WSGIServerPool, make_client: ClientFactory, bodies: Bodies
) -> None:
    """The control for deploy/apache-expect.conf: Go's net/http sends the body after a 401 on a
    connection the server keeps (PROTOCOL.md), so the refused upload crosses the wire."""
    server = _server(wsgi_pool, "mod_wsgi-no-conf")
    with Relay(server.address) as relay:
        client = make_client("go", relay.url)
        result = client.request(
            "POST",
            relay.url + "/api/uploads",
            bodies.mid,
            {"Content-Type": "application/octet-stream", "Expect": "100-continue"},
        )
        assert result.status == 401
        assert wire_body_bytes(relay) > 0


@pytest.mark.parametrize("kind", LAZY_100)
def test_accepted_upload_gets_one_100_then_200(wsgi_pool: WSGIServerPool, kind: str) -> None:
    server = _server(wsgi_pool, kind)
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(BODY)))
        interim = conn.read_response()
        assert (interim.status, interim.reason) == (100, "Continue")
        conn.send_body(BODY)
        more, final = conn.read_final()
        assert more == []
        assert final.status == 200, final.body
        assert final.json()["sha256"] == SHA


def test_uwsgi_alone_never_sends_a_100(wsgi_pool: WSGIServerPool) -> None:
    """Without django_expect.uwsgi.lazy_continue nothing answers Expect: a refusal still comes
    before the body, but an accepted upload waits for the client's own timeout (curl, Go: 1 s)."""
    server = _server(wsgi_pool, "uwsgi-http-socket-plain")
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


@pytest.mark.parametrize("kind", ["runserver", "uwsgi-http11-socket"])
def test_keep_alive_survives_an_accepted_expect_upload(
    wsgi_pool: WSGIServerPool, kind: str
) -> None:
    server = _server(wsgi_pool, kind)
    with Exchange(server.address) as conn:
        for _ in range(3):
            conn.request_head("POST", "/lab/small", upload_head(len(BODY)))
            assert conn.read_response().status == 100
            conn.send_body(BODY)
            more, final = conn.read_final()
            assert more == []
            assert final.status == 200 and final.json()["sha256"] == SHA
            assert final.header("Connection") != "close"


@pytest.mark.parametrize("expect", [True, False])
@pytest.mark.parametrize(("path", "headers", "status", "code"), RAW_REJECTIONS)
def test_uwsgi_http11_a_refused_body_is_never_parsed_as_the_next_request(
    wsgi_pool: WSGIServerPool,
    expect: bool,
    path: str,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    """uWSGI's keep-alive mode (--http11-socket) with lazy_continue: the refusal is precise and
    without a 100, nothing announces the close (django-expect sets no Connection header on a
    WSGI response, and uWSGI has no per-request means), yet uWSGI closes the connection itself
    because the body was not read to its end (uwsgi_proto_http11_close): a body the client
    sends anyway, a request hidden in it, is never read as the next request."""
    server = _server(wsgi_pool, "uwsgi-http11-socket")
    smuggled = b"GET /lab/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    body = smuggled + b"x" * (5000 - len(smuggled))
    with Exchange(server.address) as conn:
        conn.request_head("POST", path, upload_head(len(body), expect=expect) | headers)
        if not expect:
            conn.send_body(body)
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == status, final.body
        assert final.json()["error"]["code"] == code
        assert final.header("Connection") is None  # not from the application (PEP 3333)
        if expect:
            try:
                conn.send_body(body)  # a client that sends the refused body anyway
                conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        assert conn.closed_by_server()
        assert conn.buffer == b""  # neither the hidden request nor the GET was answered


@pytest.mark.parametrize("kind", LAZY_100)
def test_no_100_to_http_1_0(wsgi_pool: WSGIServerPool, kind: str) -> None:
    server = _server(wsgi_pool, kind)
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(BODY)), version="HTTP/1.0")
        conn.send_body(BODY)
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200
        assert final.json()["sha256"] == SHA


@pytest.mark.parametrize("kind", LAZY_100)
def test_no_100_for_an_empty_body(wsgi_pool: WSGIServerPool, kind: str) -> None:
    server = _server(wsgi_pool, kind)
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(0))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200
        assert final.json()["size"] == 0


@pytest.mark.parametrize("kind", KEEPS_PROMISE)
def test_a_body_sent_anyway_is_never_parsed_as_the_next_request(
    wsgi_pool: WSGIServerPool, kind: str
) -> None:
    server = _server(wsgi_pool, kind)
    smuggled = b"GET /lab/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    body = smuggled + b"x" * (5000 - len(smuggled))
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(body), expect=False))
        conn.send_body(body)
        _, final = conn.read_final()
        assert final.status == 413
        assert conn.closed_by_server()
        assert conn.buffer == b""


@pytest.mark.parametrize("stall", ["before", "halfway"])
def test_runserver_a_stalled_body_gets_408_and_a_close(
    wsgi_pool: WSGIServerPool, stall: str
) -> None:
    """The body timeout (/lab/timeout: 1 s) bounds runserver's reads too."""
    server = _server(wsgi_pool, "runserver")
    body = b"x" * 20_000
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/timeout", upload_head(len(body)))
        assert conn.read_response().status == 100
        if stall == "halfway":
            conn.send_body(body[:5000])  # ... and then nothing
        interim, final = conn.read_final(timeout=10)
        assert interim == []
        assert final.status == 408
        assert final.json()["error"]["code"] == "body_timeout"
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


def test_runserver_command_is_staticfiles_command_with_the_expect_server() -> None:
    """django_expect listed before django.contrib.staticfiles: its command is the one Django
    runs, and it is staticfiles' command with django-expect's server (the wire test below
    shows static files served)."""
    from django.contrib.staticfiles.management.commands.runserver import (
        Command as StaticfilesRunserver,
    )
    from django.core.management import get_commands, load_command_class

    from django_expect.runserver import ExpectWSGIServer

    assert get_commands()["runserver"] == "django_expect"
    command = load_command_class("django_expect", "runserver")
    assert isinstance(command, StaticfilesRunserver)
    assert command.server_cls is ExpectWSGIServer


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
    with Exchange(_server(wsgi_pool, "runserver").address) as conn:
        conn.request_head("GET", path)
        _, final = conn.read_final()
        assert final.status == 200 and final.body == expected
        assert final.header("X-Frame-Options") == "DENY"  # the demo's URLconf


# -- the servers that keep the promise: curl -T through the byte-counting relay -----------------


def client_cases() -> list[tuple[str, str]]:
    return [(c, r) for c in CLIENTS for r in sorted(REJECTIONS) if c != "boto3" or r == "too_large"]


@pytest.mark.parametrize("kind", KEEPS_PROMISE)
@pytest.mark.parametrize(("client_name", "rejection"), client_cases())
def test_client_refused_upload_costs_no_body_bytes_and_the_pool_survives(
    wsgi_pool: WSGIServerPool,
    make_client: ClientFactory,
    bodies: Bodies,
    kind: str,
    client_name: str,
    rejection: str,
) -> None:
    """curl, libcurl (pycurl), boto3, aiohttp, Node and Go (tests/clients/scenarios.py): the
    precise status, 0 body bytes counted by the relay, then an accepted upload arrives whole."""
    server = _server(wsgi_pool, kind)
    with Relay(server.address) as relay:
        client = make_client(client_name, relay.url)
        run_scenario(client, relay, REJECTIONS[rejection], bodies)


@pytest.mark.parametrize(
    ("client_name", "rejection"), [case for case in client_cases() if case[0] != "go"]
)
def test_uwsgi_http11_client_refused_upload_costs_no_body_bytes(
    wsgi_pool: WSGIServerPool,
    make_client: ClientFactory,
    bodies: Bodies,
    client_name: str,
    rejection: str,
) -> None:
    """uWSGI --http11-socket with lazy_continue, no header announcing the close: every client
    but Go stops after the refusal (Go: the next test)."""
    server = _server(wsgi_pool, "uwsgi-http11-socket")
    with Relay(server.address) as relay:
        client = make_client(client_name, relay.url)
        run_scenario(client, relay, REJECTIONS[rejection], bodies)


def test_uwsgi_http11_go_sends_the_refused_body(
    wsgi_pool: WSGIServerPool, make_client: ClientFactory, bodies: Bodies
) -> None:
    """Go's net/http sends the body after a refusal on a connection nothing says will close
    (PROTOCOL.md): under --http11-socket the refused upload crosses the wire until uWSGI's close.
    (--http-socket with --add-header "Connection: close" spares it: the client tests above.)"""
    server = _server(wsgi_pool, "uwsgi-http11-socket")
    with Relay(server.address) as relay:
        client = make_client("go", relay.url)
        result = client.request(
            "POST",
            relay.url + "/api/uploads",
            bodies.mid,
            {"Content-Type": "application/octet-stream", "Expect": "100-continue"},
        )
        assert result.status == 401
        assert wire_body_bytes(relay) > 0


# -- the servers that invite the body before Django runs: still the precise status ----------


@pytest.mark.parametrize("kind", EAGER_100)
@pytest.mark.parametrize(("path", "headers", "status", "code"), RAW_REJECTIONS)
def test_eager_servers_send_100_first_but_the_refusal_is_precise(
    wsgi_pool: WSGIServerPool,
    kind: str,
    path: str,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    """Before ff02556 the refusal was a 500 under Django's runserver and waitress (PEP 3333:
    no hop-by-hop header from an application). Here the 100 precedes it: the body was invited."""
    server = _server(wsgi_pool, kind)
    head = upload_head(len(BODY)) | headers
    with Exchange(server.address) as conn:
        conn.request_head("POST", path, head)
        first = conn.read_response()
        assert (first.status, first.reason) == (100, "Continue")
        conn.send_body(b"x" * int(head["Content-Length"]))  # invited: a client sends it
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == status, final.body
        assert final.json()["error"]["code"] == code


@pytest.mark.parametrize("kind", ["waitress", "mod_wsgi-daemon"])
def test_the_whole_refused_body_is_read_before_the_413(
    wsgi_pool: WSGIServerPool, bodies: Bodies, kind: str
) -> None:
    """waitress answers 100 once the head is parsed and buffers the whole body before it calls
    the application; mod_wsgi's daemon mode has the Apache child read the body and pass it to
    the daemon process. The refusal is the precise 413, but the whole upload crossed the wire."""
    server = _server(wsgi_pool, kind)
    size = bodies.big.stat().st_size
    with Relay(server.address) as relay:
        result = CurlCLI().request(
            "PUT",
            relay.url + f"/objects/{kind}-refused",
            bodies.big,
            {"Content-Type": "application/octet-stream"},
        )
        assert result.status == 413
        assert result.json()["error"]["code"] == "content_too_large"
        assert wire_body_bytes(relay) == size
