"""Chunked request bodies on the WSGI servers other than gunicorn: delivered whole, or refused
precisely, never read as an empty body; and runserver's answers are always HTTP/1.1 responses.

wsgiref (under ``manage.py runserver``) and uWSGI's ``wsgi.input`` read no chunked body, so a
view saw an empty upload and answered 200 with the digest of nothing (the fuzzer's seed 24:3).
django-expect's runserver now decodes the chunks itself (``django_expect.runserver``); uWSGI's
``lazy_continue`` reads them through ``uwsgi.chunked_read()``; waitress decodes them itself and
sets ``CONTENT_LENGTH``. The shared chunked cases (413 past the limit, a close after an unread
body) run on these servers through ``tests/servers.py``'s ``chunked`` fact.
"""

from __future__ import annotations

import hashlib
import socket

import pytest

from harness.raw import Exchange, chunked
from harness.wsgi_servers import WSGIServerPool

pytestmark = pytest.mark.e2e

DATA = bytes(range(256)) * 40  # 10,240 bytes, under /lab/body's 100,000


def _digest(data: bytes) -> dict[str, object]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize(
    "kind", ["runserver", "waitress", "uwsgi-http-socket", "uwsgi-http11-socket"]
)
def test_a_chunked_upload_reaches_the_view_whole(wsgi_pool: WSGIServerPool, kind: str) -> None:
    server = wsgi_pool.get(kind)
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/body", {"Transfer-Encoding": "chunked"})
        conn.send_body(chunked(DATA, size=3000))
        final = conn.read_final()[1]
        assert final.status == 200
        assert final.json() == _digest(DATA)


def test_runserver_takes_chunk_extensions_and_trailers(wsgi_pool: WSGIServerPool) -> None:
    server = wsgi_pool.get("runserver")
    body = b'5;name=value\r\nhello\r\n6 ; x="y"\r\n world\r\n0\r\nX-Checksum: 1\r\n\r\n'
    with Exchange(server.address) as conn:
        conn.request_head(
            "POST", "/lab/body", {"Transfer-Encoding": "chunked", "Expect": "100-continue"}
        )
        assert conn.read_response().status == 100
        conn.send_body(body)
        final = conn.read_final()[1]
        assert final.status == 200
        assert final.json() == _digest(b"hello world")
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


@pytest.mark.parametrize(
    "body",
    [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n"],
    ids=["not-hex", "no-crlf-after-data", "negative"],
)
def test_runserver_a_malformed_chunked_body_gets_400_and_a_close(
    wsgi_pool: WSGIServerPool, body: bytes
) -> None:
    server = wsgi_pool.get("runserver")
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/body", {"Transfer-Encoding": "chunked"})
        conn.send_body(body)
        final = conn.read_final()[1]
        assert final.status == 400
        assert final.json()["error"]["code"] == "incomplete_body"
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


def test_uwsgi_a_chunk_extension_is_refused_not_read_short(wsgi_pool: WSGIServerPool) -> None:
    """uWSGI 2.0.31's chunked parser takes no chunk extension: the body is refused 400 (documented
    in docs/howto/servers.md), never handed to the view short."""
    server = wsgi_pool.get("uwsgi-http-socket")
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/body", {"Transfer-Encoding": "chunked"})
        conn.send_body(b"5;name=value\r\nhello\r\n0\r\n\r\n")
        final = conn.read_final()[1]
        assert final.status == 400
        assert final.json()["error"]["code"] == "incomplete_body"


def test_runserver_a_request_line_without_a_version_gets_400_with_a_status_line(
    wsgi_pool: WSGIServerPool,
) -> None:
    """``GET /`` is HTTP/0.9's form, which http.server would answer with no status line at all."""
    server = wsgi_pool.get("runserver")
    with Exchange(server.address) as conn:
        conn.send(b"PUT /lab/body\r\n\r\n")
        final = conn.read_final()[1]
        assert final.status == 400
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()
        assert conn.buffer == b""


def test_runserver_a_request_line_cut_by_the_close_is_not_answered(
    wsgi_pool: WSGIServerPool,
) -> None:
    """The fuzzer's seed 24:12: a request line cut short by the client's half-close was answered
    as an HTTP/0.9 request (an HTML error page with no status line)."""
    server = wsgi_pool.get("runserver")
    with Exchange(server.address) as conn:
        conn.send(b"GET /lab/noread HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nPUT /")
        conn.sock.shutdown(socket.SHUT_WR)
        final = conn.read_final()[1]
        assert final.status == 200
        assert conn.closed_by_server()
        assert conn.buffer == b""


@pytest.mark.parametrize("path", ["/nowhere", "/lab/small"])
def test_uwsgi_http11_an_unread_chunked_body_is_never_parsed_as_a_request(
    wsgi_pool: WSGIServerPool, path: str
) -> None:
    """uWSGI's ``--http11-socket`` keeps a connection by ``Content-Length`` alone; after a
    chunked body the view left unread (404 before the view, 413 past ``max_size``) it parsed
    the rest as the next request (the fuzzer's seed 24:102). ``lazy_continue`` closes it."""
    server = wsgi_pool.get("uwsgi-http11-socket")
    hidden = b"GET /lab/small HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with Exchange(server.address) as conn:
        conn.request_head("POST", path, {"Transfer-Encoding": "chunked"})
        conn.send_body(chunked(b"x" * 1500, size=1500)[:-5] + chunked(hidden))
        final = conn.read_final()[1]
        assert final.status in (404, 413)
        assert conn.closed_by_server()
        assert conn.buffer == b""
