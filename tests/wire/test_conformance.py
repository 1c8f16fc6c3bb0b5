"""The README's promises on the wire, once, over every server (tests/servers.py).

Each test speaks raw HTTP/1.1 over a socket so it sees exactly what the server sent: whether a
``100 Continue`` came, when, and whether the connection was closed. ``wire_server`` is every
server that keeps the promise -- gunicorn's sync, gthread and gevent workers with
django-expect's hooks; django_expect.asgi on uvicorn (h11, httptools), gunicorn ``-k asgi`` and
granian; django-expect's ``manage.py runserver``; Apache + mod_wsgi (embedded mode); uWSGI with
``django_expect.uwsgi.lazy_continue`` -- and, with ``@servers(lazy=False)``, the servers that
invite the body before Django runs (stock gunicorn, Django's own ASGI handler, hypercorn, daphne,
Django's runserver, waitress, mod_wsgi's daemon mode, uWSGI's ``--http-manage-expect``), where
the refusal is still the precise status. Where servers truly differ, the profile says how.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from pathlib import Path

import pytest
from django.test.client import encode_multipart

from harness.raw import ConnectionClosed, Exchange, chunked
from harness.relay import Relay
from harness.tools import poll, require_module
from tests.fakes import upload_head
from tests.servers import WireServer, servers

BODY = b"0123456789abcdef" * 50  # 800 bytes, under /lab/small's 1000-byte limit
SHA = hashlib.sha256(BODY).hexdigest()
BASIC = "Basic " + base64.b64encode(b"demo:demo").decode()
MiB = 2**20
#: A body that hides a request: a server that parsed it as the next request would answer it.
SMUGGLED = b"GET /lab/echo HTTP/1.1\r\nHost: x\r\n\r\n"
SMUGGLING_BODY = SMUGGLED + b"x" * (5000 - len(SMUGGLED))


def _needs(server: WireServer, path: str) -> None:
    if path == "/lab/drf":
        require_module("rest_framework", "djangorestframework")
        if server.profile.kind.startswith("mod_wsgi"):
            pytest.skip("Apache's Python (.venv-apache) has Django, not DRF")


def _closes(server: WireServer, conn: Exchange, final_connection: str | None) -> None:
    """The rejection's close: announced where the server can say it, and done."""
    assert final_connection == ("close" if server.profile.says_close else None)
    assert conn.closed_by_server()


# -- accepted uploads: one 100, after the policy passed, when the body is first read ----------


ACCEPTED = [
    ("/lab/small", {}, {}),
    ("/lab/echo", {}, {}),
    ("/lab/after-checks", {}, {}),
    ("/lab/class", {}, {}),
    ("/lab/method", {}, {}),
    ("/lab/async", {}, {}),
    ("/lab/check", {"X-Upload-Ticket": "valid"}, {}),
    ("/lab/login", {"Authorization": "Token plain-token"}, {}),
    ("/lab/permission", {"Authorization": "Token demo-token"}, {}),
    ("/api/uploads", {"Authorization": "Token demo-token"}, {}),
    ("/lab/drf", {"Authorization": BASIC}, {"size": len(BODY), "user": "demo"}),
]


@pytest.mark.parametrize(("path", "headers", "expected"), ACCEPTED)
def test_accepted_upload_gets_one_100_then_the_final_status(
    wire_server: WireServer, path: str, headers: dict[str, str], expected: dict[str, object]
) -> None:
    _needs(wire_server, path)
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", path, upload_head(len(BODY), **headers))
        interim = conn.read_response()
        assert (interim.status, interim.reason) == (100, "Continue")
        conn.send_body(BODY)
        more_interim, final = conn.read_final()
        assert more_interim == []  # never twice
        assert final.status == 200, final.body
        document = final.json()
        assert document["sha256"] == SHA
        assert {key: document[key] for key in expected} == expected


@servers(keep_alive=True)
def test_keep_alive_survives_accepted_expect_uploads(wire_server: WireServer) -> None:
    with Exchange(wire_server.address) as conn:
        for _ in range(3):
            conn.request_head("POST", "/lab/small", upload_head(len(BODY)))
            assert conn.read_response().status == 100
            conn.send_body(BODY)
            interim, final = conn.read_final()
            assert interim == []
            assert final.status == 200 and final.json()["sha256"] == SHA
            assert final.header("Connection") != "close"
        conn.request_head("GET", "/lab/small")
        assert conn.read_final()[1].status == 200


def test_no_100_for_an_empty_body(wire_server: WireServer) -> None:
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(0))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200
        assert final.json()["size"] == 0


@pytest.mark.parametrize("path", ["/lab/small", "/lab/refuse"])
def test_http_1_0_expect_is_ignored(wire_server: WireServer, path: str) -> None:
    """No 100 to HTTP/1.0 -- except uvicorn's httptools protocol, which sends one (a server bug
    no application can avoid, docs/howto/asgi.md); the policy decides as for any 1.0 request
    (/lab/refuse's expect="refuse" does not apply: a 1.0 Expect is ignored)."""
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", path, upload_head(len(BODY)), version="HTTP/1.0")
        conn.send_body(BODY)
        interim, final = conn.read_final()
        assert [r.status for r in interim] == ([100] if wire_server.profile.http10_continue else [])
        assert final.status == 200
        assert final.json()["sha256"] == SHA


def test_a_large_accepted_upload_streams_through_the_view(wire_server: WireServer) -> None:
    data = bytes(range(256)) * (4 * 4096)  # 4 MiB, under /objects' 10 MiB
    with Exchange(wire_server.address, timeout=30) as conn:
        conn.request_head("PUT", f"/objects/stream-{wire_server.name}", upload_head(len(data)))
        assert conn.read_response().status == 100
        conn.send_body(data)
        _, final = conn.read_final()
        assert final.status == 200, wire_server.log()[-3000:]
        assert final.header("ETag") == f'"{hashlib.md5(data).hexdigest()}"'


def _partial_object(server: WireServer, key: str) -> Path:
    """Where /objects/<key> writes what it has read of a PUT so far (demo/views.py)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return server.media_root / "objects" / f"{digest}.part"


def _written(partial: Path) -> int | None:
    """Bytes the view has written to ``partial``, once it is at least the view's first 1 MiB."""
    try:
        size = partial.stat().st_size
    except (FileNotFoundError, PermissionError):
        return None
    return size if size >= MiB else None


def _put_in_two_halves(server: WireServer, key: str, wait: float) -> int | None:
    """PUT 6 MiB to /objects/<key>, stopping after 3 MiB until the view has written its first
    MiB (polled for at most ``wait`` s); return what it had written then (None: nothing)."""
    data = bytes(range(256)) * (6 * MiB // 256)
    partial = _partial_object(server, key)
    with Exchange(server.address, timeout=30) as conn:
        conn.request_head("PUT", f"/objects/{key}", upload_head(len(data)))
        first = conn.read_response()
        assert first.status == 100
        conn.send_body(data[: 3 * MiB])
        written = poll(lambda: _written(partial), timeout=wait, interval=0.02)
        conn.send_body(data[3 * MiB :])
        _, final = conn.read_final()
        assert final.status == 200, server.log()[-3000:]
        assert final.header("ETag") == f'"{hashlib.md5(data).hexdigest()}"'
    return written


@servers(family="asgi")
def test_the_view_reads_the_body_while_the_client_still_sends_it(wire_server: WireServer) -> None:
    """Not spooled first: /objects/<key> writes each MiB it reads to a .part file; with half of
    the body still held back by the client, the view has already read and written its first MiB
    (the poll's bound only detects a hang)."""
    written = _put_in_two_halves(wire_server, f"halves-{wire_server.name}", wait=30)
    assert written is not None and MiB <= written <= 3 * MiB


@servers("django-asgi")
def test_control_djangos_own_handler_spools_the_body_before_the_view(
    wire_server: WireServer,
) -> None:
    """Under Django's own ASGI handler the view runs only once the whole body was received, so
    nothing is written while half of it is held back (here for a bounded 3 s) -- and the same
    upload then completes."""
    assert _put_in_two_halves(wire_server, "halves-stock", wait=3) is None


def test_sync_middleware_reads_the_body_after_the_policy(wire_server: WireServer) -> None:
    """CsrfViewMiddleware (sync, after ExpectMiddleware) reads request.POST in process_view: a
    multipart form is invited only once the policy passed, checked for its CSRF token and handed
    to the view; a form of the wrong type gets no 100."""
    token = "a" * 32  # an unmasked CSRF secret, sent as cookie and as form field
    form = encode_multipart("expectboundary", {"csrfmiddlewaretoken": token, "title": "hello"})
    multipart = "multipart/form-data; boundary=expectboundary"
    with Exchange(wire_server.address) as conn:
        conn.request_head(
            "POST",
            "/upload/form",
            upload_head(len(form), Content_Type=multipart, Cookie=f"csrftoken={token}"),
        )
        assert conn.read_response().status == 100
        conn.send_body(form)
        _, final = conn.read_final()
        assert final.status == 200, final.body[:500]  # CSRF passed: the form was read
        assert b"This field is required" in final.body  # the view's form: no document
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/upload/form", upload_head(len(form), Content_Type="text/plain"))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 415


# -- the view never reads the body: no 100, and a close ----------------------------------------


@pytest.mark.parametrize("expect", [True, False])
def test_a_body_the_view_never_reads_closes_the_connection(
    wire_server: WireServer, expect: bool
) -> None:
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/lab/noread", upload_head(len(BODY), expect=expect))
        if not expect:
            conn.send_body(BODY)
        interim, final = conn.read_final()
        assert interim == []  # with Expect: no 100, the body is never invited
        assert final.status == 200
        _closes(wire_server, conn, final.header("Connection"))
        assert conn.buffer == b""


@servers(chunked=True)
def test_a_chunked_body_the_view_never_reads_closes_the_connection(
    wire_server: WireServer,
) -> None:
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/lab/noread", {"Transfer-Encoding": "chunked"})
        conn.send_body(chunked(BODY))
        _, final = conn.read_final()
        assert final.status == 200
        _closes(wire_server, conn, final.header("Connection"))
        assert conn.buffer == b""


# -- rejections: the precise status, before any body byte, and a close ---------------------------


REJECTIONS = [
    ("/lab/small", {"Content-Length": "5000"}, 413, "content_too_large"),
    ("/objects/too-big", {"Content-Length": str(50 * 10**6)}, 413, "content_too_large"),
    ("/lab/echo", {"Content-Length": str(200 * 2**20)}, 413, "content_too_large"),  # default policy
    ("/lab/types", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("/lab/login", {}, 401, "login_required"),
    ("/api/uploads", {"Authorization": "Token wrong"}, 401, "login_required"),
    ("/lab/permission", {"Authorization": "Token plain-token"}, 403, "permission_denied"),
    ("/lab/refuse", {}, 417, "expectation_failed"),
    ("/lab/drf", {}, 401, "login_required"),  # DRF's own header authenticators count
    ("/lab/check", {}, 409, None),  # the view's own check answers
]


@pytest.mark.parametrize(("path", "headers", "status", "code"), REJECTIONS)
def test_policy_failures_are_answered_before_the_body(
    wire_server: WireServer, path: str, headers: dict[str, str], status: int, code: str | None
) -> None:
    _needs(wire_server, path)
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", path, upload_head(len(BODY)) | headers)
        interim, final = conn.read_final()  # the body is never sent
        assert interim == []
        assert final.status == status, final.body
        if code is not None:
            assert final.json()["error"]["code"] == code
        _closes(wire_server, conn, final.header("Connection"))


def test_an_unknown_expectation_gets_417(wire_server: WireServer) -> None:
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(BODY)) | {"Expect": "magic"})
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 417
        _closes(wire_server, conn, final.header("Connection"))


def test_declared_length_over_the_limit_without_expect_is_refused_unread(
    wire_server: WireServer,
) -> None:
    with Exchange(wire_server.address) as conn:
        conn.request_head("PUT", "/objects/k", upload_head(11 * 2**20, expect=False))
        interim, final = conn.read_final()  # only the head was sent
        assert interim == []
        assert final.status == 413
        _closes(wire_server, conn, final.header("Connection"))


def test_rejections_are_logged_with_their_route(wire_server: WireServer) -> None:
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/lab/types", upload_head(10, Content_Type="text/csv"))
        assert conn.read_final()[1].status == 415
    line = "route=lab-types reason=unsupported_media_type status=415"
    assert poll(lambda: True if line in wire_server.log() else None, timeout=10), line


# -- a rejected body is never parsed as the next request ---------------------------------------


def test_a_body_sent_without_waiting_is_never_parsed_as_a_request(wire_server: WireServer) -> None:
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(SMUGGLING_BODY), expect=False))
        try:
            conn.send_body(SMUGGLING_BODY)
        except OSError:
            pass  # the server may already have closed
        _, final = conn.read_final()
        assert final.status == 413
        _closes(wire_server, conn, final.header("Connection"))
        assert conn.buffer == b""  # no second response


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/lab/small", {}, 413),
        ("/lab/types", {"Content-Type": "text/plain"}, 415),
        ("/lab/login", {}, 401),
    ],
)
def test_a_refused_body_sent_after_the_answer_is_never_parsed_as_a_request(
    wire_server: WireServer, path: str, headers: dict[str, str], status: int
) -> None:
    """A client that sends the refused body anyway, then another request: neither the request
    hidden in the body nor the next one is answered (uWSGI's keep-alive mode says nothing about
    the close, yet closes because the body was not read to its end: uwsgi_proto_http11_close)."""
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", path, upload_head(len(SMUGGLING_BODY)) | headers)
        interim, final = conn.read_final()
        assert interim == [] and final.status == status
        try:
            conn.send_body(SMUGGLING_BODY)
            conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass
        _closes(wire_server, conn, final.header("Connection"))
        assert conn.buffer == b""


def test_a_content_length_list_of_one_value_frames_the_body_by_it(
    wire_server: WireServer,
) -> None:
    """``Content-Length: 800, 800`` is 800 (RFC 9110 8.6): the view reads the whole body, or the
    server refuses the list itself (400) -- never a 500, never an empty body with 800 bytes
    left on the connection."""
    with Exchange(wire_server.address) as conn:
        conn.request_head(
            "POST",
            "/lab/body",
            {
                "Content-Type": "application/octet-stream",
                "Content-Length": f"{len(BODY)}, {len(BODY)}",
            },
        )
        conn.send_body(BODY)
        final = conn.read_final()[1]
        assert final.status in (200, 400), final.status
        if final.status == 200:
            assert final.json() == {"size": len(BODY), "sha256": SHA}


# -- bodies of undeclared length, stalls, short bodies -------------------------------------------


@servers(chunked=True)
def test_a_chunked_body_is_read_whole(wire_server: WireServer) -> None:
    data = bytes(range(256)) * 200  # 51,200 bytes, under /lab/body's 100,000
    with Exchange(wire_server.address) as conn:
        conn.request_head(
            "POST", "/lab/body", {"Transfer-Encoding": "chunked", "Expect": "100-continue"}
        )
        assert conn.read_response().status == 100
        conn.send_body(chunked(data))
        final = conn.read_final()[1]
        assert final.status == 200
        assert final.json() == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@servers(chunked=True)
def test_a_chunked_body_past_the_limit_gets_413_and_a_close(wire_server: WireServer) -> None:
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/lab/body", {"Transfer-Encoding": "chunked"})
        try:
            conn.send_body(chunked(b"z" * 150_000))
        except OSError:
            pass
        final = conn.read_final()[1]
        assert final.status == 413
        assert final.json()["error"]["limit"] == 100_000
        _closes(wire_server, conn, final.header("Connection"))


@servers(body_timeout=True)
@pytest.mark.parametrize("stall", ["before", "halfway"])
def test_a_stalled_body_gets_408_and_a_close(wire_server: WireServer, stall: str) -> None:
    """The view runs while the body is still arriving: /lab/timeout's body_timeout of 1 s answers
    408 when the body stops (10 s only bounds a hang)."""
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/lab/timeout", upload_head(20_000))
        assert conn.read_response().status == 100
        if stall == "halfway":
            conn.send_body(b"x" * 5000)  # ... and then nothing
        interim, final = conn.read_final(timeout=10)
        assert interim == []
        assert final.status == 408
        assert final.json()["error"]["code"] == "body_timeout"
        _closes(wire_server, conn, final.header("Connection"))


def test_a_body_cut_short_by_a_disconnect_does_not_hang_the_server(
    wire_server: WireServer,
) -> None:
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", "/lab/echo", upload_head(len(BODY)))
        assert conn.read_response().status == 100
        conn.send_body(BODY[:100])
        conn.sock.shutdown(socket.SHUT_WR)
        try:
            _, final = conn.read_final()
        except (ConnectionClosed, ConnectionResetError):
            pass  # the server dropped the connection: nothing to answer
        else:
            assert final.status == 400
            assert final.json()["error"]["code"] == "incomplete_body"
        assert conn.closed_by_server()
    with Exchange(wire_server.address) as conn:  # and it still serves
        conn.request_head("POST", "/lab/small", upload_head(len(BODY), expect=False))
        conn.send_body(BODY)
        assert conn.read_final()[1].json()["sha256"] == SHA


# -- the servers that invite the body before Django runs: still the precise status ------------


EAGER_REJECTIONS = [
    ("/lab/small", {"Content-Length": "5000"}, 413, "content_too_large"),
    ("/lab/types", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("/lab/login", {}, 401, "login_required"),
    ("/lab/djangocap", {"Content-Length": "3000000"}, 413, "content_too_large"),  # Django's cap
]


@servers(lazy=False)
@pytest.mark.parametrize(("path", "headers", "status", "code"), EAGER_REJECTIONS)
def test_eager_servers_send_100_first_but_the_refusal_is_precise(
    wire_server: WireServer, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    """Why the adapters exist: here the 100 precedes even a rejection (the body was invited).
    The refusal is still the precise status (never the 500 that PEP 3333-strict servers gave an
    application-set ``Connection: close``)."""
    head = upload_head(len(BODY)) | headers
    with Exchange(wire_server.address) as conn:
        conn.request_head("POST", path, head)
        first = conn.read_response()
        assert first.status == 100  # before any decision (hypercorn sends no reason phrase)
        try:
            conn.send_body(b"x" * int(head["Content-Length"]))  # invited: a client sends it
        except OSError:
            pass
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == status, final.body
        assert final.json()["error"]["code"] == code


@servers(buffers_body=True, lazy=False)
def test_the_whole_refused_body_crosses_before_the_413(wire_server: WireServer) -> None:
    """waitress answers 100 once the head is parsed and buffers the whole body before it calls
    the application; mod_wsgi's daemon mode has the Apache child read the body and pass it to
    the daemon process; Django's own ASGI handler spools it before any middleware. The refusal is
    the precise 413, but the whole upload crossed the wire (counted by the relay)."""
    size = 11_000_000  # over /lab/bigbody's 10 MiB
    with Relay(wire_server.address) as relay:
        with Exchange(relay.address, timeout=30) as conn:
            conn.request_head("PUT", f"/objects/{wire_server.name}-refused", upload_head(size))
            assert conn.read_response().status == 100
            try:
                conn.send_body(b"\0" * size)
            except OSError:
                pass
            _, final = conn.read_final()
            assert final.status == 413
            assert final.json()["error"]["code"] == "content_too_large"
        relay.wait_quiet()
        assert relay.body_bytes() == size
