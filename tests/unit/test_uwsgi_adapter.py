"""django_expect.uwsgi without uWSGI: the input it installs, over a socket pair (the wire tests
are in tests/wire/test_conformance.py (tests/servers.py))."""

from __future__ import annotations

import io
import socket
from typing import Any

import pytest

from django_expect import uwsgi as uwsgi_adapter
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


def test_the_wrapper_sets_no_connection_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """PEP 3333: no hop-by-hop header from an application; uWSGI closes by itself, and says so
    with its own --add-header (before 0.2.0 the wrapper added Connection: close)."""
    monkeypatch.setattr(uwsgi_adapter, "_uwsgi_connection_fd", lambda: lambda: -1)
    monkeypatch.setattr(
        uwsgi_adapter, "_uwsgi_options", lambda: {"http-socket": b":8000", "add-header": b"x"}
    )
    seen: list[list[tuple[str, str]]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("413 Content Too Large", [("Content-Type", "application/json")])
        return [b"{}"]

    wrapped = uwsgi_adapter.lazy_continue(app)
    assert wrapped is not app
    wrapped(environ(), lambda status, headers, *exc: seen.append(headers))
    assert seen == [[("Content-Type", "application/json")]]


@pytest.mark.parametrize(
    ("options", "announced"),
    [
        ({"http-socket": b"127.0.0.1:8000"}, False),
        ({"http": b"127.0.0.1:8000"}, False),
        ({"http-socket": b"127.0.0.1:8000", "add-header": b"Connection: close"}, True),
        ({"http11-socket": b"127.0.0.1:8000"}, True),  # keeps alive: nothing to announce
        ({"socket": b"127.0.0.1:3031"}, True),  # behind nginx's uwsgi_pass: nginx frames
    ],
)
def test_a_mode_that_closes_silently_is_warned_of(options: dict[str, Any], announced: bool) -> None:
    assert uwsgi_adapter.announces_close(options) is announced
