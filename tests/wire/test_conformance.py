"""The README's promises, checked on the wire against real gunicorn (sync, gthread, gevent).

Each test speaks raw HTTP/1.1 over a socket so it sees exactly what gunicorn sent: whether a
``100 Continue`` came, when, and whether the connection was closed.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

from harness.raw import Exchange, chunked
from harness.server import Server
from harness.tools import require_module
from tests.conftest import ServerPool
from tests.fakes import upload_head

if TYPE_CHECKING:
    from tests.conftest import ServerPool


BODY = b"0123456789abcdef" * 50  # 800 bytes, under /lab/small's 1000-byte limit
SHA = hashlib.sha256(BODY).hexdigest()


# -- 1. the 100 goes out only after the policy passed, when the body is first read ------------


@pytest.mark.parametrize(
    "path",
    ["/lab/small", "/lab/echo", "/lab/after-checks", "/lab/class", "/lab/method", "/lab/async"],
)
def test_accepted_upload_gets_one_100_then_the_final_status(server: Server, path: str) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", path, upload_head(len(BODY)))
        interim = conn.read_response()
        assert (interim.status, interim.reason) == (100, "Continue")
        conn.send_body(BODY)
        more_interim, final = conn.read_final()
        assert more_interim == []  # never twice
        assert final.status == 200, final.body
        assert final.json()["sha256"] == SHA


def test_no_100_when_the_view_never_reads_the_body(server: Server) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/noread", upload_head(len(BODY)))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()
        assert conn.buffer == b""


def test_no_100_to_http_1_0(server: Server) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(BODY)), version="HTTP/1.0")
        conn.send_body(BODY)
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200
        assert final.json()["sha256"] == SHA


def test_no_100_for_an_empty_body(server: Server) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(0))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200
        assert final.json()["size"] == 0


@pytest.mark.parametrize("worker", ["gthread", "gevent"])  # sync closes every connection
def test_keep_alive_survives_an_accepted_expect_upload(
    server_pool: ServerPool, worker: str
) -> None:
    server = server_pool.get(worker)
    with Exchange(server.address) as conn:
        for _ in range(3):
            conn.request_head("POST", "/lab/small", upload_head(len(BODY)))
            assert conn.read_response().status == 100
            conn.send_body(BODY)
            interim, final = conn.read_final()
            assert interim == []
            assert final.status == 200 and final.json()["sha256"] == SHA
            assert final.header("Connection") != "close"


# -- 2. failures: the precise status, before any body byte -------------------------------------


REJECTIONS = [
    ("/lab/small", {"Content-Length": "5000"}, 413, "content_too_large"),
    ("/objects/too-big", {"Content-Length": str(50 * 10**6)}, 413, "content_too_large"),
    ("/lab/echo", {"Content-Length": str(200 * 2**20)}, 413, "content_too_large"),  # default policy
    ("/lab/types", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("/lab/login", {}, 401, "login_required"),
    ("/api/uploads", {"Authorization": "Token wrong"}, 401, "login_required"),
    ("/lab/permission", {"Authorization": "Token plain-token"}, 403, "permission_denied"),
    ("/lab/refuse", {}, 417, "expectation_failed"),
]


@pytest.mark.parametrize(("path", "headers", "status", "code"), REJECTIONS)
def test_policy_failures_are_answered_before_the_body(
    server: Server, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    head = upload_head(len(BODY))
    head.update(headers)
    with Exchange(server.address) as conn:
        conn.request_head("POST", path, head)
        interim, final = conn.read_final()  # the body was never sent
        assert interim == []
        assert final.status == status
        assert final.header("Connection") == "close"
        assert final.json()["error"]["code"] == code
        assert conn.closed_by_server()


def test_the_views_own_check_answers(server: Server) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/check", upload_head(len(BODY)))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 409
        assert final.header("Connection") == "close"
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/check", upload_head(len(BODY), X_Upload_Ticket="valid"))
        assert conn.read_response().status == 100
        conn.send_body(BODY)
        assert conn.read_final()[1].status == 200


def test_an_unknown_expectation_gets_417(server: Server) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(BODY)) | {"Expect": "magic"})
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 417


def test_authorised_uploads_pass(server: Server) -> None:
    for path, token in (
        ("/lab/login", "plain-token"),
        ("/lab/permission", "demo-token"),
        ("/api/uploads", "demo-token"),
    ):
        with Exchange(server.address) as conn:
            conn.request_head("POST", path, upload_head(len(BODY), Authorization=f"Token {token}"))
            assert conn.read_response().status == 100
            conn.send_body(BODY)
            final = conn.read_final()[1]
            assert final.status == 200, (path, final.body)


# -- 3. a rejected body is never parsed as the next request ---------------------------------


def test_a_client_that_sends_the_body_anyway_reads_the_response_and_nothing_more(
    server: Server,
) -> None:
    smuggled = b"GET /lab/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    body = smuggled + b"x" * (5000 - len(smuggled))
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(len(body), expect=False))
        conn.send_body(body)
        _, final = conn.read_final()
        assert final.status == 413
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()
        assert conn.buffer == b""  # no second response: the body was not parsed as a request


# -- 4. bodies of undeclared length ------------------------------------------------------------


def test_a_chunked_body_is_read_whole(server: Server) -> None:
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


def test_a_chunked_body_past_the_limit_gets_413_and_a_close(server: Server) -> None:
    data = b"z" * 150_000
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/body", {"Transfer-Encoding": "chunked"})
        conn.send_body(chunked(data))
        final = conn.read_final()[1]
        assert final.status == 413
        assert final.json()["error"]["limit"] == 100_000
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


# -- 5. the limit holds without Expect ---------------------------------------------------------


def test_declared_length_over_the_limit_without_expect_is_refused_unread(server: Server) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("PUT", "/objects/k", upload_head(11 * 2**20, expect=False))
        interim, final = conn.read_final()  # only the head was sent
        assert interim == []
        assert final.status == 413
        assert conn.closed_by_server()


# -- 7. without the hook: still enforced, one warning; stock gunicorn shows the problem -----------


def test_without_the_hook_the_policy_still_holds_and_one_warning_is_logged(
    server_pool: ServerPool,
) -> None:
    stock = server_pool.get("gthread", hook=False)
    for _ in range(2):
        with Exchange(stock.address) as conn:
            conn.request_head("POST", "/lab/small", upload_head(5000, expect=False))
            _, final = conn.read_final()  # the body was never sent: decided from the head
            assert final.status == 413
    assert stock.log().count("100-continue coordination is inactive") == 1


@pytest.mark.parametrize("worker", ["sync", "gthread", "gevent"])
def test_stock_gunicorn_invites_the_body_before_django_runs(
    server_pool: ServerPool, worker: str
) -> None:
    """Why the hook exists: without it, the 100 precedes even a rejection."""
    stock = server_pool.get(worker, hook=False)
    with Exchange(stock.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(5000))
        interim, final = conn.read_final()
        assert [r.status for r in interim] == [100]
        assert final.status == 413


# -- Django REST framework views: their own header authenticators count --------------------------


def test_drf_view_refuses_anonymous_uploads_before_the_body(server: Server) -> None:
    require_module("rest_framework", "djangorestframework")
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/drf", upload_head(len(BODY)))
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 401
        assert conn.closed_by_server()
    basic = "Basic " + __import__("base64").b64encode(b"demo:demo").decode()
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/drf", upload_head(len(BODY), Authorization=basic))
        assert conn.read_response().status == 100
        conn.send_body(BODY)
        final = conn.read_final()[1]
        assert final.status == 200, final.body
        assert final.json() == {"size": len(BODY), "sha256": SHA, "user": "demo"}


def test_a_body_left_unread_without_expect_closes_the_connection(server: Server) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/noread", upload_head(len(BODY), expect=False))
        conn.send_body(BODY)
        _, final = conn.read_final()
        assert final.status == 200
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()
        assert conn.buffer == b""


def test_a_chunked_body_left_unread_closes_the_connection(server: Server) -> None:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/noread", {"Transfer-Encoding": "chunked"})
        conn.send_body(chunked(BODY))
        _, final = conn.read_final()
        assert final.status == 200
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()
        assert conn.buffer == b""
