"""django_expect.uwsgi without uWSGI: the input it installs, over a socket pair (the wire tests
are in tests/test_wsgi_servers.py)."""

from __future__ import annotations

import io
import socket

from django_expect.continuation import ContinueState
from django_expect.uwsgi import install, lazy_continue


def environ(**extra: str) -> dict[str, object]:
    env: dict[str, object] = {
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": "5",
        "HTTP_EXPECT": "100-continue",
        "wsgi.input": io.BytesIO(b"hello"),
    }
    env.update(extra)
    return env


def test_the_100_goes_out_on_first_read_only() -> None:
    server, client = socket.socketpair()
    with server, client:
        env = environ()
        body = install(env, server.fileno)
        assert env["wsgi.input"] is body and body.awaiting_continue
        client.setblocking(False)
        try:
            early = client.recv(100)
        except BlockingIOError:
            early = b""
        assert early == b""  # nothing before the read
        assert body.read() == b"hello"
        client.settimeout(2)
        assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert body.state is ContinueState.SENT


def test_no_100_for_http_1_0_or_an_empty_body() -> None:
    for env in (environ(SERVER_PROTOCOL="HTTP/1.0"), environ(CONTENT_LENGTH="0")):
        body = install(env, lambda: -1)  # would fail if a 100 were written
        assert not body.awaiting_continue


def test_outside_uwsgi_the_application_is_unchanged() -> None:
    def app(environ: object, start_response: object) -> list[bytes]:
        return []

    assert lazy_continue(app) is app
