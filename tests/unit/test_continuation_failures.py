"""How ``ExpectContinueInput`` fails, without a server: every failure is remembered, closes the
connection and is raised again on the next read; a short body is never a whole one; a timeout is
the rate's only when the rate bounded the receive; the server's drain after the response never
raises."""

from __future__ import annotations

import io
from typing import Any

import pytest

from django_expect.continuation import (
    BodyNotRequested,
    BodyTimeout,
    BodyTooSlow,
    ExpectContinueInput,
    IncompleteBody,
    TimeLimits,
)


class _Stream:
    """A server body stream that returns ``chunks`` in turn, raising those that are errors."""

    def __init__(self, *chunks: bytes | BaseException) -> None:
        self.chunks = list(chunks)

    def _next(self) -> bytes:
        chunk = self.chunks.pop(0) if self.chunks else b""
        if isinstance(chunk, BaseException):
            raise chunk
        return chunk

    def read(self, size: int | None = -1, /) -> bytes:
        return self._next()

    def readline(self, size: int | None = -1, /) -> bytes:
        return self._next()


def _input(stream: Any, length: int | None = 10, **kwargs: Any) -> ExpectContinueInput:
    wire: list[str] = []
    body = ExpectContinueInput(
        stream,
        awaiting=kwargs.pop("awaiting", False),
        send_continue=kwargs.pop("send_continue", lambda: wire.append("100")),
        close_connection=lambda: wire.append("close"),
        length=length,
        **kwargs,
    )
    body.wire = wire  # type: ignore[attr-defined]
    return body


def test_a_100_that_cannot_be_sent_in_time_is_a_body_timeout() -> None:
    def stalled() -> None:
        raise TimeoutError("send timed out")

    body = _input(io.BytesIO(b"x" * 10), awaiting=True, send_continue=stalled)
    body.apply_time_limits(TimeLimits(body_timeout=2.0))
    with pytest.raises(BodyTimeout, match=r"could not be sent for 2\.0 seconds") as raised:
        body.read()
    assert isinstance(raised.value.__cause__, TimeoutError)
    assert body.failure is raised.value and body.wire == ["close"]  # type: ignore[attr-defined]


def test_a_failure_is_raised_again_on_every_later_read() -> None:
    body = _input(_Stream(ConnectionResetError("reset")))
    with pytest.raises(IncompleteBody, match="incomplete or malformed") as first:
        body.read(5)
    with pytest.raises(IncompleteBody) as again:
        body.read(5)
    assert again.value is first.value
    assert isinstance(first.value.__cause__, ConnectionResetError)
    assert body.failed and body.closing


def test_a_body_shorter_than_declared_is_incomplete() -> None:
    body = _input(_Stream(b"abc", b""), length=10)
    with pytest.raises(IncompleteBody, match="ended after 3 of 10 declared bytes"):
        body.read(10)
    assert body.wire == ["close"]  # type: ignore[attr-defined]


def test_a_line_may_end_before_the_size_asked_for() -> None:
    body = _input(_Stream(b"ab\n", b"cdefghi"), length=10)
    assert body.readline(10) == b"ab\n"
    assert body.read(7) == b"cdefghi"
    assert body.bytes_read == 10 and body.failure is None
    assert body.readline(0) == b"" and body.read(0) == b""


def test_an_idle_timeout_is_a_body_timeout_when_no_rate_bounded_the_receive() -> None:
    body = _input(_Stream(TimeoutError("timed out")))
    body.apply_time_limits(TimeLimits(body_timeout=1.5))
    with pytest.raises(BodyTimeout, match=r"no body byte arrived for 1\.5 seconds") as raised:
        body.read(5)
    assert not isinstance(raised.value, BodyTooSlow)


def test_a_timeout_under_the_rate_bound_is_body_too_slow() -> None:
    now = [10.0]
    body = _input(_Stream(b"x", TimeoutError("timed out")))
    body.clock = lambda: now[0]
    body.apply_time_limits(TimeLimits(body_timeout=30.0, min_rate=100.0, min_rate_grace=1.0))
    assert body.read(1) == b"x"
    now[0] += 0.5  # within the grace: the bound is the rate's 0.51 s, shorter than 30 s
    with pytest.raises(BodyTooSlow, match="slower than 100 bytes per second"):
        body.read(5)


def test_a_timeout_under_the_idle_bound_is_the_rate_only_if_its_time_is_up() -> None:
    now = [10.0]
    body = _input(_Stream(b"x", TimeoutError("timed out")))
    body.clock = lambda: now[0]
    # The idle timeout (1 s) is shorter than what the rate leaves (5 s grace): idleness.
    body.apply_time_limits(TimeLimits(body_timeout=1.0, min_rate=100.0, min_rate_grace=5.0))
    body.read(1)
    now[0] += 1.0
    with pytest.raises(BodyTimeout) as raised:
        body.read(5)
    assert not isinstance(raised.value, BodyTooSlow)


def test_counts_from_below_the_input_feed_the_rate() -> None:
    body = _input(io.BytesIO(b"x" * 10))
    body.note_received(4)
    body.note_received(3)
    assert body.bytes_received() == 7  # received by the adapter, not yet read by the app
    body.read(2)
    assert body.bytes_received() == 7
    body.read(8)
    assert body.bytes_received() == 10


def test_the_servers_drain_after_the_response_ends_at_a_failure_instead_of_raising() -> None:
    body = _input(_Stream(b"abc", ConnectionResetError("gone")))
    body.seal()
    assert body.read(3) == b"abc"
    assert body.read(7) == b""  # the drain ends: EOF, the connection closes
    assert isinstance(body.failure, IncompleteBody) and body.closing


def test_a_withheld_body_is_not_read() -> None:
    body = _input(io.BytesIO(b"x" * 10), awaiting=True)
    body.withhold()
    with pytest.raises(BodyNotRequested):
        body.read()
    assert body.wire == ["close"]  # type: ignore[attr-defined]
