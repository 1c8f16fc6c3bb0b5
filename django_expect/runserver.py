"""The ``manage.py runserver`` adapter: Django's development server holds the 100 back.

Python's ``BaseHTTPRequestHandler.parse_request`` answers ``Expect: 100-continue`` (HTTP/1.1)
through ``handle_expect_100``, which sends ``100 Continue`` as soon as the head is parsed, before
Django runs. With ``django_expect`` anywhere in ``INSTALLED_APPS``, ``manage.py runserver`` serves
with :class:`ExpectWSGIServer`: it is the command in
``django_expect/management/commands/runserver.py`` when ``django_expect`` is listed before
``django.contrib.staticfiles``, and staticfiles' own command, given this server class by
:func:`serve_staticfiles_runserver_lazily`, when it is listed after. Per request:

* the eager 100 is not sent; ``environ["wsgi.input"]`` is an :class:`ExpectContinueInput` that
  sends it on the first read, so ``ExpectMiddleware`` decides exactly as under the gunicorn hook
  (a rejection goes out without a 100);
* a ``Transfer-Encoding: chunked`` body is decoded (:class:`_ChunkedBody`; wsgiref reads
  none, so Django would see it as empty), and the connection closes after such a request;
* when the final response starts, the input is sealed (no 100 after it);
* when the body was left unread (a rejection, or a view that did not read it), the server says
  ``Connection: close`` (a server-side header, which PEP 3333 allows the server to add), and
  instead of Django's own drain (reading the whole rest of the body) the connection is closed
  after the bounded drain of :func:`django_expect.lingering.linger`, given the declared rest of
  the body as the gunicorn hook gives it (the development server serves one connection per
  thread, so its budget is a sync worker's: at most 2 s).

Everything else is Django's development server, unchanged. Only :class:`ExpectWSGIServer` is
public; the other names here are private.
"""

from __future__ import annotations

import re
import socket
from typing import Any, cast

from django.core.servers import basehttp

from django_expect.continuation import ExpectContinueInput, SocketReceiveTimeout
from django_expect.framing import CONTINUE, wsgi_framing
from django_expect.lingering import linger

__all__ = ["ExpectWSGIServer"]

_CHUNK = 65536


class _ServerHandler(basehttp.ServerHandler):
    """Django's ``ServerHandler`` with the lazy-100 input and a bounded close."""

    headers: Any  # wsgiref's response headers (set by start_response)

    def __init__(
        self,
        stdin: Any,
        stdout: Any,
        stderr: Any,
        environ: dict[str, Any],
        *,
        request_handler: _RequestHandler,
        awaiting: bool,
    ) -> None:
        self.sock = cast(socket.socket, request_handler.connection)
        reader = _BoundedReader(stdin, self.sock)
        framing = wsgi_framing(environ)
        length = framing.length
        if length is not None:
            # One value for Django's int(): "42, 42" frames 42 bytes (RFC 9110 8.6).
            environ["CONTENT_LENGTH"] = str(length)
        super().__init__(reader, stdout, stderr, environ)
        self.request_handler = request_handler
        self.receive_timeout = SocketReceiveTimeout(self.sock)
        # A chunked body is decoded here (wsgiref reads none); any other body is Django's
        # LimitedStream of the request's Content-Length. A framing error (chunked and a
        # Content-Length, another final coding) is refused by the middleware (400, close).
        source = _ChunkedBody(reader) if framing.chunked and framing.error is None else self.stdin
        self.expect_input = ExpectContinueInput(
            cast(Any, source),
            awaiting=awaiting and length != 0,
            send_continue=self._send_continue,
            close_connection=self._close_connection,
            length=length,
            set_receive_timeout=self.receive_timeout,
        )
        if length is None:
            # The connection closes after a body of undeclared length: what the view left of it
            # is not read to its end to find the next request.
            self.expect_input.close_connection()
        reader.body = self.expect_input
        self.stdin = self.expect_input  # becomes environ["wsgi.input"] in setup_environ()

    def _send_continue(self) -> None:
        self.sock.sendall(CONTINUE)

    def _close_connection(self) -> None:
        self.request_handler.close_connection = True

    def cleanup_headers(self) -> None:
        """The final response starts: no 100 after it; say when the connection will close."""
        self.expect_input.seal()
        super().cleanup_headers()
        if self.expect_input.closing:
            # The server's own header (Django's cleanup_headers sets it the same way).
            self.headers["Connection"] = "close"
            self.request_handler.close_connection = True

    def close(self) -> None:
        self.expect_input.seal()
        self.receive_timeout.restore()
        if self.expect_input.closing:
            self.request_handler.close_connection = True
            _finish_without_django_drain(self)
            # The declared rest of the body, as the gunicorn hook passes it: a small rest is
            # drained to its end (then a clean close), one that cannot arrive within the budget
            # is cut short at once instead of after the whole budget.
            linger(self.sock, self._unread())
            return
        # Keep-alive: read what is left of a body the client was invited to send (Django's
        # own close does the same), so it is not parsed as the next request.
        self.expect_input.read()
        _finish_without_django_drain(self)

    def _unread(self) -> int | None:
        """Declared body bytes not yet received from the client (None: unknown length).

        The request handler's ``rfile`` (a buffered reader over the socket) may hold body bytes
        already received but not read by the application; they are taken out of it here,
        without waiting, so the drain (which reads the socket itself) counts only what is still
        to come.
        """
        body = self.expect_input
        if body.length is None:
            return None
        remaining = max(0, body.length - body.bytes_read)
        if remaining:
            try:
                self.sock.settimeout(0)
                taken = self.request_handler.rfile.read1(min(remaining, _CHUNK))
            except OSError:
                taken = b""
            remaining -= len(taken or b"")
        return remaining


class _BoundedReader:
    """The request handler's ``rfile`` as the body's source: when a minimum rate applies, a
    ``read(n)`` loops over ``read1()`` (one receive each), each bounded by
    ``body.rate_bound()`` (the idle timeout or the rate's time left); otherwise, and for
    ``readline``, the ``rfile`` itself."""

    def __init__(self, rfile: Any, sock: socket.socket) -> None:
        self.rfile = rfile
        self.sock = sock
        self.body: ExpectContinueInput | None = None

    def read(self, size: int | None = -1) -> bytes:
        body = self.body
        if body is None or body.rate_bound() is None:
            return bytes(self.rfile.read(size))
        parts: list[bytes] = []
        got = 0
        while size is None or size < 0 or got < size:
            self.sock.settimeout(body.receive_timeout())  # the rate's time shrinks
            chunk = self.rfile.read1(_CHUNK if size is None or size < 0 else size - got)
            if not chunk:
                break
            body.note_received(len(chunk))
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        return bytes(self.rfile.readline(size))

    def read1(self, size: int = -1) -> bytes:
        return bytes(self.rfile.read1(size))


class _ChunkedBody:
    """A ``Transfer-Encoding: chunked`` request body, decoded (RFC 9112 section 7.1).

    wsgiref and Django's development server read no chunked body (Django's ``LimitedStream``
    of a missing Content-Length reads as empty), so the view would see an empty upload. This
    reads the chunks from the request handler's reader: ``chunk-size [; ext] CRLF data CRLF``
    until the last chunk (size 0), then the trailer section, which is read and dropped. A
    malformed or cut-short chunk raises ``ValueError``, which :class:`ExpectContinueInput`
    turns into ``IncompleteBody`` (answered 400, connection closed). Lines (chunk-size with
    its extensions, trailer fields) are bounded as ``http.server`` bounds header lines.
    """

    def __init__(self, source: _BoundedReader) -> None:
        self.source = source
        self.left = 0  # data bytes left in the current chunk
        self.done = False  # the last chunk and the trailer section were read

    def read(self, size: int | None = -1) -> bytes:
        parts: list[bytes] = []
        wanted = -1 if size is None or size < 0 else size
        while wanted != 0 and self._chunk_left():
            n = self.left if wanted < 0 else min(wanted, self.left)
            data = self.source.read(n)
            self._took(data, n)
            parts.append(data)
            if wanted > 0:
                wanted -= n
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        parts: list[bytes] = []
        wanted = -1 if size is None or size < 0 else size
        while wanted != 0 and self._chunk_left():
            n = self.left if wanted < 0 else min(wanted, self.left)
            data = self.source.readline(n)
            self._took(data, len(data) if data.endswith(b"\n") else n)
            parts.append(data)
            if data.endswith(b"\n"):
                break
            if wanted > 0:
                wanted -= len(data)
        return b"".join(parts)

    def _took(self, data: bytes, expected: int) -> None:
        if len(data) < expected:
            raise ValueError("the connection ended inside a chunk")
        self.left -= len(data)
        if self.left == 0 and self.source.read(2) != b"\r\n":
            raise ValueError("a chunk's data is not followed by CRLF")

    def _chunk_left(self) -> bool:
        """Data bytes are left (reading the next chunk's size line when the last one is
        used up); False once the body is complete."""
        if self.left or self.done:
            return not self.done
        line = self._line()
        size = line.split(b";", 1)[0].strip(b" \t")
        if not _CHUNK_SIZE.fullmatch(size):
            raise ValueError(f"invalid chunk size line {line[:40]!r}")
        self.left = int(size, 16)
        if self.left == 0:
            for _ in range(_MAX_TRAILERS + 1):  # the trailer section ends with an empty line
                if not self._line():
                    break
            else:
                raise ValueError(f"more than {_MAX_TRAILERS} trailer fields")
            self.done = True
        return not self.done

    def _line(self) -> bytes:
        line = self.source.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE or not line.endswith(b"\r\n"):
            raise ValueError("a chunk-size or trailer line is too long, cut short or not CRLF")
        return line[:-2]


#: A chunk size: 1*HEXDIG, at most 16 digits (2**64).
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
#: The longest chunk-size or trailer line taken (``http.server``'s header line bound).
_MAX_LINE = 65536
#: The most trailer fields taken (``http.client``'s bound on header fields).
_MAX_TRAILERS = 100


def _finish_without_django_drain(handler: basehttp.ServerHandler) -> None:
    """Finish the request (log it, release the result) without Django's own drain.

    Relies on ``django.core.servers.basehttp.ServerHandler.close`` being "read the whole rest of
    the body, then ``super().close()``" (Django 5.2 through 6.1), which for a refused upload
    would read everything. Its parent's ``close`` (``wsgiref.simple_server.ServerHandler.close``)
    logs the request and resets the handler.
    """
    super(basehttp.ServerHandler, handler).close()


class _RequestHandler(basehttp.WSGIRequestHandler):
    """Django's request handler without the eager 100."""

    expect_continue = False
    #: The version ``send_error`` answers in before the request line's own is known
    #: (``BaseHTTPRequestHandler``'s default, HTTP/0.9, sends an error page with no status
    #: line at all).
    default_request_version = "HTTP/1.0"

    def parse_request(self) -> bool:
        """``BaseHTTPRequestHandler.parse_request`` without HTTP/0.9.

        A request line cut short by the end of the connection is not a request: nothing is
        answered. A line without an HTTP version (``GET /``, HTTP/0.9's form) is answered 400
        with a status line and closes the connection, instead of an HTTP/0.9 answer (a bare
        error page, or the view's body with no status line and no headers).
        """
        if not self.raw_requestline.endswith(b"\n"):
            self.close_connection = True
            return False
        words = self.raw_requestline.split()
        if len(words) == 2:
            self.command = ""
            self.request_version = self.default_request_version
            self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
            self.close_connection = True
            self.send_error(400, "Bad request syntax (no HTTP version)")
            return False
        return bool(super().parse_request())

    def handle_expect_100(self) -> bool:
        """Called by ``BaseHTTPRequestHandler.parse_request`` for ``Expect: 100-continue`` on
        HTTP/1.1 (never for HTTP/1.0). Remember it; the input sends the 100 on first read."""
        self.expect_continue = True
        return True

    def handle_one_request(self) -> None:
        """Django's ``WSGIRequestHandler.handle_one_request`` with the lazy-100 ServerHandler.

        Relies on Django 5.2 through 6.1's version of that method: read the request line (414
        past 65536 bytes), ``parse_request()``, then run the app through a ``ServerHandler``
        whose ``request_handler`` points back here.
        """
        self.expect_continue = False
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(
            self.rfile,
            self.wfile,
            self.get_stderr(),
            self.get_environ(),
            request_handler=self,
            awaiting=self.expect_continue,
        )
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


class ExpectWSGIServer(basehttp.WSGIServer):
    """Django's development server, serving each request with the lazy-100 handler.

    ``django.core.servers.basehttp.run()`` always passes Django's ``WSGIRequestHandler``; it is
    replaced here by its subclass (a handler class of your own is kept).
    """

    def __init__(self, server_address: Any, handler_class: Any, *args: Any, **kwargs: Any) -> None:
        if handler_class is basehttp.WSGIRequestHandler:
            handler_class = _RequestHandler
        super().__init__(server_address, handler_class, *args, **kwargs)


def serve_staticfiles_runserver_lazily() -> None:
    """Give ``django.contrib.staticfiles``' ``runserver`` command :class:`ExpectWSGIServer`.

    Django runs the ``runserver`` of the app listed first in ``INSTALLED_APPS``; with
    ``django_expect`` appended after ``django.contrib.staticfiles`` that is staticfiles' command
    (``django/contrib/staticfiles/management/commands/runserver.py``), which inherits
    ``server_cls = WSGIServer`` from ``django/core/management/commands/runserver.py``. Setting
    the attribute on staticfiles' subclass makes the order of ``INSTALLED_APPS`` not matter.
    Django's own command class (``django.core``, used when staticfiles is not installed and no
    app overrides it) is left alone, and so is a ``server_cls`` some other code already set.
    Called from ``DjangoExpectConfig.ready()``; ``Command.server_cls`` is listed in
    docs/explanation/private-names.md.
    """
    from django.apps import apps

    if not apps.is_installed("django.contrib.staticfiles"):
        return
    from django.contrib.staticfiles.management.commands import runserver as staticfiles_runserver

    command = staticfiles_runserver.Command
    if "server_cls" not in vars(command) and command.server_cls is basehttp.WSGIServer:
        command.server_cls = ExpectWSGIServer
