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
  and, when the body was left unread, closes the connection after a short bounded drain
  (lingering close), so a client that sends the body anyway still reads the response and
  leftover bytes are never parsed as another request.

Only names that are gunicorn settings are read from this module by ``-c python:``; everything
else here is private.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any, cast

from django_expect.continuation import ExpectContinueInput

__all__ = ["post_request", "pre_request"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: Upper bounds of the drain before closing a connection whose body was left unread.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 64 * 1024 * 1024


def pre_request(worker: Any, req: Any) -> None:
    """gunicorn hook: install the lazy ``100 Continue`` input for this request."""
    worker.log.debug("%s %s", req.method, req.path)
    install(req)


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    """gunicorn hook: no 100 after the response; close after a short drain if the body is unread."""
    finish(req)


def install(req: Any) -> ExpectContinueInput | None:
    """Wrap ``req.body`` (the future ``wsgi.input``) unless already wrapped."""
    body = getattr(req, "body", None)
    if body is None or isinstance(body, ExpectContinueInput):
        return body
    connection = _Connection(req, _socket_of(req))
    length = _declared_length(req)
    awaiting = take_eager_continue(req) and connection.sock is not None and length != 0
    wrapped = ExpectContinueInput(
        body,
        awaiting=awaiting,
        send_continue=connection.send_continue,
        close_connection=connection.close_connection,
        length=length,
        set_receive_timeout=connection.set_receive_timeout,
    )
    req.body = wrapped
    req.django_expect_connection = connection
    return wrapped


def finish(req: Any) -> None:
    body = getattr(req, "body", None)
    connection: _Connection | None = getattr(req, "django_expect_connection", None)
    if not isinstance(body, ExpectContinueInput) or connection is None:
        return
    body.seal()
    connection.restore_timeout()
    if body.closing:
        req.must_close = True
        if connection.sock is not None:
            linger(connection.sock)


class _Connection:
    """What the continuation may do to the request's client connection (one per request)."""

    __slots__ = ("prior_timeout", "req", "sock", "timeout_set")

    def __init__(self, req: Any, sock: socket.socket | None) -> None:
        self.req = req
        self.sock = sock
        self.timeout_set = False
        self.prior_timeout: float | None = None

    def send_continue(self) -> None:
        assert self.sock is not None
        self.sock.sendall(_CONTINUE)

    def close_connection(self) -> None:
        self.req.must_close = True

    def set_receive_timeout(self, seconds: float | None) -> None:
        """Bound each receive from the client (and the 100's send) while the app reads the body;
        ``None`` restores the connection's own timeout (the body is complete)."""
        if seconds is None:
            self.restore_timeout()
        elif self.sock is not None and not self.timeout_set:
            self.prior_timeout = self.sock.gettimeout()
            self.timeout_set = True
            self.sock.settimeout(seconds)

    def restore_timeout(self) -> None:
        if self.timeout_set and self.sock is not None:
            self.timeout_set = False
            try:
                self.sock.settimeout(self.prior_timeout)
            except OSError:
                pass


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


def _socket_of(req: Any) -> socket.socket | None:
    """The client socket of an HTTP/1 request (HTTP/2 streams have none: they are lazy already)."""
    sock = getattr(getattr(req, "unreader", None), "sock", None)
    # Duck-typed: the gevent worker's sockets are gevent's own class.
    return cast(socket.socket, sock) if hasattr(sock, "sendall") else None


def _declared_length(req: Any) -> int | None:
    """The Content-Length gunicorn framed the body with: 0 without one, None for chunked."""
    length: int | None = 0
    for name, value in req.headers:
        if name == "TRANSFER-ENCODING":
            return None
        if name == "CONTENT-LENGTH":
            text = value.strip()
            length = int(text) if text.isascii() and text.isdigit() else None
    return length


def linger(sock: socket.socket) -> None:
    """Half-close, drain what the client still sends (bounded), then shut the read side.

    After this, reads on the socket return EOF at once, so gunicorn's own close does not wait
    again and nothing that arrived is parsed as another request.
    """
    if isinstance(sock, ssl.SSLSocket):
        return  # TLS close_notify needs the full socket; gunicorn closes it itself.
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return
    deadline = time.monotonic() + LINGER_SECONDS
    drained = 0
    try:
        while drained < LINGER_MAX_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            data = sock.recv(65536)
            if not data:
                break
            drained += len(data)
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
