"""Bytes in, bytes out: runserver's chunked-body decoder, the fuzzer's oracle for servers that
may close (HTTP/1.0 answers, uWSGI's pipelining), and the soak's statistics check."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any, cast

import pytest

from django_expect.runserver import _BoundedReader, _ChunkedBody
from harness import fuzz
from stress import soak


def _body(wire: bytes) -> _ChunkedBody:
    return _ChunkedBody(_BoundedReader(io.BufferedReader(io.BytesIO(wire)), cast(Any, None)))


@pytest.mark.parametrize(
    ("wire", "data"),
    [
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
        (b"5;name=value\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b'5 ;a="b c"\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n', b"hello"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"0\r\n\r\n", b""),
    ],
    ids=["two-chunks", "extension", "trailers", "upper-hex", "empty"],
)
def test_a_chunked_body_decodes(wire: bytes, data: bytes) -> None:
    assert _body(wire).read() == data
    body = _body(wire)
    assert b"".join(iter(lambda: body.read(3), b"")) == data
    body = _body(wire)
    assert b"".join(iter(body.readline, b"")) == data


def test_the_decoder_stops_at_the_end_of_the_body() -> None:
    source = io.BufferedReader(io.BytesIO(b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n"))
    body = _ChunkedBody(_BoundedReader(source, cast(Any, None)))
    assert body.read() == b"abc"
    assert body.read() == b""
    assert source.read() == b"GET / HTTP/1.1\r\n"  # what follows the body is left unread


def test_readline_spans_chunks() -> None:
    body = _body(b"3\r\nab\n\r\n4\r\ncd\nx\r\n0\r\n\r\n")
    assert [body.readline(), body.readline(), body.readline(), body.readline()] == [
        b"ab\n",
        b"cd\n",
        b"x",
        b"",
    ]


@pytest.mark.parametrize(
    "wire",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"-5\r\nhello\r\n0\r\n\r\n",  # a sign
        b"0x5\r\nhello\r\n0\r\n\r\n",  # a prefix
        b"\r\nhello\r\n0\r\n\r\n",  # no size
        b"5\r\nhelloXX0\r\n\r\n",  # no CRLF after the data
        b"5\nhello\r\n0\r\n\r\n",  # a bare LF
        b"5\r\nhel",  # the connection ends inside a chunk
        b"5\r\nhello\r\n",  # ... before the last chunk
        b"5\r\nhello\r\n0\r\nX: 1\r\n",  # ... inside the trailers
        b"1;" + b"x" * 70_000 + b"\r\na\r\n0\r\n\r\n",  # an endless extension
        b"0\r\n" + b"X: 1\r\n" * 101 + b"\r\n",  # too many trailer fields
        b"11111111111111111\r\n",  # 17 hex digits
    ],
)
def test_a_malformed_chunked_body_raises(wire: bytes) -> None:
    with pytest.raises(ValueError):
        _body(wire).read()


def _result(requests: list[bytes], responses: list[fuzz.Parsed], mode: str = "eager") -> Any:
    built = [fuzz.Request(w, False, b"", len(w), True) for w in requests]
    return fuzz.Result(fuzz.Scenario("t:0", built, mode), responses, b"", False)


GET10 = b"GET /lab/small HTTP/1.0\r\nHost: x\r\n\r\n"
GET11 = b"GET /lab/small HTTP/1.1\r\nHost: x\r\n\r\n"
OK = fuzz.Parsed(200, {"content-length": "2"}, b"{}")


def test_an_http10_answer_without_keep_alive_may_close_before_pipelined_requests() -> None:
    assert fuzz.check(_result([GET10, GET11], [OK])) == []
    assert fuzz.check(_result([GET11, GET11], [OK])) != []
    kept = fuzz.Parsed(200, {"content-length": "2", "connection": "keep-alive"}, b"{}")
    assert fuzz.check(_result([GET10, GET11], [kept])) != []


def test_a_server_that_does_not_pipeline_answers_the_first_request_only() -> None:
    profile = fuzz.SERVER_PROFILES["uwsgi-http11-socket"]
    assert fuzz.check(_result([GET11, GET11, GET11], [OK]), profile) == []
    assert fuzz.check(_result([GET11, GET11], []), profile) != []  # the first is still owed
    assert fuzz.check(_result([GET11, GET11], [OK])) != []  # gunicorn pipelines


def test_the_soak_checks_counts_against_the_refusals_seen() -> None:
    totals = Counter({"refused-declared": 3, "refused-chunked": 2, "reset": 2, "get": 9})
    before = Counter({"content_too_large": 10})
    right = Counter({"content_too_large": 15, "incomplete_body": 1})
    assert soak.stats_problems(totals, before, right) == []
    lost = Counter({"content_too_large": 14})
    assert soak.stats_problems(totals, before, lost) == ["content_too_large: 4 counted, 5 expected"]
    extra = Counter({"content_too_large": 15, "incomplete_body": 3})
    assert soak.stats_problems(totals, before, extra) == [
        "incomplete_body: 3 counted, 0..2 expected"
    ]
