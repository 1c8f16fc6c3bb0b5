"""The uWSGI adapter: ``100 Continue`` sent when the view reads the body.

uWSGI never answers ``Expect: 100-continue`` itself, neither with ``--http-socket`` nor behind
its ``--http`` router (unless ``--http-manage-expect``, which makes the router send it at once,
before Django runs). Refusals are then made before the body anyway, but an accepted upload waits
for the client's own timeout (curl and Go: 1 s) and clients that wait longer stall. Wrap the
WSGI application and the 100 goes out when the view first reads the body::

    # mysite/wsgi.py
    from django.core.wsgi import get_wsgi_application
    from django_expect.uwsgi import lazy_continue

    application = lazy_continue(get_wsgi_application())

Outside uWSGI (``import uwsgi`` fails) the application is returned unwrapped. The 100 is written
on the request's client connection (``uwsgi.connection_fd()``); behind the ``--http`` router that
connection is the router's, which passes the backend's bytes to the client unchanged (do not
combine with ``--http-keepalive``, which parses responses).

The connection's fate is uWSGI's, never a response header of this wrapper (PEP 3333: no
hop-by-hop header from an application). uWSGI closes the connection itself: after every response
with ``--http-socket`` and the ``--http`` router, and with ``--http11-socket`` after any request
whose body was not read to its end (``proto/http.c``, ``uwsgi_proto_http11_close``), so a refused
body is never read as another request. Clients must also be *told* that it closes (without
``Connection: close`` libcurl, boto3, aiohttp, Node and Go sent refused bodies or reused the
closed connection; the curl command line did not): with ``--http-socket`` and ``--http`` that
is uWSGI's own ``--add-header "Connection: close"`` (true of every response there). uWSGI has no
per-request means (``uwsgi.route("addheader", ...)`` crashes the worker in 2.0.31), so with
``--http11-socket`` a refusal's close is not announced (docs/howto/servers.md).
"""

from __future__ import annotations

import logging
import os
import select
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django_expect.continuation import ExpectContinueInput
from django_expect.framing import CONTINUE, parse_expect, parse_http_version, wsgi_framing
from django_expect.lingering import linger

__all__ = ["lazy_continue"]

_WRITE_TIMEOUT = 5.0
#: Seconds ``uwsgi.chunked_read()`` waits for a chunk.
_CHUNK_TIMEOUT = 20
#: uWSGI's options that serve HTTP and close after every response.
_CLOSING_MODES = ("http-socket", "http")

logger = logging.getLogger("django_expect")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def lazy_continue(app: WSGIApp) -> WSGIApp:
    """``app`` with a ``wsgi.input`` that sends the 100 on first read (under uWSGI only)."""
    connection_fd = _uwsgi_connection_fd()
    if connection_fd is None:
        return app
    if not announces_close(_uwsgi_options()):
        logger.warning(
            "django-expect: uWSGI closes the connection after every response here but does not "
            'say so: run it with --add-header "Connection: close" (docs/howto/servers.md), or '
            "clients send refused bodies anyway."
        )

    keeps_alive = "http11-socket" in _uwsgi_options()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        _, chunks = _install(environ, connection_fd)
        result = app(environ, start_response)
        if keeps_alive and chunks is not None and not chunks.done:
            # The view left a chunked body unread (a refusal): --http11-socket would keep the
            # connection and parse the rest of the body as the next request.
            return _CloseAfter(result, connection_fd())
        return result

    return application


class _CloseAfter:
    """The response, then the connection closed as the gunicorn hook closes it.

    uWSGI's ``--http11-socket`` decides keep-alive from ``Content-Length`` alone
    (``uwsgi_proto_http11_close`` in ``proto/http.c``): after a chunked body the view left
    unread it keeps the connection and parses the rest of the body as a request. Once uWSGI has
    written the response (PEP 3333: it calls ``close()`` after the last chunk), the connection
    gets :func:`django_expect.lingering.linger`: its write side shut, what arrives drained within
    the budget, then its read side shut, so uWSGI's next read finds the end of the stream and
    closes. A duplicate of uWSGI's descriptor is used (the socket stays uWSGI's to close), and
    its blocking mode, shared by both descriptors, is restored.
    """

    def __init__(self, result: Iterable[bytes], fd: int) -> None:
        self.result = result
        self.fd = fd

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            blocking = os.get_blocking(self.fd)
            try:
                with socket.socket(fileno=os.dup(self.fd)) as sock:
                    linger(sock)
            except OSError:
                pass
            finally:
                os.set_blocking(self.fd, blocking)


def install(environ: dict[str, Any], connection_fd: Callable[[], int]) -> ExpectContinueInput:
    """Wrap ``environ["wsgi.input"]`` (the 100, if the client waits for one, on first read)."""
    return _install(environ, connection_fd)[0]


def _install(
    environ: dict[str, Any], connection_fd: Callable[[], int]
) -> tuple[ExpectContinueInput, _ChunkedInput | None]:
    """:func:`install`, and the chunked body's reader when the body is chunked."""
    framing = wsgi_framing(environ)
    length = framing.length
    chunks = _ChunkedInput() if framing.chunked and framing.error is None else None
    source = environ["wsgi.input"] if chunks is None else chunks
    expects_100, _ = parse_expect(
        environ.get("HTTP_EXPECT"), parse_http_version(environ.get("SERVER_PROTOCOL"))
    )
    awaiting = expects_100 and length != 0
    wrapped = ExpectContinueInput(
        source,
        awaiting=awaiting,
        send_continue=lambda: _write_all(connection_fd(), CONTINUE),
        close_connection=_closed_anyway,
        length=length,
    )
    environ["wsgi.input"] = wrapped
    return wrapped, chunks


class _ChunkedInput:
    """A ``Transfer-Encoding: chunked`` body through ``uwsgi.chunked_read()``.

    uWSGI's ``wsgi.input`` reads ``CONTENT_LENGTH`` bytes, none for a chunked request, so the
    view would see an empty upload; ``uwsgi.chunked_read()`` decodes one chunk per call
    (``core/chunked.c``; ``b""`` after the last chunk, an ``IOError`` for a malformed one,
    which :class:`ExpectContinueInput` answers 400). uWSGI 2.0.31's parser takes no chunk
    extension (``5;name=value``): such a body is refused 400, never read short."""

    def __init__(self) -> None:
        import uwsgi  # type: ignore[import-untyped,import-not-found,unused-ignore]  # inside uWSGI only

        self._chunked_read: Callable[[int], bytes] = uwsgi.chunked_read
        self._buffer = b""
        self._ended = False

    @property
    def done(self) -> bool:
        """The last chunk was read (the body is complete on the connection)."""
        return self._ended

    def _fill(self, size: int) -> None:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            chunk = bytes(self._chunked_read(_CHUNK_TIMEOUT))
            if not chunk:
                self._ended = True
            self._buffer += chunk

    def read(self, size: int | None = -1) -> bytes:
        wanted = -1 if size is None else size
        self._fill(wanted)
        if wanted < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:wanted], self._buffer[wanted:]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        wanted = -1 if size is None else size
        while b"\n" not in self._buffer and not self._ended:
            self._fill(len(self._buffer) + 1)
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if wanted >= 0:
            end = min(end, wanted)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data


def announces_close(options: dict[str, Any]) -> bool:
    """False when uWSGI (``options``: ``uwsgi.opt``) serves HTTP in a mode that closes after every
    response (``--http-socket``, ``--http``) without ``--add-header``: clients are not told.
    (``uwsgi.opt`` keeps one value of a repeated option, so any ``add-header`` is trusted.)"""
    if not any(mode in options for mode in _CLOSING_MODES):
        return True
    return "add-header" in options


def _closed_anyway() -> None:
    """uWSGI closes the connection itself when the body is left unread (``--http-socket`` and
    ``--http``: after every response; ``--http11-socket``: when the body was not read to its
    end): nothing to tell it."""


def _write_all(fd: int, data: bytes) -> None:
    """Write on uWSGI's (non-blocking) client socket, waiting at most a few seconds."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            if not select.select([], [fd], [], _WRITE_TIMEOUT)[1]:
                raise TimeoutError("the client does not take the 100 Continue") from None
            continue
        view = view[written:]


def _uwsgi_connection_fd() -> Callable[[], int] | None:
    """uWSGI's ``connection_fd()``: the current request's client socket (the only uWSGI API
    used; ``plugins/python/uwsgi_pymodule.c``, ``wsgi_req->fd``). None outside uWSGI."""
    try:
        import uwsgi  # type: ignore[import-untyped,import-not-found,unused-ignore]  # inside uWSGI only
    except ImportError:
        return None
    connection_fd: Callable[[], int] = uwsgi.connection_fd
    return connection_fd


def _uwsgi_options() -> dict[str, Any]:
    """uWSGI's options (``uwsgi.opt``, documented in the uwsgi Python module); {} outside it."""
    try:
        import uwsgi  # type: ignore[import-untyped,import-not-found,unused-ignore]  # inside uWSGI only
    except ImportError:
        return {}
    return dict(getattr(uwsgi, "opt", {}) or {})
