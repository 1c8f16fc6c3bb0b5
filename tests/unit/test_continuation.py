"""ExpectContinueInput's state machine and CappedStream, with in-memory streams.

On-the-wire behaviour is covered by tests/wire/test_conformance.py; here each transition is
pinned down.
"""

from __future__ import annotations

import io

import pytest

from django_expect.continuation import BodyNotRequested, ContinueState, ExpectContinueInput
from django_expect.streams import CappedStream, UploadTooLarge


class Wire:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def make(self, body: bytes = b"hello\nworld\n", awaiting: bool = True) -> ExpectContinueInput:
        return ExpectContinueInput(
            io.BytesIO(body),
            awaiting=awaiting,
            send_continue=lambda: self.sent.append("100"),
            close_connection=lambda: self.sent.append("close"),
        )


def test_first_read_sends_one_100() -> None:
    wire = Wire()
    stream = wire.make()
    assert stream.state is ContinueState.AWAITING and stream.awaiting_continue
    assert stream.read(0) == b""  # a zero-size read invites nothing
    assert wire.sent == []
    assert stream.read(5) == b"hello"
    assert stream.readline() == b"\n"
    assert list(stream) == [b"world\n"]
    assert wire.sent == ["100"]
    assert stream.state is ContinueState.SENT
    assert stream.bytes_read == 12


def test_send_continue_is_idempotent_and_sealed_after_the_response() -> None:
    wire = Wire()
    stream = wire.make()
    assert stream.send_continue() is True
    assert stream.send_continue() is False
    stream.seal()
    assert wire.sent == ["100"]
    assert not stream.failed  # the body was invited: the server may drain it and keep alive


def test_seal_withholds_and_closes_when_the_body_was_never_invited() -> None:
    wire = Wire()
    stream = wire.make()
    stream.seal()
    assert stream.state is ContinueState.WITHHELD
    assert stream.send_continue() is False
    assert wire.sent == ["close"]
    assert stream.failed
    with pytest.raises(BodyNotRequested):
        stream.read()


def test_withhold_after_the_100_still_closes() -> None:
    wire = Wire()
    stream = wire.make()
    stream.read(1)
    stream.withhold()
    assert stream.state is ContinueState.SENT
    assert wire.sent == ["100", "close"]
    stream.withhold()
    assert wire.sent == ["100", "close"]  # close is requested once


def test_not_expected_passes_through() -> None:
    wire = Wire()
    stream = wire.make(awaiting=False)
    assert stream.read() == b"hello\nworld\n"
    assert stream.readlines() == []
    stream.seal()
    assert wire.sent == []
    assert not stream.failed


def test_readlines_with_hint() -> None:
    stream = Wire().make(b"a\nb\nc\n")
    assert stream.readlines(2) == [b"a\n"]
    assert stream.readlines() == [b"b\n", b"c\n"]


# -- CappedStream -------------------------------------------------------------------------------


def capped(data: bytes, limit: int | None) -> tuple[CappedStream, list[str]]:
    events: list[str] = []
    return CappedStream(io.BytesIO(data), limit, lambda: events.append("overflow")), events


@pytest.mark.parametrize("limit", [None, 10, 11])
def test_capped_stream_reads_to_eof_within_the_limit(limit: int | None) -> None:
    stream, events = capped(b"0123456789", limit)
    assert stream.read() == b"0123456789"
    assert stream.read() == b""
    assert events == []


def test_capped_stream_raises_past_the_limit() -> None:
    stream, events = capped(b"0123456789", 9)
    with pytest.raises(UploadTooLarge):
        stream.read()
    assert events == ["overflow"]
    assert stream.read(5) == b""  # nothing more after an overflow


def test_capped_stream_sized_reads_and_lines() -> None:
    stream, _ = capped(b"ab\ncd\nef", None)
    assert stream.read(1) == b"a"
    assert stream.readline() == b"b\n"
    assert stream.readline(1) == b"c"
    assert stream.readline() == b"d\n"
    assert stream.read(100) == b"ef"
    assert stream.readline() == b""
