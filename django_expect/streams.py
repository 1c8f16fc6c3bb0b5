"""The package's request streams as real ``io`` objects, and the chunked-body cap.

Everything the package puts where Django or a server expects a stream (``wsgi.input``, Django's
``HttpRequest._stream``, ASGI body files) derives from :class:`ReadOnlyStream`, an
``io.IOBase``: ``readable()`` is True, ``seekable()`` is False (``seek``/``tell`` raise
``io.UnsupportedOperation``), ``readinto``, ``readlines``, iteration and ``close()`` behave as
``io`` documents. Django 6.0.4+ calls ``self._stream.seekable()`` unconditionally in
``HttpRequest.body`` and Django 6.0.5+ probes ``seek(0, SEEK_END)`` in
``MemoryFileUploadHandler.handle_raw_input``, catching ``io.UnsupportedOperation``: both need a
file object, not a duck.

``close()`` closes the wrapper only, never the server's stream under it (as Django's own
``LimitedStream`` does): the server still owns the connection and may drain it.

Plain Django reads a body of undeclared length (``Transfer-Encoding: chunked``) as empty
(``LimitedStream(stream, 0)``). For requests that pass a policy, the middleware replaces
``request._stream`` with a :class:`CappedStream` over the server's input, so the view reads the
whole body; reading past ``max_size`` raises :class:`UploadTooLarge` and the middleware answers
413 and closes the connection.

A ``Content-Length`` that arrives as a list of identical values (``42, 42``) frames the body
by that one value (RFC 9110 8.6), and Django must see the one value too:
:func:`declare_length` rewrites it (Django parses the field with ``int()``).

Django's private ``HttpRequest._stream`` is touched in :func:`swap_request_stream` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import LimitedStream, WSGIRequest
from django.http import HttpRequest

from django_expect.fileobj import ReadOnlyStream

__all__ = [
    "CappedStream",
    "UploadTooLarge",
    "declare_length",
    "swap_request_stream",
]


class UploadTooLarge(RequestDataTooBig):
    """The body grew past the view's ``max_size`` while being read."""


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class CappedStream(ReadOnlyStream):
    """A read-only stream that ends at EOF and raises once more than ``limit`` bytes arrive."""

    def __init__(
        self,
        source: _Readable,
        limit: int | None,
        on_overflow: Callable[[], None],
        error: Callable[[str], Exception] = UploadTooLarge,
    ) -> None:
        self._source = source
        self._limit = limit
        self._on_overflow = on_overflow
        self._error = error
        self._buffer = b""
        self.bytes_read = 0
        self._eof = False

    def _take(self, size: int) -> bytes:
        if self._eof:
            return b""
        want = size
        if self._limit is not None:
            want = min(size, self._limit - self.bytes_read + 1)  # one more byte reveals overflow
        data = self._source.read(want)
        if not data:
            self._eof = True
            return b""
        self.bytes_read += len(data)
        if self._limit is not None and self.bytes_read > self._limit:
            self._eof = True
            self._on_overflow()
            raise self._error(f"the request body exceeds {self._limit} bytes")
        return data

    def read(self, size: int | None = -1, /) -> bytes:
        self._check_open()
        if size is None or size < 0:
            chunks = [self._buffer]
            self._buffer = b""
            while chunk := self._take(64 * 1024):
                chunks.append(chunk)
            return b"".join(chunks)
        while len(self._buffer) < size:
            chunk = self._take(max(size - len(self._buffer), 8192))
            if not chunk:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size: int | None = -1, /) -> bytes:
        self._check_open()
        while b"\n" not in self._buffer and (size is None or size < 0 or len(self._buffer) < size):
            chunk = self._take(8192)
            if not chunk:
                break
            self._buffer += chunk
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if size is not None and size >= 0:
            end = min(end, size)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    @property
    def at_eof(self) -> bool:
        """The whole body has been read (or the limit was crossed)."""
        return self._eof and not self._buffer


def swap_request_stream(request: HttpRequest, stream: Any = None) -> Any:
    """The stream Django reads ``request``'s body from; replaced by ``stream`` if one is given.

    The one place that touches Django's private ``HttpRequest._stream``: relies on
    ``django.http.request.HttpRequest.read``/``readline``/``body`` reading ``self._stream``
    (``WSGIRequest.__init__`` sets it to a ``LimitedStream`` over ``wsgi.input``,
    ``ASGIRequest.__init__`` to the handler's body file), in Django 5.2, 6.0 and 6.1 (tested:
    tests/unit/test_streams.py).
    """
    previous = request._stream
    if stream is not None:
        request._stream = stream
    return previous


def declare_length(request: HttpRequest, length: int) -> None:
    """Make ``length`` the body's ``Content-Length`` for Django when the field arrived as a list
    of identical values (``42, 42``, or repeated fields a server joined): Django reads it with
    ``int()``, so a WSGI request's body would read as empty (``WSGIRequest`` frames the stream
    by 0) and Django 5.2 and 6.0's ``HttpRequest.body`` would raise ``ValueError`` (a 500).
    The server framed the body by the same value (or it would have refused the head)."""
    value = request.META.get("CONTENT_LENGTH")
    if value is None or "," not in value:
        return  # one value: what Django parses already
    request.META["CONTENT_LENGTH"] = str(length)
    if isinstance(request, WSGIRequest):
        swap_request_stream(request, LimitedStream(request.environ["wsgi.input"], length))
