"""Faults on the wire: stalled bodies, lying lengths, clients that disconnect.

Every test drives real gunicorn workers (sync, gthread, gevent) over 127.0.0.1. A sleep here only
*creates* a stall; assertions are on statuses, bytes, closes, worker PIDs and open descriptors.
/lab/timeout and /lab/swallow have ``body_timeout=1``.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
from collections.abc import Iterator

import pytest

from harness.fds import (
    descriptors_of,
    fd_count,
    file_count,
    quiescent_fds,
    quiescent_files,
    quiescent_sockets,
)
from harness.process import error_lines
from harness.raw import ConnectionClosed, Exchange, chunked
from harness.server import Server
from tests.fakes import upload_head

BODY = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def guarded(server: Server) -> Iterator[Server]:
    """The server, checked afterwards: same workers, no socket or file left open, no error
    logged."""
    pids = server.worker_pids()
    log_start = len(server.log())
    baseline = quiescent_sockets(server)
    files = file_count(server)
    yield server
    assert server.worker_pids() == pids, "a worker died or was replaced"
    assert quiescent_sockets(server) <= baseline, "a client socket was left open"
    assert quiescent_files(server, files) <= files, descriptors_of(server)
    new_log = server.log()[log_start:]
    assert error_lines(new_log) == [], new_log


# -- stalled bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/lab/timeout", "/lab/swallow"])
def test_a_body_that_never_starts_after_the_100_gets_408(guarded: Server, path: str) -> None:
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", path, upload_head(len(BODY)))
        assert conn.read_response().status == 100
        # The client never sends the body. 10 s only bounds a hang (the view's timeout is 1 s);
        # that the timeout is idle time, not total time, is the trickle test below.
        interim, final = conn.read_final(timeout=10)
        assert interim == []
        assert final.status == 408
        assert final.json()["error"]["code"] == "body_timeout"
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


@pytest.mark.parametrize("expect", [True, False])
def test_a_body_that_stops_halfway_gets_408(guarded: Server, expect: bool) -> None:
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/timeout", upload_head(len(BODY), expect=expect))
        if expect:
            assert conn.read_response().status == 100
        conn.send_body(BODY[:5000])  # ... and then nothing
        _, final = conn.read_final(timeout=10)
        assert final.status == 408
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


def test_a_trickle_slower_than_the_timeout_gets_408(guarded: Server) -> None:
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/timeout", upload_head(None))
        assert conn.read_response().status == 100
        conn.send(b"400\r\n" + b"x" * 100)
        time.sleep(1.5)  # creates the stall; the server's timeout is 1 s
        with contextlib.suppress(OSError):  # the server may already have closed its side
            conn.send(b"y" * 100)
        _, final = conn.read_final(timeout=10)
        assert final.status == 408
        assert conn.closed_by_server()


def test_a_trickle_just_under_the_timeout_keeps_the_connection(guarded: Server) -> None:
    """An idle timeout, like nginx's client_body_timeout: pieces 0.3 s apart for 8 pieces (2.4 s
    in all, past the 1 s body_timeout) are one whole upload; then the connection serves again."""
    pieces = [BODY[i : i + len(BODY) // 8] for i in range(0, len(BODY), len(BODY) // 8)]
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/timeout", upload_head(len(BODY)))
        assert conn.read_response().status == 100
        for piece in pieces:
            time.sleep(0.3)  # creates the trickle; the server's timeout is 1 s
            conn.send_body(piece)
        _, final = conn.read_final(timeout=10)
        assert final.status == 200
        assert final.json() == {"size": len(BODY), "sha256": hashlib.sha256(BODY).hexdigest()}
        if guarded.worker != "sync":  # sync closes every connection by design
            conn.request_head("POST", "/lab/timeout", upload_head(800))
            assert conn.read_response().status == 100
            conn.send_body(BODY[:800])
            assert conn.read_final()[1].status == 200


def test_the_view_sees_unreadable_post_error_caused_by_body_timeout(guarded: Server) -> None:
    """/lab/swallow catches the read error and logs what it caught (tests/settings.py LOGGING)."""
    log_start = len(guarded.log())
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/swallow", upload_head(len(BODY)))
        assert conn.read_response().status == 100
        conn.send_body(BODY[:1000])  # ... and then nothing
        _, final = conn.read_final(timeout=10)  # hang bound; the view's timeout is 1 s
        assert final.status == 408  # the middleware still answers: no partial body passes
    log = guarded.log()[log_start:]
    assert "lab/swallow caught UnreadablePostError caused by BodyTimeout" in log, log[-2000:]


def test_a_stalled_chunked_body_gets_408(guarded: Server) -> None:
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/timeout", upload_head(None, expect=False))
        conn.send(b"10\r\n0123456789abcdef\r\n")  # one chunk, then silence
        _, final = conn.read_final(timeout=10)
        assert final.status == 408
        assert conn.closed_by_server()


def test_the_worker_serves_others_after_a_timeout(guarded: Server) -> None:
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/timeout", upload_head(len(BODY)))
        assert conn.read_response().status == 100
        assert conn.read_final(timeout=10)[1].status == 408
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/timeout", upload_head(len(BODY)))
        assert conn.read_response().status == 100
        conn.send_body(BODY)
        final = conn.read_final()[1]
        assert final.status == 200
        assert final.json()["sha256"] == hashlib.sha256(BODY).hexdigest()


# -- lying lengths -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/lab/timeout", "/lab/swallow", "/lab/echo"])
def test_a_body_shorter_than_its_length_never_passes_for_a_whole_one(
    guarded: Server, path: str
) -> None:
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", path, upload_head(len(BODY)))
        assert conn.read_response().status == 100
        conn.send_body(BODY[:3000])
        conn.sock.shutdown(socket.SHUT_WR)  # the client is done sending, and still listening
        _, final = conn.read_final(timeout=10)
        assert final.status == 400
        assert final.json()["error"]["code"] == "incomplete_body"
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


def test_a_truncated_chunked_body_is_incomplete(guarded: Server) -> None:
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/body", upload_head(None, expect=False))
        conn.send(chunked(b"a" * 5000)[:-5])  # no last chunk
        conn.sock.shutdown(socket.SHUT_WR)
        _, final = conn.read_final(timeout=10)
        assert final.status == 400
        assert final.json()["error"]["code"] == "incomplete_body"


@pytest.mark.parametrize("cut", [b"1a\r\nabc", b"1", b"1a\r\n" + b"z" * 26 + b"\r", b"zz\r\n"])
def test_a_chunked_body_cut_or_malformed_mid_chunk_is_400_not_500(
    guarded: Server, cut: bytes
) -> None:
    """Found by the fuzzer (seed 2026:28429): gunicorn's InvalidChunkSize is no OSError."""
    with Exchange(guarded.address) as conn:
        conn.request_head("PATCH", "/lab/small", upload_head(None))
        assert conn.read_response().status == 100
        conn.send(cut)
        conn.sock.shutdown(socket.SHUT_WR)
        _, final = conn.read_final(timeout=10)
        assert final.status == 400
        assert final.json()["error"]["code"] == "incomplete_body"
        assert final.header("Connection") == "close"


def test_bytes_past_the_declared_length_never_join_the_upload(guarded: Server) -> None:
    extra = b"garbage that is not a request\r\n\r\n"
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(800, expect=False))
        conn.send_body(BODY[:800] + extra)
        final = conn.read_final()[1]
        assert final.status == 200
        assert final.json() == {"size": 800, "sha256": hashlib.sha256(BODY[:800]).hexdigest()}
        # The extra bytes are read as the next request (they can be nothing else): gunicorn
        # answers them 400 and closes, or the sync worker closes without reading them.
        try:
            more = conn.read_response(timeout=5)
        except ConnectionClosed:
            more = None
        if more is not None:
            assert more.status == 400
        assert conn.closed_by_server()


def test_bytes_past_a_rejected_length_get_no_response(guarded: Server) -> None:
    smuggled = b"GET /lab/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(5000))
        _, final = conn.read_final()
        assert final.status == 413
        conn.send(b"x" * 5000 + smuggled)  # the body anyway, and a request behind it
        assert conn.closed_by_server()
        assert conn.buffer == b""


# -- clients that disconnect ---------------------------------------------------------------------


def _abort(conn: Exchange) -> None:
    """Close with a reset (SO_LINGER 0), the most abrupt way a client can leave."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize(
    "when", ["before-100", "before-eager-100", "after-100", "mid-body", "after-rejection"]
)
def test_client_disconnects_leave_nothing_behind(guarded: Server, when: str, how: str) -> None:
    # before-eager-100: /lab/after-checks sends its 100 from the middleware, before the view runs;
    # a client gone by then made that send raise into Django (a logged 500, found by the fuzzer
    # once Django's errors reached the log). Repeated so some resets land before the send.
    for _ in range(20 if when == "before-eager-100" else 3):
        conn = Exchange(guarded.address)
        if when == "after-rejection":
            conn.request_head("POST", "/lab/small", upload_head(50_000))
            conn.read_final()
        elif when == "before-eager-100":
            conn.request_head("POST", "/lab/after-checks", upload_head(len(BODY)))
        else:
            conn.request_head("POST", "/lab/timeout", upload_head(len(BODY)))
            if when not in ("before-100", "before-eager-100"):
                assert conn.read_response().status == 100
            if when == "mid-body":
                conn.send_body(BODY[:4000])
        if how == "reset":
            _abort(conn)
        else:
            conn.close()
    # the worker is free: the next upload is served at once
    with Exchange(guarded.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(800))
        assert conn.read_response().status == 100
        conn.send_body(BODY[:800])
        assert conn.read_final()[1].status == 200


def test_many_aborted_uploads_leak_no_descriptor(guarded: Server) -> None:
    """Every descriptor (sockets, upload files, pipes) returns to its count before the aborts."""

    def abort_uploads(count: int) -> None:
        for i in range(count):
            conn = Exchange(guarded.address)
            expect = i % 2 == 0
            head = upload_head(len(BODY), expect=expect)
            conn.request_head("PUT", f"/objects/abort-{i % 3}", head)
            conn.send_body(BODY[: 1000 * (i % 7)])
            _abort(conn)

    abort_uploads(6)  # warm-up: gevent opens its resolver pipes lazily, on a first burst
    idle_sockets = len(guarded.worker_pids())
    assert quiescent_sockets(guarded) == idle_sockets
    before = quiescent_fds(guarded, fd_count(guarded))
    abort_uploads(60)
    assert quiescent_sockets(guarded) == idle_sockets, "a client socket was left open"
    assert quiescent_fds(guarded, before) == before, descriptors_of(guarded)
