"""How a request head frames its body, and the interim response: the one answer every adapter and
the decision core use (wire protocol; no Django, no server).

* :func:`parse_framing`: RFC 9112 §6.3 from ``Content-Length`` and ``Transfer-Encoding`` as
  received. ``Transfer-Encoding`` overrides ``Content-Length``; a request carrying both is a
  smuggling risk and is an error; only ``chunked`` as the final coding frames a request; a
  ``Content-Length`` is ``1*DIGIT`` (ASCII only), and a list of identical values is one value
  (RFC 9110 §8.6). A head whose framing is an error is answered 400 and its connection closed
  (RFC 9112 §6.3 item 5: the framing is unrecoverable), so :attr:`Framing.has_body` is true then.
* :func:`wsgi_framing`, :func:`header_framing`, :func:`asgi_framing`: the same from a WSGI
  environ, from header pairs (gunicorn's ``req.headers``), from an ASGI scope's headers; repeated
  fields are joined into one list, as RFC 9110 §5.3 reads them.
* :func:`parse_expect`: the ``Expect`` field (RFC 9110 §10.1.1): ``100-continue`` is the only
  expectation, and only an HTTP/1.1 client waits for the 100.
* :func:`parse_http_version`: a WSGI ``SERVER_PROTOCOL`` as ``(major, minor)``.
* :data:`CONTINUE`: the ``100 Continue`` interim response the adapters write themselves.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

__all__ = [
    "CONTINUE",
    "NO_BODY",
    "Framing",
    "asgi_framing",
    "header_framing",
    "parse_expect",
    "parse_framing",
    "parse_http_version",
    "wsgi_framing",
]

#: The interim response the gunicorn, runserver and uWSGI adapters write on the socket.
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Framing(NamedTuple):
    """The body a head declares (an immutable named tuple: built for every head with a body)."""

    #: The body is chunked (its length is not declared).
    chunked: bool = False
    #: The declared Content-Length: 0 without one; None when chunked or when the framing is an
    #: error (nothing can say how long the body is).
    length: int | None = 0
    #: Why the framing is invalid (answered 400, connection closed), or None.
    error: str | None = None

    @property
    def has_body(self) -> bool:
        """Body bytes may follow the head (a declared length above 0, chunked, or unknown)."""
        return self.chunked or bool(self.length) or self.error is not None


#: A head without ``Content-Length`` and ``Transfer-Encoding`` (or with ``Content-Length: 0``).
NO_BODY = Framing()


def parse_framing(content_length: str | None, transfer_encoding: str | None) -> Framing:
    """The framing of a head from its two fields as received (None: the field is absent)."""
    if transfer_encoding is not None and transfer_encoding.strip():
        codings = [coding.strip().lower() for coding in transfer_encoding.split(",")]
        error = None
        if codings[-1] != "chunked":
            error = "Transfer-Encoding must end with 'chunked'"
        elif content_length is not None:
            error = "a request cannot carry both Transfer-Encoding and Content-Length"
        return Framing(chunked=True, length=None, error=error)
    if content_length is None:
        return NO_BODY
    value = content_length.strip()
    if "," in value:  # a list of identical values is one value (RFC 9110 8.6)
        values = {v.strip() for v in value.split(",")}
        value = values.pop() if len(values) == 1 else ""
    if value.isascii() and value.isdigit():  # 1*DIGIT (isdigit() alone takes superscripts)
        length = int(value)
        return NO_BODY if length == 0 else Framing(length=length)
    return Framing(length=None, error=f"malformed Content-Length: {content_length!r}")


def wsgi_framing(environ: Mapping[str, Any]) -> Framing:
    """The framing of a WSGI request (or Django's ``request.META``); empty values are absent."""
    return parse_framing(
        environ.get("CONTENT_LENGTH") or None, environ.get("HTTP_TRANSFER_ENCODING") or None
    )


#: The lengths of "content-length" and "transfer-encoding": a field of another length is
#: neither, whatever its case.
_FRAMING_NAME_LENGTHS = frozenset((len("content-length"), len("transfer-encoding")))


def header_framing(headers: Iterable[tuple[str, str]]) -> Framing:
    """The framing from ``(name, value)`` pairs, names in any case (gunicorn's ``req.headers``)."""
    lengths: list[str] = []
    codings: list[str] = []
    for name, value in headers:
        if len(name) not in _FRAMING_NAME_LENGTHS:  # most fields: no lower() needed
            continue
        lowered = name.lower()
        if lowered == "content-length":
            lengths.append(value)
        elif lowered == "transfer-encoding":
            codings.append(value)
    return parse_framing(
        ", ".join(lengths) if lengths else None, ", ".join(codings) if codings else None
    )


def asgi_framing(headers: Iterable[tuple[bytes, bytes]]) -> Framing:
    """The framing from an ASGI scope's ``headers`` (:func:`header_framing` of them decoded as
    ISO-8859-1, as the ASGI spec's byte strings are; a field whose name is neither framing
    field's length is not decoded)."""
    return header_framing(
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in headers
        if len(name) in _FRAMING_NAME_LENGTHS
    )


@functools.lru_cache(maxsize=64)
def parse_expect(expect: str | None, http_version: tuple[int, int]) -> tuple[bool, str | None]:
    """``(the client waits for a 100, the first expectation other than 100-continue)``.

    An HTTP/1.0 client never waits for a 100 (RFC 9110 §10.1.1: a server ignores its
    ``100-continue``); an unknown expectation is answered 417 by the core.
    """
    if not expect:
        return False, None
    tokens = [t for t in (t.strip().lower() for t in expect.split(",")) if t]
    unknown = next((t for t in tokens if t != "100-continue"), None)
    return bool(tokens) and unknown is None and http_version >= (1, 1), unknown


_COMMON_PROTOCOLS = {"HTTP/1.1": (1, 1), "HTTP/1.0": (1, 0)}
_PROTOCOL = re.compile(r"^HTTP/(\d)\.(\d)$", re.IGNORECASE)


def parse_http_version(protocol: str | None) -> tuple[int, int]:
    """A WSGI ``SERVER_PROTOCOL`` (``"HTTP/1.1"``) as ``(1, 1)``; absent or unreadable: (1, 1)."""
    if not protocol:
        return (1, 1)
    common = _COMMON_PROTOCOLS.get(protocol)
    if common is not None:
        return common
    match = _PROTOCOL.match(protocol.strip())
    if match is None:
        return (1, 1)
    return (int(match.group(1)), int(match.group(2)))
