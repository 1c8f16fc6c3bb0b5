"""django_expect.framing: the one parser of a head's body framing (RFC 9112 §6.3) and of
``Expect``, which the core and every adapter use; tables for the edges, properties over the rest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_expect.core import ContinueTiming, Reason, RequestHead, UploadPolicy, decide
from django_expect.framing import (
    NO_BODY,
    Framing,
    asgi_framing,
    header_framing,
    parse_expect,
    parse_framing,
    parse_http_version,
    wsgi_framing,
)


@pytest.mark.parametrize(
    ("content_length", "transfer_encoding", "expected"),
    [
        (None, None, NO_BODY),
        ("0", None, NO_BODY),
        ("00", None, NO_BODY),
        ("1000", None, Framing(length=1000)),
        (" 1000 ", None, Framing(length=1000)),
        ("1000, 1000", None, Framing(length=1000)),  # RFC 9110 8.6: one value
        (None, "chunked", Framing(chunked=True, length=None)),
        (None, "gzip, chunked", Framing(chunked=True, length=None)),
        (None, "CHUNKED", Framing(chunked=True, length=None)),
        (None, "   ", NO_BODY),  # an empty field frames nothing
    ],
)
def test_valid_framing(
    content_length: str | None, transfer_encoding: str | None, expected: Framing
) -> None:
    assert parse_framing(content_length, transfer_encoding) == expected


@pytest.mark.parametrize(
    ("content_length", "transfer_encoding", "error"),
    [
        ("-1", None, "malformed Content-Length"),
        ("+5", None, "malformed Content-Length"),
        ("1e3", None, "malformed Content-Length"),
        ("\uff15", None, "malformed Content-Length"),  # fullwidth 5: str.isdigit() says yes
        ("\u00b2", None, "malformed Content-Length"),  # superscript 2
        ("10, 20", None, "malformed Content-Length"),
        ("", None, "malformed Content-Length"),
        (None, "gzip", "must end with 'chunked'"),
        (None, "chunked, identity", "must end with 'chunked'"),
        (None, "xchunked", "must end with 'chunked'"),
        ("5", "chunked", "both Transfer-Encoding and Content-Length"),
    ],
)
def test_framing_errors_have_a_body_of_unknown_length(
    content_length: str | None, transfer_encoding: str | None, error: str
) -> None:
    framing = parse_framing(content_length, transfer_encoding)
    assert framing.error is not None and error in framing.error
    assert framing.length is None
    assert framing.has_body  # answered 400 and the connection closed (RFC 9112 6.3)


@given(st.integers(min_value=0, max_value=2**63))
def test_a_digit_string_is_its_length(length: int) -> None:
    framing = parse_framing(str(length), None)
    assert framing == Framing(length=length)
    assert framing.has_body is (length > 0)
    assert parse_framing(f"{length}, {length}", None) == framing


_FIELD = st.one_of(st.none(), st.text(max_size=12))


@given(_FIELD, _FIELD)
def test_every_source_of_the_fields_agrees(
    content_length: str | None, transfer_encoding: str | None
) -> None:
    expected = parse_framing(content_length, transfer_encoding)
    pairs = [
        (name, value)
        for name, value in (
            ("Content-Length", content_length),
            ("Transfer-Encoding", transfer_encoding),
        )
        if value is not None
    ]
    assert header_framing(pairs) == expected
    latin = all(v is None or v.isascii() for v in (content_length, transfer_encoding))
    if latin:
        raw = [(name.lower().encode(), value.encode("latin-1")) for name, value in pairs]
        assert asgi_framing(raw) == expected
    environ = {}
    if content_length:
        environ["CONTENT_LENGTH"] = content_length
    if transfer_encoding:
        environ["HTTP_TRANSFER_ENCODING"] = transfer_encoding
    if content_length != "" and transfer_encoding != "":  # WSGI cannot carry an empty field
        assert wsgi_framing(environ) == expected


@given(_FIELD, _FIELD)
def test_the_core_decides_by_the_same_framing(
    content_length: str | None, transfer_encoding: str | None
) -> None:
    framing = parse_framing(content_length, transfer_encoding)
    head = RequestHead(content_length=content_length, transfer_encoding=transfer_encoding)
    decision = decide(head, UploadPolicy())
    assert decision.declared_length == framing.length
    assert decision.chunked == framing.chunked
    assert decision.has_body == framing.has_body
    if framing.error is not None:
        assert decision.reason is Reason.BAD_REQUEST
        assert decision.close_connection
    else:
        assert decision.proceed


def test_repeated_fields_are_one_list() -> None:
    assert header_framing([("CONTENT-LENGTH", "7"), ("CONTENT-LENGTH", "7")]) == Framing(length=7)
    assert header_framing([("content-length", "7"), ("Content-Length", "8")]).error is not None
    assert asgi_framing([(b"transfer-encoding", b"gzip"), (b"transfer-encoding", b"chunked")]) == (
        Framing(chunked=True, length=None)
    )
    assert asgi_framing([(b"Content-Length", b"3")]) == Framing(length=3)


@pytest.mark.parametrize(
    ("expect", "version", "waits", "unknown"),
    [
        (None, (1, 1), False, None),
        ("100-continue", (1, 1), True, None),
        ("100-Continue ", (1, 1), True, None),
        ("100-continue", (1, 0), False, None),  # RFC 9110 10.1.1: an HTTP/1.0 client never waits
        ("100-continue", (2, 0), True, None),
        ("100-continue, x-foo", (1, 1), False, "x-foo"),
        ("x-foo", (1, 1), False, "x-foo"),
        (" , ", (1, 1), False, None),
    ],
)
def test_expect(
    expect: str | None, version: tuple[int, int], waits: bool, unknown: str | None
) -> None:
    assert parse_expect(expect, version) == (waits, unknown)


def test_an_unknown_expectation_is_417_and_a_100_is_withheld_until_decided() -> None:
    head = RequestHead(expect="x-foo", content_length="5")
    assert decide(head, UploadPolicy()).reason is Reason.EXPECTATION_FAILED
    head = RequestHead(expect="100-continue", content_length="5")
    assert decide(head, UploadPolicy()).continue_timing is not ContinueTiming.NOT_EXPECTED


@pytest.mark.parametrize(
    ("protocol", "version"),
    [
        ("HTTP/1.1", (1, 1)),
        ("HTTP/1.0", (1, 0)),
        ("http/2.0", (2, 0)),
        (None, (1, 1)),
        ("x", (1, 1)),
    ],
)
def test_http_version(protocol: str | None, version: tuple[int, int]) -> None:
    assert parse_http_version(protocol) == version
