"""The ``wsgi.input`` that sends ``100 Continue`` on first read (PEP 3333, option 2).

This is the one object a server adapter (``django_expect.gunicorn``) and the Django adapter
(``django_expect.middleware``) share; it imports neither. The server adapter builds it around the
server's own body stream with two callbacks, and the Django adapter finds it as
``environ["wsgi.input"]``.

States (plain, inspectable, like h11's ``they_are_waiting_for_100_continue``)::

    NOT_EXPECTED -- the client is not waiting for a 100 (no Expect, HTTP/1.0, no body)
    AWAITING     -- the client is waiting; the first read (or send_continue()) sends the 100
    SENT         -- the 100 went out; reads pass through
    WITHHELD     -- a final status goes out without a 100; the body is never invited, reading
                    it is an error, and the connection closes after the response

Invariants: at most one 100 per request; no 100 once ``seal()`` (the final response) has
happened; every path that leaves an announced body unread ends with ``close_connection``
having been called, so leftover bytes are never parsed as another request.

Failures while the body is read are never silent: a body that stops arriving for
``body_timeout`` seconds raises :class:`BodyTimeout`, a body that ends before its declared
length (or whose connection breaks) raises :class:`IncompleteBody`, a body that arrives slower on
average than ``min_rate`` once ``min_rate_grace`` has passed raises :class:`BodyTooSlow` (a
:class:`BodyTimeout`; the check is :class:`RateMeter`, here only). All are ``OSError`` (Django
re-raises them as ``UnreadablePostError`` with this one as the cause), both are remembered in
``failure`` and close the connection, so a partial body never passes for a whole one.
"""

from __future__ import annotations

import enum
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import NamedTuple, Protocol

from django_expect.fileobj import ReadOnlyStream

__all__ = [
    "BodyFailed",
    "BodyNotRequested",
    "BodyTimeout",
    "BodyTooSlow",
    "ContinueState",
    "ExpectContinueInput",
    "IncompleteBody",
    "RateMeter",
    "SocketReceiveTimeout",
    "TimeLimits",
]


#: ``request.META`` key under which an ASGI request's :class:`ExpectContinueInput` is found (the
#: ASGI counterpart of ``wsgi.input``): ``django_expect.asgi`` puts it there, ``ExpectMiddleware``
#: looks there. Public as ``django_expect.asgi.INPUT_KEY``; defined here, below both.
ASGI_INPUT_KEY = "django_expect.input"


class BodyNotRequested(OSError):
    """The body was read after the server decided not to ask for it (a rejection was sent)."""


class BodyFailed(OSError):
    """Reading the request body failed; the request cannot be completed on this connection."""


class BodyTimeout(BodyFailed, TimeoutError):
    """No body byte arrived for ``body_timeout`` seconds (answered 408)."""


class BodyTooSlow(BodyTimeout):
    """The body arrived slower than ``min_rate`` after the grace period (answered 408)."""


class RateMeter:
    """A minimum average body data rate with a grace period (Kestrel's MinRequestBodyDataRate).

    Sans-IO: times and byte counts in, decisions out. The body is invited at ``start``; after
    ``received`` bytes it must be complete or keep arriving until
    ``start + grace + received / rate``: each byte buys ``1 / rate`` seconds. Every adapter
    asks :meth:`time_left` before each receive and bounds that receive by it, so a client that
    trickles one byte just inside the idle timeout is cut at ``grace + received / rate``.
    """

    __slots__ = ("grace", "rate", "start")

    def __init__(self, rate: float, grace: float, start: float) -> None:
        self.rate = rate
        self.grace = grace
        self.start = start

    def deadline(self, received: int) -> float:
        return self.start + self.grace + received / self.rate

    def time_left(self, now: float, received: int) -> float:
        """Seconds the next receive may wait; 0 or less: the body is too slow."""
        return self.deadline(received) - now

    def describe(self, now: float, received: int) -> str:
        elapsed = now - self.start
        return (
            f"the body arrived at {received} bytes in {elapsed:.1f} seconds, slower than "
            f"{self.rate:g} bytes per second after a {self.grace:g} second grace period"
        )


class IncompleteBody(BodyFailed):
    """The body ended (or the connection broke) before its declared length (answered 400)."""


def _no_timeout(seconds: float | None) -> None:
    return None


class TimeLimits(NamedTuple):
    """How long one request's body may take, resolved for the request
    (``django_expect.resolution.EffectivePolicy.time_limits``) and applied to its input by
    :meth:`ExpectContinueInput.apply_time_limits`: the one per-request timeout."""

    #: Seconds one receive may wait for a body byte (None: no bound).
    body_timeout: float | None = None
    #: Bytes per second the body must average once ``min_rate_grace`` has passed (None: none).
    min_rate: float | None = None
    min_rate_grace: float = 0.0


class SocketReceiveTimeout:
    """``set_receive_timeout`` for an adapter that holds the client socket (gunicorn,
    runserver): a number bounds each receive (and the 100's send) by ``settimeout``; None, or
    :meth:`restore`, gives the socket back the timeout it had before the first bound."""

    __slots__ = ("_prior", "_set", "sock")

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock
        self._set = False
        self._prior: float | None = None

    def __call__(self, seconds: float | None) -> None:
        if seconds is None:
            self.restore()
        elif self.sock is not None:
            if not self._set:
                self._prior = self.sock.gettimeout()
                self._set = True
            self.sock.settimeout(seconds)

    def restore(self) -> None:
        if self._set and self.sock is not None:
            self._set = False
            try:
                self.sock.settimeout(self._prior)
            except OSError:  # the socket is already closed: nothing to restore
                pass


class ContinueState(enum.Enum):
    NOT_EXPECTED = "not-expected"
    AWAITING = "awaiting"
    SENT = "sent"
    WITHHELD = "withheld"


class _Readable(Protocol):
    def read(self, size: int | None = ..., /) -> bytes: ...

    def readline(self, size: int | None = ..., /) -> bytes: ...


class ExpectContinueInput(ReadOnlyStream):
    """Wrap a server's body stream; invite the body (``100 Continue``) only when it is read.

    A file object (``io.IOBase``: readable, not seekable). ``close()`` closes this input for
    the application; the server may still drain the connection through it once the response
    is sealed.

    The per-request state that starts at a constant starts as a class attribute (set on the
    instance only when it changes): building one costs a handful of attribute writes.

    ``send_continue`` writes the interim response on the connection; ``close_connection`` makes
    the server close the connection after the response instead of keeping it alive.
    """

    _timeout_applied = False
    sealed = False  # the final response has started
    closing = False  # the connection will close after the response
    bytes_read = 0
    body_timeout: float | None = None  # set by the Django adapter from the policy
    failure: BodyFailed | None = None  # the first failure while reading, if any
    #: Called after the 100 went out (the Django adapter adds ``continue_sent`` here with
    #: :meth:`add_continue_listener`).
    continue_listeners: tuple[Callable[[], None], ...] = ()
    #: Minimum average rate (bytes/s) and its grace (s), set by the Django adapter.
    min_rate: float | None = None
    min_rate_grace: float = 0.0
    meter: RateMeter | None = None  # started when the body is first read
    _bounded_by_rate = False  # the last receive bound given was the rate's
    #: Bytes an adapter's lower-level receives took in (see :meth:`note_received`).
    received_below = 0
    clock: Callable[[], float] = time.monotonic

    def __init__(
        self,
        stream: _Readable,
        *,
        awaiting: bool,
        send_continue: Callable[[], None],
        close_connection: Callable[[], None],
        length: int | None = None,
        set_receive_timeout: Callable[[float | None], None] = _no_timeout,
    ) -> None:
        self._stream = stream
        self._send_continue = send_continue
        self._close_connection = close_connection
        #: ``set_receive_timeout(seconds)`` bounds the server's receives from the client;
        #: ``set_receive_timeout(None)`` lifts the bound again (the body is complete).
        self._set_receive_timeout = set_receive_timeout
        self.state = ContinueState.AWAITING if awaiting else ContinueState.NOT_EXPECTED
        self.length = length  # the declared Content-Length (None: chunked or unknown)

    def apply_time_limits(self, limits: TimeLimits) -> None:
        """Bound the body's reads by ``limits`` (the Django adapter, once the head passed)."""
        self.body_timeout, self.min_rate, self.min_rate_grace = limits

    def add_continue_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` once the 100 went out."""
        self.continue_listeners = (*self.continue_listeners, listener)

    # -- decisions -------------------------------------------------------------------------

    def send_continue(self) -> bool:
        """Invite the body now if the client is waiting. Returns whether a 100 was sent.

        A client that went away before the 100 (reset, broken pipe) or stopped reading raises
        ``IncompleteBody`` or ``BodyTimeout``, as a read would: the body will never come.
        """
        if self.state is not ContinueState.AWAITING or self.sealed:
            return False
        self.state = ContinueState.SENT
        try:
            self._send_continue()
        except TimeoutError as error:
            raise self._fail(
                BodyTimeout(f"the 100 Continue could not be sent for {self.body_timeout} seconds"),
                error,
            ) from error
        except OSError as error:
            raise self._fail(
                IncompleteBody(f"the client went away before the 100 Continue: {error!r}"), error
            ) from error
        for listener in self.continue_listeners:
            listener()
        return True

    def withhold(self) -> None:
        """A final status goes out instead of the body: never invite it; close afterwards."""
        if self.state is ContinueState.AWAITING:
            self.state = ContinueState.WITHHELD
        self.close_connection()

    def close_connection(self) -> None:
        """Close the connection after the response (the body is not, or not fully, read)."""
        if not self.closing:
            self.closing = True
            self._close_connection()

    def seal(self) -> None:
        """The final response is starting: a client still waiting will not be invited."""
        self.sealed = True
        if self.state is ContinueState.AWAITING:
            self.withhold()

    @property
    def awaiting_continue(self) -> bool:
        return self.state is ContinueState.AWAITING

    @property
    def failed(self) -> bool:
        """gunicorn's keep-alive drain reads this: True means 'close, do not drain'."""
        return (
            self.closing or self.failure is not None or bool(getattr(self._stream, "failed", False))
        )

    def receive_timeout(self) -> float | None:
        """Seconds the next receive from the client may wait: ``body_timeout`` or the time the
        rate meter leaves, whichever is shorter. Raises :class:`BodyTooSlow` when none is left.

        The one check of the minimum rate: this input calls it before each read of the
        server's stream, and adapters that can reach their lower-level receives (gunicorn's
        socket, the ASGI ``receive()``, runserver's socket) call it before each of those.
        """
        if self.meter is None:
            return self.body_timeout
        now = self.clock()
        left = self.meter.time_left(now, self.bytes_received())
        if left <= 0:
            raise self._fail(BodyTooSlow(self.meter.describe(now, self.bytes_received())), None)
        # A receive that times out under this bound was cut by the rate, not by idleness
        # (timers may fire a hair early, so the clock alone cannot tell afterwards).
        self._bounded_by_rate = self.body_timeout is None or left < self.body_timeout
        return left if self.body_timeout is None else min(left, self.body_timeout)

    def rate_bound(self) -> float | None:
        """The bound of an adapter's next lower-level receive while a minimum rate applies
        (:meth:`receive_timeout`: it shrinks with every receive); None when no rate applies or
        the response has started, and the bound given to ``set_receive_timeout`` stands.

        The one question every adapter that loops over receives inside one ``read()`` asks
        before each receive (gunicorn's socket, runserver's ``rfile``, the ASGI ``receive()``).
        """
        if self.meter is None or self.sealed:
            return None
        return self.receive_timeout()

    def note_received(self, count: int) -> None:
        """An adapter's lower-level receive took in ``count`` bytes (one ``read()`` of the
        server's stream may loop over many receives; the meter counts each)."""
        self.received_below += count

    def bytes_received(self) -> int:
        """Body bytes received from the client so far (the server may have buffered more than
        the application read)."""
        below = max(self.received_below, int(getattr(self._stream, "received", 0) or 0))
        return max(self.bytes_read, below)

    def _too_slow(self) -> BodyTooSlow | None:
        """After a receive timed out: the rate's failure if the meter's time was up."""
        if self.meter is None:
            return None
        now = self.clock()
        if not self._bounded_by_rate and self.meter.time_left(now, self.bytes_received()) > 0:
            return None
        return BodyTooSlow(self.meter.describe(now, self.bytes_received()))

    # -- the file-like interface -----------------------------------------------------------

    def _fail(self, failure: BodyFailed, cause: BaseException | None) -> BodyFailed:
        if self.failure is None:
            self.failure = failure
        self.close_connection()
        failure.__cause__ = cause
        return failure

    def _receive(self, read: Callable[[], bytes], size: int | None, *, line: bool) -> bytes:
        """One read of the server's stream: 100 first if due, bounded in time, checked for EOF.

        Once sealed, the reader is the server draining what the app left unread (gthread's
        keep-alive ``finish_body``): a failure then ends the drain (EOF, connection closes)
        instead of raising into the server, which would log it as a socket error.
        """
        if self.sealed:
            try:
                return self._receive_unsealed(read, size, line=line)
            except BodyFailed:
                return b""
        return self._receive_unsealed(read, size, line=line)

    def _receive_unsealed(
        self, read: Callable[[], bytes], size: int | None, *, line: bool
    ) -> bytes:
        if self.failure is not None:
            raise self.failure
        if self.state is ContinueState.WITHHELD:
            raise BodyNotRequested("the request body was not requested: a final status was sent")
        remaining = None if self.length is None else self.length - self.bytes_read
        if remaining == 0:
            return b""
        try:
            if not self._timeout_applied:
                # Once per request: the server adapter bounds every later receive (and the
                # 100's send) until the body is complete (below) or the response is done.
                self._timeout_applied = True
                if self.min_rate is not None:
                    self.meter = RateMeter(self.min_rate, self.min_rate_grace, self.clock())
                self._set_receive_timeout(self.receive_timeout())
            elif self.meter is not None:
                self._set_receive_timeout(self.receive_timeout())  # the rate's time shrinks
            if self.state is ContinueState.AWAITING:
                self.send_continue()
            data = read()
        except BodyFailed:  # from send_continue or the rate: already recorded
            raise
        except TimeoutError as error:
            slow = self._too_slow()
            raise self._fail(
                slow or BodyTimeout(f"no body byte arrived for {self.body_timeout} seconds"),
                error,
            ) from error
        except Exception as error:  # reset, broken pipe; gunicorn's NoMoreData, InvalidChunkSize
            raise self._fail(
                IncompleteBody(f"the body is incomplete or malformed: {error!r}"), error
            ) from error
        self.bytes_read += len(data)
        if remaining is not None:
            wanted = remaining if size is None or size < 0 else min(size, remaining)
            short = len(data) < wanted
            if short and not (line and data.endswith(b"\n")):
                raise self._fail(
                    IncompleteBody(
                        f"the body ended after {self.bytes_read} of {self.length} declared bytes"
                    ),
                    None,
                )
        if not data or (self.length is not None and self.bytes_read >= self.length):
            # The whole body is in: the response is sent without the receive bound.
            self._set_receive_timeout(None)
        return data

    def read(self, size: int | None = -1, /) -> bytes:
        self._check_readable()
        if size == 0:
            return b""
        return self._receive(partial(self._stream.read, size), size, line=False)

    def readline(self, size: int | None = -1, /) -> bytes:
        self._check_readable()
        if size == 0:
            return b""
        return self._receive(partial(self._stream.readline, size), size, line=True)

    def _check_readable(self) -> None:
        if self.closed and not self.sealed:  # once sealed, the server drains what is left
            raise ValueError("I/O operation on closed file.")
