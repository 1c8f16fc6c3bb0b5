"""The gunicorn adapter: hooks that stop gunicorn's eager ``100 Continue``.

Use it as a config module::

    gunicorn -c python:django_expect.gunicorn myproject.wsgi

or import the hooks into your own ``gunicorn.conf.py`` (see the README for combining them with
hooks of your own). Works with the sync, gthread and gevent workers on gunicorn >= 25.

What the hooks do:

* ``pre_request`` runs just before gunicorn builds the WSGI environ (where gunicorn 25+ would send
  the 100 eagerly). It takes the pending expectation off the request and replaces the body stream,
  which becomes ``environ["wsgi.input"]``, with an :class:`ExpectContinueInput` that sends the 100
  on first read, and lets the Django middleware withhold it and close the connection instead.
* ``post_request`` runs after the response. It seals the input (no 100 after a final response)
  and, when the body was left unread, closes the connection by the close policy of
  :mod:`django_expect.closing` (:func:`linger`): drain the rest of the body when it can arrive
  within ``EXPECT_DRAIN_SECONDS`` (Firefox then shows the response), else close at once
  (Chromium shows it when its upload fails). Leftover bytes are never parsed as another request.

Only names that are gunicorn settings are read from this module by ``-c python:``; everything
else here is private.
"""

from __future__ import annotations

import io
import socket
from typing import Any, cast

from django_expect.continuation import ExpectContinueInput, SocketReceiveTimeout
from django_expect.framing import CONTINUE, header_framing
from django_expect.lingering import linger

__all__ = ["linger", "post_request", "pre_request"]


def pre_request(worker: Any, req: Any) -> None:
    """gunicorn hook: install the lazy ``100 Continue`` input for this request."""
    worker.log.debug("%s %s", req.method, req.path)
    install(req)


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    """gunicorn hook: no 100 after the response; close after a short drain if the body is unread."""
    finish(req, worker)


def install(req: Any) -> ExpectContinueInput | None:
    """Wrap ``req.body`` (the future ``wsgi.input``) unless already wrapped.

    A request without a body (no Transfer-Encoding, Content-Length absent or 0) is left as it
    is: there is nothing to invite, withhold or drain, and the middleware does not look at its
    input (an ``Expect`` on it is taken off: no 100 for an empty body, RFC 9110 10.1.1).
    """
    body = getattr(req, "body", None)
    if body is None or type(body) is ExpectContinueInput:
        return body
    length = header_framing(req.headers).length
    if length == 0:
        take_eager_continue(req)
        return None
    connection = _Connection(req, _socket_of(req))
    awaiting = take_eager_continue(req) and connection.sock is not None
    buffered = _buffered_whole(req, length)
    wrapped = ExpectContinueInput(
        body,
        awaiting=awaiting,
        send_continue=connection.send_continue,
        close_connection=connection.close_connection,
        length=length,
        set_receive_timeout=_no_receive_timeout if buffered else connection.receive_timeout,
    )
    req.body = wrapped
    req.django_expect_connection = connection
    if not buffered:  # a body gunicorn holds whole is read without a receive: nothing to bound
        connection.bound_receives(wrapped)
    return wrapped


def finish(req: Any, worker: Any = None) -> None:
    """After the response: seal the input; when the body was left unread, close by the policy."""
    connection: _Connection | None = getattr(req, "django_expect_connection", None)
    if connection is None:  # no body: nothing was wrapped
        return
    body = getattr(req, "body", None)
    if not isinstance(body, ExpectContinueInput):
        return
    body.seal()
    connection.unbind_receives()
    connection.receive_timeout.restore()
    # body.closing: close_connection() already set gunicorn's req.must_close.
    if body.closing and connection.sock is not None:
        linger(connection.sock, _unread(body), capacity=_capacity(worker))


def _unread(body: ExpectContinueInput) -> int | None:
    """Declared body bytes the client has not delivered to the application (None: unknown)."""
    return None if body.length is None else max(0, body.length - body.bytes_read)


def _capacity(worker: Any) -> int:
    """How many connections the worker serves at once: 1 (sync), its threads (gthread), its
    worker_connections (gevent and other async workers). Reads gunicorn's documented settings
    and the worker class names of ``gunicorn/workers/``."""
    if worker is None:
        return 1
    name = type(worker).__name__
    cfg = getattr(worker, "cfg", None)
    if name == "SyncWorker" or cfg is None:
        return 1
    if name == "ThreadWorker":
        return int(getattr(cfg, "threads", 1) or 1)
    return int(getattr(cfg, "worker_connections", 1) or 1)


class _Connection:
    """What the continuation may do to the request's client connection (one per request)."""

    __slots__ = ("receive_timeout", "req", "sock", "unbound")

    def __init__(self, req: Any, sock: socket.socket | None) -> None:
        self.req = req
        self.sock = sock
        #: Bounds each receive from the client (and the 100's send) while the app reads the
        #: body; restored when the body is complete or the response is done.
        self.receive_timeout = SocketReceiveTimeout(sock)
        self.unbound: Any = None  # the unreader's own socket while it reads through a bound

    def bound_receives(self, body: ExpectContinueInput) -> None:
        """Have gunicorn's unreader receive through :class:`_BoundedSocket` while the app reads
        the body: one ``Body.read()`` loops over many receives, each must be bounded."""
        unreader: Any = getattr(self.req, "unreader", None)
        if self.sock is not None and getattr(unreader, "sock", None) is self.sock:
            self.unbound = self.sock
            unreader.sock = _BoundedSocket(self.sock, body)

    def unbind_receives(self) -> None:
        if self.unbound is not None:
            self.req.unreader.sock = self.unbound
            self.unbound = None

    def send_continue(self) -> None:
        assert self.sock is not None
        self.sock.sendall(CONTINUE)

    def close_connection(self) -> None:
        """gunicorn closes the connection after the response (``Request.should_close()`` reads
        ``req.must_close``)."""
        self.req.must_close = True


def take_eager_continue(req: Any) -> bool:
    """Take the pending ``Expect: 100-continue`` off the request so gunicorn does not answer it.

    This is the only place that knows gunicorn's internals: since 25.0 the header policy in
    ``gunicorn/http/message.py`` sets ``req._expected_100_continue`` (False for HTTP/1.0, where
    the expectation must be ignored; unknown expectations were already answered 417), and
    ``wsgi.create()`` sends the 100 when it is set.
    """
    expected = bool(getattr(req, "_expected_100_continue", False))
    if expected:
        req._expected_100_continue = False
    return expected


def _no_receive_timeout(seconds: float | None) -> None:
    return None


def _buffered_whole(req: Any, length: int | None) -> bool:
    """Whether gunicorn already holds the whole declared body in memory (read with the head, as
    a small body is): then no receive can stall, and the body timeout needs no socket timeout
    (two ``settimeout`` calls, four system calls, saved per small request).

    Reads gunicorn's private read-ahead buffer (``req.unreader.buf``, an ``io.BytesIO`` that
    ``gunicorn/http/unreader.py`` seeks to its end before every use); False whenever it is not
    there.
    """
    if length is None:
        return False
    buf = getattr(getattr(req, "unreader", None), "buf", None)
    if not isinstance(buf, io.BytesIO):
        return False
    return buf.seek(0, io.SEEK_END) >= length


class _BoundedSocket:
    """The client socket as gunicorn's unreader sees it during the app's body reads: when a
    minimum rate applies, each ``recv`` waits at most ``body.rate_bound()`` (the idle timeout or
    the rate's time left, whichever is shorter); everything else is the socket's."""

    __slots__ = ("_body", "_sock")

    def __init__(self, sock: Any, body: ExpectContinueInput) -> None:
        self._sock = sock
        self._body = body

    def recv(self, size: int, *flags: int) -> bytes:
        bound = self._body.rate_bound()
        if bound is None:
            return bytes(self._sock.recv(size, *flags))
        self._sock.settimeout(bound)
        data = bytes(self._sock.recv(size, *flags))
        self._body.note_received(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _socket_of(req: Any) -> socket.socket | None:
    """The client socket of an HTTP/1 request (HTTP/2 streams have none: they are lazy already)."""
    sock = getattr(getattr(req, "unreader", None), "sock", None)
    # Duck-typed: the gevent worker's sockets are gevent's own class.
    return cast(socket.socket, sock) if hasattr(sock, "sendall") else None
