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

import socket
import ssl
import struct
import time
from typing import Any, cast

from django_expect import closing
from django_expect.continuation import ExpectContinueInput

__all__ = ["post_request", "pre_request"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_CHUNK = 65536
_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: the close sends a reset


def pre_request(worker: Any, req: Any) -> None:
    """gunicorn hook: install the lazy ``100 Continue`` input for this request."""
    worker.log.debug("%s %s", req.method, req.path)
    install(req)


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    """gunicorn hook: no 100 after the response; close after a short drain if the body is unread."""
    finish(req, worker)


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
    connection.bound_receives(wrapped)
    return wrapped


def finish(req: Any, worker: Any = None) -> None:
    """After the response: seal the input; when the body was left unread, close by the policy."""
    body = getattr(req, "body", None)
    connection: _Connection | None = getattr(req, "django_expect_connection", None)
    if not isinstance(body, ExpectContinueInput) or connection is None:
        return
    body.seal()
    connection.unbind_receives()
    connection.restore_timeout()
    if body.closing:
        req.must_close = True
        if connection.sock is not None:
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

    __slots__ = ("prior_timeout", "req", "sock", "timeout_set", "unbound")

    def __init__(self, req: Any, sock: socket.socket | None) -> None:
        self.req = req
        self.sock = sock
        self.timeout_set = False
        self.prior_timeout: float | None = None
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
        self.sock.sendall(_CONTINUE)

    def close_connection(self) -> None:
        self.req.must_close = True

    def set_receive_timeout(self, seconds: float | None) -> None:
        """Bound each receive from the client (and the 100's send) while the app reads the body;
        ``None`` restores the connection's own timeout (the body is complete)."""
        if seconds is None:
            self.restore_timeout()
        elif self.sock is not None:
            if not self.timeout_set:
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


class _BoundedSocket:
    """The client socket as gunicorn's unreader sees it during the app's body reads: when a
    minimum rate applies, each ``recv`` waits at most ``body.receive_timeout()`` (the idle
    timeout or the rate's time left, whichever is shorter); everything else is the socket's."""

    __slots__ = ("_body", "_sock")

    def __init__(self, sock: Any, body: ExpectContinueInput) -> None:
        self._sock = sock
        self._body = body

    def recv(self, size: int, *flags: int) -> bytes:
        body = self._body
        if body.meter is None or body.sealed:
            return bytes(self._sock.recv(size, *flags))
        self._sock.settimeout(body.receive_timeout())
        data = bytes(self._sock.recv(size, *flags))
        body.note_received(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


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


def linger(
    sock: socket.socket,
    remaining: int | None = None,
    *,
    capacity: int = 1,
    seconds: float | None = None,
    max_connections: int | None = None,
) -> None:
    """Close a connection whose request body was left unread, by the close policy
    (:mod:`django_expect.closing`): half-close, then drain the rest of the body while it can
    arrive within the budget; else, once the response is acknowledged, make the coming close a
    reset if the client is still sending (which is what makes Chromium show the response).

    ``remaining``: declared body bytes not yet received (None: unknown); ``capacity``: how many
    connections the calling worker serves at once (1 for a sync worker); ``seconds`` and
    ``max_connections`` default to ``EXPECT_DRAIN_SECONDS`` / ``EXPECT_DRAIN_MAX_CONNECTIONS``.
    After this, reads on the socket return EOF at once, so the server's own close does not wait
    again and nothing that arrived is parsed as another request.
    """
    if isinstance(sock, ssl.SSLSocket):
        return  # TLS close_notify needs the full socket; gunicorn closes it itself.
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return
    budget, cap = _drain_settings(seconds, max_connections)
    plan = closing.slots.acquire(budget, capacity=capacity, max_connections=cap)
    try:
        _drain(sock, plan, remaining)
    except OSError:
        pass
    finally:
        closing.slots.release(plan)
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


def _drain_settings(seconds: float | None, max_connections: int | None) -> tuple[float, int]:
    if seconds is not None and max_connections is not None:
        return seconds, max_connections
    from django.core.exceptions import ImproperlyConfigured

    from django_expect.conf import conf
    from django_expect.sitewide import upload_settings

    try:
        # The budget may come from the admin's Upload settings (else EXPECT_DRAIN_SECONDS).
        budget, cap = upload_settings().drain_seconds, conf.EXPECT_DRAIN_MAX_CONNECTIONS
    except ImproperlyConfigured:  # Django settings not configured: the defaults
        budget, cap = closing.DEFAULT_DRAIN_SECONDS, closing.DEFAULT_DRAIN_MAX_CONNECTIONS
    return (
        budget if seconds is None else seconds,
        cap if max_connections is None else max_connections,
    )


def _drain(sock: socket.socket, plan: closing.DrainPlan, remaining: int | None) -> None:
    """Read and discard by ``plan``; return when the policy says done or close."""
    start = time.monotonic()
    # The backlog (what the kernel buffered while the app ran: megabytes, if the request was
    # slow) is read first, without waiting, and not counted in the rate. It ends when the kernel
    # has nothing more at once, or after a probe's time for a client faster than the reads.
    backlog_until = start + plan.probe
    backlog = 0
    sock.settimeout(0)
    while time.monotonic() < backlog_until and (remaining is None or remaining > 0):
        try:
            data = sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            break
        if not data:
            return
        backlog += len(data)
        if remaining is not None:
            remaining -= len(data)
    clock = time.monotonic()
    measured = 0
    eof = False
    while True:
        now = time.monotonic()
        step = closing.decide(
            plan,
            remaining=remaining,
            elapsed=now - start,
            measured_bytes=measured,
            measured_seconds=now - clock,
            eof=eof,
        )
        if step is not closing.Step.DRAIN:
            if step is closing.Step.CLOSE:
                # Let the response be acknowledged first: a reset discards what is unsent.
                _await_sent(sock, now + 1.0)
                if backlog or measured:
                    # The client is still sending: reset, so its next write fails now
                    # (Chromium then shows the response), not at its next segment. A client
                    # that sent nothing (an Expect client) gets a clean close.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
            return
        # Wake at least every probe interval to take the decision again.
        sock.settimeout(max(0.01, min(plan.probe, start + plan.seconds - now)))
        try:
            data = sock.recv(_CHUNK)
        except TimeoutError:
            continue
        if not data:
            eof = True
            continue
        measured += len(data)
        if remaining is not None:
            remaining -= len(data)


def _await_sent(sock: socket.socket, until: float) -> None:
    """Before an abortive close, let the response reach the client: a reset discards what is
    still unsent. Linux only (``TIOCOUTQ``: bytes not yet acknowledged); bounded by ``until``.
    Reads meanwhile, so the client's window stays open."""
    try:
        import fcntl
        import termios

        def unsent() -> int:
            packed = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
            return int.from_bytes(packed, "little", signed=True)

        while unsent() > 0:
            left = until - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(min(0.01, left))
            try:
                if not sock.recv(_CHUNK):
                    return
            except TimeoutError:
                continue
    except (ImportError, AttributeError, OSError):
        return
