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
length (or whose connection breaks) raises :class:`IncompleteBody`. Both are ``OSError`` (Django
re-raises them as ``UnreadablePostError`` with this one as the cause), both are remembered in
``failure`` and close the connection, so a partial body never passes for a whole one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import partial
from typing import Protocol

from django_expect.fileobj import ReadOnlyStream

__all__ = [
    "BodyFailed",
    "BodyNotRequested",
    "BodyTimeout",
    "ContinueState",
    "ExpectContinueInput",
    "IncompleteBody",
]


class BodyNotRequested(OSError):
    """The body was read after the server decided not to ask for it (a rejection was sent)."""


class BodyFailed(OSError):
    """Reading the request body failed; the request cannot be completed on this connection."""


class BodyTimeout(BodyFailed, TimeoutError):
    """No body byte arrived for ``body_timeout`` seconds (answered 408)."""


class IncompleteBody(BodyFailed):
    """The body ended (or the connection broke) before its declared length (answered 400)."""


def _no_timeout(seconds: float | None) -> None:
    return None


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
                self._set_receive_timeout(self.body_timeout)
            if self.state is ContinueState.AWAITING:
                self.send_continue()
            data = read()
        except BodyFailed:  # from send_continue: already recorded
            raise
        except TimeoutError as error:
            raise self._fail(
                BodyTimeout(f"no body byte arrived for {self.body_timeout} seconds"), error
            ) from error
        except BodyNotRequested:
            raise
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
