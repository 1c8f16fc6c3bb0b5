"""django_expect.asgi on real ASGI servers, checked on the wire with a raw socket.

The lazy servers (uvicorn with h11 and with httptools, gunicorn's ``-k asgi`` worker, granian)
send ``100 Continue`` on the application's first ``receive()``: with django-expect's handler the
policy decides before that, so a rejection crosses no body byte, and an accepted upload gets one
100. The eager servers (hypercorn, daphne) send the 100 before the application runs: the tests
show it. A control runs Django's own handler on uvicorn, where the 100 precedes every rejection.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from pathlib import Path

import pytest

from harness.asgi_servers import EAGER, LAZY, STOCK_APP, ASGIServer, ASGIServerPool
from harness.raw import ConnectionClosed, Exchange, chunked
from harness.tools import poll
from tests.fakes import upload_head

BODY = b"0123456789abcdef" * 50  # 800 bytes, under /lab/small's 1000-byte limit
SHA = hashlib.sha256(BODY).hexdigest()
BASIC = "Basic " + base64.b64encode(b"demo:demo").decode()


@pytest.fixture(params=LAZY)
def server(request: pytest.FixtureRequest, asgi_pool: ASGIServerPool) -> ASGIServer:
    """A lazy ASGI server running the test project's asgi.py (django_expect.asgi)."""
    return asgi_pool.get(request.param)


# -- accepted uploads: one 100, after the policy passed ------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/lab/small", {}),
        ("/lab/echo", {}),
        ("/lab/after-checks", {}),
        ("/lab/class", {}),
        ("/lab/method", {}),
        ("/lab/async", {}),
        ("/lab/check", {"X-Upload-Ticket": "valid"}),
        ("/lab/login", {"Authorization": "Token plain-token"}),
        ("/api/uploads", {"Authorization": "Token demo-token"}),
        ("/lab/drf", {"Authorization": BASIC}),
    ],
)
def test_accepted_upload_gets_one_100_then_the_final_status(
    server: ASGIServer, path: str, headers: dict[str, str]
) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", path, upload_head(len(BODY), **headers))
        interim = conn.read_response()
        assert (interim.status, interim.reason) == (100, "Continue")
        conn.send_body(BODY)
        more_interim, final = conn.read_final()
        assert more_interim == []  # never twice
        assert final.status == 200, final.body
        assert final.json()["sha256"] == SHA


def test_keep_alive_survives_accepted_expect_uploads(server: ASGIServer) -> None:
    with Exchange(server.address) as conn:
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


def test_no_100_for_an_empty_body(server: ASGIServer) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(0))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200
        assert final.json()["size"] == 0


def test_http_1_0_expect_is_ignored(server: ASGIServer) -> None:
    """No 100 to HTTP/1.0 -- except uvicorn's httptools protocol, which sends one (a server bug
    no application can avoid, docs/howto/asgi.md); the policy decides as for any 1.0 request."""
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/refuse", upload_head(len(BODY)), version="HTTP/1.0")
        conn.send_body(BODY)
        interim, final = conn.read_final()
        expected = [100] if server.kind == "uvicorn-httptools" else []
        assert [r.status for r in interim] == expected
        assert final.status == 200  # expect="refuse" does not apply: 1.0 Expect is ignored
        assert final.json()["sha256"] == SHA


def test_no_100_when_the_view_never_reads_the_body(server: ASGIServer) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/noread", upload_head(len(BODY)))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()
        assert conn.buffer == b""


# -- rejections: the precise status, before any body byte, and a close ---------------------------

REJECTIONS = [
    ("/lab/small", {"Content-Length": "5000"}, 413, "content_too_large"),
    ("/objects/too-big", {"Content-Length": str(50 * 10**6)}, 413, "content_too_large"),
    ("/lab/echo", {"Content-Length": str(200 * 2**20)}, 413, "content_too_large"),
    ("/lab/types", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("/lab/login", {}, 401, "login_required"),
    ("/api/uploads", {"Authorization": "Token wrong"}, 401, "login_required"),
    ("/lab/permission", {"Authorization": "Token plain-token"}, 403, "permission_denied"),
    ("/lab/refuse", {}, 417, "expectation_failed"),
    ("/lab/drf", {}, 401, "login_required"),
]


@pytest.mark.parametrize(("path", "headers", "status", "code"), REJECTIONS)
def test_policy_failures_are_answered_before_the_body(
    server: ASGIServer, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    head = upload_head(len(BODY))
    head.update(headers)
    with Exchange(server.address) as conn:
        conn.request_head("POST", path, head)
        interim, final = conn.read_final()  # the body is never sent
        assert interim == []
        assert final.status == status
        assert final.header("Connection") == "close"
        assert final.json()["error"]["code"] == code
        assert conn.closed_by_server()


def test_the_views_own_check_answers_before_the_body(server: ASGIServer) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/check", upload_head(len(BODY)))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 409
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


def test_an_unknown_expectation_gets_417(server: ASGIServer) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(BODY)) | {"Expect": "magic"})
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 417
        assert conn.closed_by_server()


def test_a_rejected_body_sent_anyway_is_never_parsed_as_a_request(server: ASGIServer) -> None:
    smuggled = b"GET /lab/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    body = smuggled + b"x" * (5000 - len(smuggled))
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(body), expect=False))
        try:
            conn.send_body(body)
        except OSError:
            pass  # the server may already have closed
        _, final = conn.read_final()
        assert final.status == 413
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()
        assert conn.buffer == b""  # no second response


def test_rejections_are_logged_with_their_route(server: ASGIServer) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/types", upload_head(10, Content_Type="text/csv"))
        assert conn.read_final()[1].status == 415
    assert "route=lab-types reason=unsupported_media_type status=415" in server.log()


# -- bodies of undeclared length, stalls, short bodies ---------------------------------------------


def test_a_chunked_body_is_read_whole(server: ASGIServer) -> None:
    data = bytes(range(256)) * 200  # 51,200 bytes, under /lab/body's 100,000
    with Exchange(server.address) as conn:
        conn.request_head(
            "POST", "/lab/body", {"Transfer-Encoding": "chunked", "Expect": "100-continue"}
        )
        assert conn.read_response().status == 100
        conn.send_body(chunked(data))
        final = conn.read_final()[1]
        assert final.status == 200
        assert final.json() == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_a_chunked_body_past_the_limit_gets_413_and_a_close(server: ASGIServer) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/body", {"Transfer-Encoding": "chunked"})
        try:
            conn.send_body(chunked(b"z" * 150_000))
        except OSError:
            pass
        final = conn.read_final()[1]
        assert final.status == 413
        assert final.json()["error"]["limit"] == 100_000
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


def test_a_stalled_body_gets_408_while_the_view_reads(server: ASGIServer) -> None:
    """The view runs while the body is still arriving (Django's handler would still be spooling
    it): /lab/timeout's body_timeout of 1 s answers 408 when the body stops."""
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/timeout", upload_head(len(BODY)))
        assert conn.read_response().status == 100
        conn.send_body(BODY[:100])
        _, final = conn.read_final()
        assert final.status == 408
        assert final.json()["error"]["code"] == "body_timeout"
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


def test_a_body_cut_short_by_a_disconnect_does_not_hang_the_server(server: ASGIServer) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/echo", upload_head(len(BODY)))
        assert conn.read_response().status == 100
        conn.send_body(BODY[:100])
        conn.sock.shutdown(socket.SHUT_WR)
        try:
            _, final = conn.read_final()
        except (ConnectionClosed, ConnectionResetError):
            pass  # the server dropped the connection (uvicorn, gunicorn): nothing to answer
        else:
            assert final.status == 400
            assert final.json()["error"]["code"] == "incomplete_body"
        assert conn.closed_by_server()
    with Exchange(server.address) as conn:  # and it still serves
        conn.request_head("POST", "/lab/small", upload_head(len(BODY), expect=False))
        conn.send_body(BODY)
        assert conn.read_final()[1].json()["sha256"] == SHA


def test_a_body_left_unread_without_expect_closes_the_connection(server: ASGIServer) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/noread", upload_head(len(BODY), expect=False))
        conn.send_body(BODY)
        _, final = conn.read_final()
        assert final.status == 200
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()
        assert conn.buffer == b""


def test_a_large_accepted_upload_streams_through_the_view(server: ASGIServer) -> None:
    data = bytes(range(256)) * (4 * 4096)  # 4 MiB, under /objects' 10 MiB
    with Exchange(server.address) as conn:
        conn.request_head("PUT", f"/objects/asgi-stream-{server.kind}", upload_head(len(data)))
        assert conn.read_response().status == 100
        conn.send_body(data)
        _, final = conn.read_final()
        assert final.status == 200, server.log()[-3000:]
        assert final.header("ETag") == f'"{hashlib.md5(data).hexdigest()}"'


MiB = 2**20


def _partial_object(server: ASGIServer, key: str) -> Path:
    """Where /objects/<key> writes what it has read of a PUT so far (demo/views.py)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Path(server.env["TEST_MEDIA_ROOT"]) / "objects" / f"{digest}.part"


def _written(partial: Path) -> int | None:
    """Bytes the view has written to ``partial``, once it is at least the view's first 1 MiB."""
    try:
        size = partial.stat().st_size
    except FileNotFoundError:
        return None
    return size if size >= MiB else None


def _put_in_two_halves(server: ASGIServer, key: str, wait: float) -> int | None:
    """PUT 6 MiB to /objects/<key>, stopping after 3 MiB until the view has written its first
    MiB (polled for at most ``wait`` s); return what it had written then (None: nothing)."""
    data = bytes(range(256)) * (6 * MiB // 256)
    partial = _partial_object(server, key)
    with Exchange(server.address, timeout=30) as conn:
        conn.request_head("PUT", f"/objects/{key}", upload_head(len(data)))
        assert conn.read_response().status == 100
        conn.send_body(data[: 3 * MiB])
        written = poll(lambda: _written(partial), timeout=wait, interval=0.02)
        conn.send_body(data[3 * MiB :])
        _, final = conn.read_final()
        assert final.status == 200, server.log()[-3000:]
        assert final.header("ETag") == f'"{hashlib.md5(data).hexdigest()}"'
    return written


def test_the_view_reads_the_body_while_the_client_still_sends_it(
    server: ASGIServer, asgi_pool: ASGIServerPool
) -> None:
    """Not spooled first: /objects/<key> writes each MiB it reads to a .part file; with half of
    the body still held back by the client, the view has already read and written its first MiB
    (the poll's bound only detects a hang). Control: under Django's own handler on uvicorn the
    view runs only once the whole body was received, so nothing is written while half of it is
    held back (here for a bounded 3 s) -- and the same upload then completes."""
    written = _put_in_two_halves(server, f"asgi-halves-{server.kind}", wait=30)
    assert written is not None and MiB <= written <= 3 * MiB
    stock = asgi_pool.get("uvicorn-h11", STOCK_APP)
    assert _put_in_two_halves(stock, "asgi-halves-stock", wait=3) is None


# -- the eager servers, and the control --------------------------------------------------------


@pytest.mark.parametrize("kind", EAGER)
def test_eager_servers_invite_the_body_before_the_application_runs(
    asgi_pool: ASGIServerPool, kind: str
) -> None:
    """hypercorn and daphne send the 100 before the application is called: django-expect still
    answers the precise status, but the client was already invited to send the body."""
    server = asgi_pool.get(kind)
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(5000))
        first = conn.read_response()
        assert first.status == 100  # before any decision
        try:
            conn.send_body(b"x" * 5000)  # daphne reads the whole body before the app runs
        except OSError:
            pass
        _, final = conn.read_final()
        assert final.status == 413


def test_control_djangos_own_handler_invites_every_body(asgi_pool: ASGIServerPool) -> None:
    """Why django_expect.asgi exists: under django.core.asgi the 100 precedes the rejection."""
    stock = asgi_pool.get("uvicorn-h11", STOCK_APP)
    with Exchange(stock.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(5000))
        assert conn.read_response().status == 100
        conn.send_body(b"x" * 5000)  # Django's read_body waits for all of it
        _, final = conn.read_final()
        assert final.status == 413


def test_sync_middleware_reads_the_body_after_the_policy(server: ASGIServer) -> None:
    """CsrfViewMiddleware (sync, after ExpectMiddleware) reads request.POST in process_view: a
    multipart form is invited only once the policy passed, read from the middleware's thread,
    checked for its CSRF token and handed to the view; a form of the wrong type gets no 100."""
    boundary = "expectboundary"
    token = "a" * 32  # an unmasked CSRF secret, sent as cookie and as form field
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f'{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n'
        f"hello\r\n--{boundary}--\r\n"
    ).encode()
    multipart = f"multipart/form-data; boundary={boundary}"
    with Exchange(server.address) as conn:
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
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/upload/form", upload_head(len(form), Content_Type="text/plain"))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 415
