"""The ASGI entry point: Django's ASGI handler, with the body read only when Django reads it.

``get_asgi_application()`` replaces ``django.core.asgi.get_asgi_application()`` in a project's
``asgi.py``. Django's own ``ASGIHandler.handle()`` awaits ``read_body(receive)`` -- the whole body,
spooled to a temporary file -- before it builds the request or runs any middleware, so every
upload policy is decided after the body crossed. ASGI servers send ``100 Continue`` when the
application first calls ``receive()`` (uvicorn, gunicorn's ASGI worker, granian): an
application that does not call it before the decision withholds the 100.

This module owns the ASGI side of that, and nothing of the policy:

* A request that needs none of this (HTTP/1.x, no body, no ``Expect``: the common GET) is
  handed to Django's own ``ASGIHandler.handle`` as it came: no input, no wrapper, nothing
  allocated here (:func:`exchange_head`, one pass over the headers).
* :meth:`ExpectASGIHandler.read_body` returns an :class:`~django_expect.continuation
  .ExpectContinueInput` over :class:`ASGIBody` instead of a spooled file. For a request with
  ``Expect``, no ``receive()`` happens until the request body is first read (a body sent
  without ``Expect`` has its first message asked for at once: no server sends a 100 for it,
  and a sync view's first read then takes it without a round trip to the event loop); the
  same ``ExpectMiddleware.process_view`` (through
  ``django_expect.resolution.request_policy``) decides before that, exactly as under WSGI,
  with the same states (AWAITING, SENT, WITHHELD), errors (``BodyTimeout`` -> 408,
  ``IncompleteBody`` -> 400), statistics, signals and overrides.
* Sync code (middleware, sync views, DRF) runs in a thread; its reads run ``receive()`` on the
  server's event loop (``run_coroutine_threadsafe``) while the thread waits. Memory stays bounded
  by what the view asks for (``request.read(n)``); the server's flow control does the rest.
* Async views cannot block the event loop on a read, so before an async view runs (the policy
  has passed by then) its body is read -- through the same input, so limits, time-outs and
  signals apply -- into a spooled file, as Django would have done before the decision.
* Django 5.x's ``listen_for_disconnect()`` calls ``receive()`` beside the view; it waits here
  until the body has been read whole, so it never consumes a body message or sends a 100.
* A final response sent while the body is unread (a rejection, or a view that did not read)
  carries ``Connection: close``: the servers then close instead of parsing the leftover body.

Django's private names, each in one function: ``HttpRequest._stream`` in
``django_expect.streams.swap_request_stream`` (shared with the middleware's chunked-body cap),
and ``BaseHandler._get_response_async``'s use of ``resolve_request``'s result in
:func:`_calling` (the view it calls). The rest are ``ASGIHandler``'s overridable methods
(``handle``, ``read_body``, ``create_request``, ``listen_for_disconnect``) and
``BaseHandler.resolve_request``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import partial, wraps
from typing import Any, cast

import django
from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.http import HttpRequest, HttpResponseBase
from django.urls import ResolverMatch

from django_expect.bodylimit import capped_request_class
from django_expect.continuation import ASGI_INPUT_KEY, ExpectContinueInput
from django_expect.fileobj import ReadOnlyStream
from django_expect.framing import Framing, asgi_framing
from django_expect.signals import server_stopping
from django_expect.streams import swap_request_stream

__all__ = ["INPUT_KEY", "ExpectASGIHandler", "get_asgi_application", "read_ahead"]

logger = logging.getLogger("django_expect")

#: ``request.META`` key under which the request's :class:`ExpectContinueInput` is found (the
#: ASGI counterpart of ``wsgi.input``; ``ExpectMiddleware`` looks here).
INPUT_KEY = ASGI_INPUT_KEY

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_SPOOL_CHUNK = 64 * 1024


def get_asgi_application() -> ExpectASGIHandler:
    """The drop-in for ``django.core.asgi.get_asgi_application()``."""
    django.setup(set_prefix=False)
    return ExpectASGIHandler()


class ClientDisconnected(ConnectionResetError):
    """The server reported ``http.disconnect`` before the body was complete."""


class ASGIBody(ReadOnlyStream):
    """One request's ``http.request`` messages as a readable file, pulled on demand.

    Reads that the buffer can serve return at once; others await ``receive()`` on the event loop
    (submitted to it from a thread, or directly from a coroutine). ``invite()``
    starts a ``receive()`` without waiting for it: the server sends the 100 then.
    """

    def __init__(
        self, receive: Receive, loop: asyncio.AbstractEventLoop, length: int | None = None
    ) -> None:
        self._receive = receive
        self._loop = loop
        self._length = length  # the declared Content-Length (None: chunked)
        self._chunks: deque[bytes] = deque()  # received, not yet read (one copy when read)
        self._buffered = 0
        self._more = True  # another http.request message may come
        #: Reads need nothing more from the server: the last message, or every declared byte,
        #: was received (the end-of-body message after them is left to wait_until_read).
        self._done = False
        self._pending: asyncio.Future[Message] | None = None
        self.timeout: float | None = None  # seconds one receive() may wait (body_timeout)
        #: When set (a minimum rate applies), called before each receive() for its bound.
        self.bound: Callable[[], float | None] | None = None
        self.received = 0  # body bytes received from the server
        #: Set once reads need nothing more (Django may then listen for disconnect).
        self.complete = asyncio.Event()

    def set_timeout(self, seconds: float | None) -> None:
        """Bound each later ``receive()`` by ``seconds`` (None: no bound)."""
        self.timeout = seconds

    # -- pulling from the server (on the event loop) --------------------------------------

    def invite(self) -> None:
        """Start a ``receive()`` now (the server sends the 100 when it starts waiting)."""

        def start() -> None:
            if self._pending is None and self._more:
                self._pending = asyncio.ensure_future(self._receive())

        if _on_loop(self._loop):
            start()
        else:
            self._loop.call_soon_threadsafe(start)

    async def _pull(self) -> None:
        pending, self._pending = self._pending, None
        waiting: Awaitable[Message] = pending if pending is not None else self._receive()
        try:
            timeout = self.timeout if self.bound is None else self.bound()
            if timeout is None:
                message = await waiting
            else:
                message = await asyncio.wait_for(waiting, timeout)
        except BaseException:
            self._more, self._done = False, True
            raise
        self._accept(message)

    def _accept(self, message: Message) -> None:
        """One message the server delivered (on the loop, or in the thread that took it)."""
        if message.get("type") != "http.request":
            self._more, self._done = False, True
            raise ClientDisconnected(f"the client disconnected after {self.received} body bytes")
        data = bytes(message.get("body", b""))
        if data:
            self.received += len(data)
            self._chunks.append(data)
            self._buffered += len(data)
        if not message.get("more_body", False):
            self._more = False
        if not self._more or (self._length is not None and self.received >= self._length):
            self._done = True
            if _on_loop(self._loop):
                self.complete.set()
            else:
                self._loop.call_soon_threadsafe(self.complete.set)

    def _take_received(self) -> None:
        """Take the message of a started ``receive()`` that has already completed, in the
        reading thread: no round trip to the loop. (A finished future's state and result are
        final, so any thread may read them; the loop does not touch ``_pending`` while a read
        is under way.)"""
        pending = self._pending
        if pending is None or not pending.done() or pending.cancelled():
            return
        if pending.exception() is not None:
            return  # the loop's _pull raises it, as for any receive()
        self._pending = None
        self._accept(pending.result())

    async def aread(self, size: int | None = -1) -> bytes:
        while not self._done and (size is None or size < 0 or self._buffered < size):
            await self._pull()
        return self._take(size)

    async def areadline(self, size: int | None = -1) -> bytes:
        while (
            not self._done
            and not self._has_line()
            and (size is None or size < 0 or self._buffered < size)
        ):
            await self._pull()
        return self._take(self._line_end(size))

    def _has_line(self) -> bool:
        return any(b"\n" in chunk for chunk in self._chunks)

    def _take(self, size: int | None) -> bytes:
        """The first ``size`` buffered bytes (all if None or negative), copied once."""
        chunks = self._chunks
        if size is None or size < 0 or size >= self._buffered:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._buffered = 0
            return data
        parts = []
        need = size
        while need:
            chunk = chunks[0]
            if len(chunk) <= need:
                parts.append(chunks.popleft())
                need -= len(chunk)
            else:
                parts.append(chunk[:need])
                chunks[0] = chunk[need:]
                need = 0
        self._buffered -= size
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # -- the file interface (any thread) ----------------------------------------------------

    def read(self, size: int | None = -1, /) -> bytes:
        self._check_open()
        if not self._done and self._pending is not None:
            self._take_received()
        if self._done or (size is not None and 0 <= size <= self._buffered):
            return self._take(size)
        return self._blocking(self.aread, size)

    def readline(self, size: int | None = -1, /) -> bytes:
        self._check_open()
        if not self._done and self._pending is not None:
            self._take_received()
        if self._done or self._has_line():
            return self._take(self._line_end(size))
        return self._blocking(self.areadline, size)

    def _line_end(self, size: int | None) -> int:
        """Bytes up to and including the first newline (or all), at most ``size``."""
        end = 0
        for chunk in self._chunks:
            found = chunk.find(b"\n")
            if found >= 0:
                end += found + 1
                break
            end += len(chunk)
        return end if size is None or size < 0 else min(end, size)

    def check_readable(self, size: int | None, *, line: bool = False) -> None:
        """Raise RuntimeError for a read on the event loop that would have to wait for data.

        Such a read would block the loop that has to deliver the data: a programming error
        (an async view or middleware reading before :func:`read_ahead`), not a body failure.
        """
        if self._done or not _on_loop(self._loop):
            return
        if line and self._has_line():
            return
        if not line and size is not None and 0 <= size <= self._buffered:
            return
        raise RuntimeError(
            "the request body cannot be read synchronously on the event loop before it has "
            "arrived: read it in a sync view, or await django_expect.asgi.read_ahead(request)"
        )

    def _blocking(
        self, read: Callable[[int | None], Coroutine[Any, Any, bytes]], size: int | None
    ) -> bytes:
        self.check_readable(size)
        if self._loop.is_closed():
            raise ClientDisconnected("the server's event loop is gone")
        # On the server's loop whichever thread reads (asgiref's async_to_sync would start a
        # new loop in a thread it does not manage); the thread waits, the loop does not.
        return asyncio.run_coroutine_threadsafe(read(size), self._loop).result()

    # -- lifecycle (on the event loop) ----------------------------------------------------------

    @property
    def finished(self) -> bool:
        """The whole body has been received from the server (its end need not have been)."""
        return self._done

    async def wait_until_read(self, has_body: bool, expects_100: bool) -> None:
        """Return once ``receive()`` may be called for ``http.disconnect`` alone.

        A request without a body (and without a client waiting for a 100) has one empty
        message, consumed here; otherwise wait until the body was read whole (a body that is
        never read keeps this waiting until Django cancels it with the response).
        """
        try:
            if not has_body and not expects_100 and self._more and self._pending is None:
                await self._pull()
            await self.complete.wait()
            while self._more:  # the end-of-body message after the declared bytes
                await self._pull()
        except ClientDisconnected as error:
            raise RequestAborted() from error

    def cancel(self) -> None:
        """The exchange is over: drop a ``receive()`` started by ``invite()`` and never used."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _receive_bound(body_input: ExpectContinueInput, body: ASGIBody) -> float | None:
    """How long the next ``receive()`` may wait: the input's rate bound when a minimum rate
    applies (it raises ``BodyTooSlow`` when the rate's time is up), else ``body_timeout``."""
    bound = body_input.rate_bound()
    return body.timeout if bound is None else bound


class _LoopSafeInput(ExpectContinueInput):
    """``ExpectContinueInput`` over an :class:`ASGIBody` whose reads never block the event loop:
    a read on the loop that would wait for data raises before any state changes (a programming
    error, not a body failure: no 400, no 100)."""

    def __init__(self, body: ASGIBody, **kwargs: Any) -> None:
        super().__init__(body, **kwargs)
        self._body = body

    def read(self, size: int | None = -1, /) -> bytes:
        if self.length is None or self.bytes_read < self.length:
            self._body.check_readable(size)
        return super().read(size)

    def readline(self, size: int | None = -1, /) -> bytes:
        if self.length is None or self.bytes_read < self.length:
            self._body.check_readable(size, line=True)
        return super().readline(size)


class _Exchange:
    """One request's receive/send channel: the body it reads, what its response must say."""

    __slots__ = (
        "awaiting",
        "body",
        "close",
        "expects_100",
        "has_body",
        "http_version",
        "input",
        "length",
        "prefetch",
        "receive",
        "scope",
        "send",
    )

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, head: tuple[str, Framing, bool | None]
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.http_version, framing, expect = head
        self.length: int | None = framing.length  # None: chunked, or framing the core refuses
        self.has_body = framing.has_body
        #: The client sent ``Expect: 100-continue`` in HTTP/1.1 or later: a ``receive()``
        #: would make the server send a 100 (even with no body, on uvicorn).
        self.expects_100 = bool(expect) and self.http_version not in ("1.0", "0.9")
        self.awaiting = self.has_body and self.expects_100
        #: A body sent without any ``Expect`` (the client sends it anyway; no server sends a 100
        #: for it, uvicorn's httptools not even to HTTP/1.0): its first message is asked for at
        #: once, so a sync view's first read takes it without a round trip to the event loop.
        self.prefetch = self.has_body and expect is None
        self.close = False
        self.body: ASGIBody | None = None
        self.input: _LoopSafeInput | None = None

    def make_input(self) -> _LoopSafeInput:
        self.body = body = ASGIBody(self.receive, asyncio.get_running_loop(), self.length)
        self.input = _LoopSafeInput(
            body,
            awaiting=self.awaiting,
            send_continue=body.invite,
            close_connection=self.close_connection,
            length=self.length,
            set_receive_timeout=body.set_timeout,
        )
        body.bound = partial(_receive_bound, self.input, body)
        if self.prefetch:
            body.invite()
        return self.input

    def close_connection(self) -> None:
        self.close = True

    async def send_message(self, message: Message) -> None:
        if message.get("type") == "http.response.start":
            if self.input is not None:
                self.input.seal()  # no 100 after a final status
                if self.input.closing or (
                    self.body is not None and self.has_body and not self.body.finished
                ):
                    self.close = True
            if self.close or self.http_version.startswith(("2", "3")):
                # HTTP/2 and 3 have no Connection header (RFC 9113 8.2.2): the server decides.
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != b"connection"
                ]
                if self.close and not self.http_version.startswith(("2", "3")):
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
        await self.send(message)


def http_version(scope: Scope) -> str:
    """``scope["http_version"]`` as "1.0", "1.1" or "2" (granian 2.x reports HTTP/1.0 as "1")."""
    version = str(scope.get("http_version", "1.1"))
    return "1.0" if version in ("1", "1.0") else version


def exchange_head(scope: Scope) -> tuple[str, Framing, bool | None] | None:
    """What the handler must know of a request head, in one pass over its headers: the HTTP
    version, the body's framing and whether ``100-continue`` is expected (None: no ``Expect``
    field at all). None for the head
    that needs nothing from django-expect's handler: HTTP/1.x, no body (no Transfer-Encoding,
    Content-Length absent, empty or 0) and no ``Expect``; Django's own handler serves it as it
    is (there is no body to withhold, no 100 to send, no connection to close for it)."""
    version = http_version(scope)
    raw_headers = scope.get("headers", ())
    expect: bool | None = None  # None: no Expect at all; else whether it asks for 100-continue
    plain = version in ("1.1", "1.0")
    for raw_name, value in raw_headers:
        name = raw_name.lower()
        if name == b"expect":
            expect = bool(expect) or b"100-continue" in value.lower()
            plain = False
        elif name == b"transfer-encoding" or (
            name == b"content-length" and value not in _NO_LENGTH
        ):
            plain = False
    if plain:
        return None
    return version, asgi_framing(raw_headers), expect


_NO_LENGTH = frozenset((b"", b"0"))


class ExpectASGIHandler(ASGIHandler):
    """Django's ``ASGIHandler``, deciding upload policies before the body is requested."""

    #: Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` holds for every body read through
    #: ``request.body`` here, chunked ones included (django_expect.bodylimit).
    request_class = capped_request_class(ASGIRequest)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # Django's handler refuses it (ValueError)
            await _serve_lifespan(receive, send, type(self))
            return
        await super().__call__(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = exchange_head(scope)
        if head is None:  # the common GET: Django's own handling, nothing allocated here
            await super().handle(scope, receive, send)
            return
        exchange = _Exchange(scope, receive, send, head)
        receiver = _Receiver(exchange)
        try:
            await super().handle(scope, receiver, exchange.send_message)
        finally:
            if exchange.body is not None:
                exchange.body.cancel()

    async def read_body(self, receive: Receive) -> Any:
        """The body as an input read on demand (Django's reads it whole, here)."""
        if isinstance(receive, _Receiver):
            return receive.exchange.make_input()
        return await super().read_body(receive)

    def create_request(  # type: ignore[override]
        self, scope: Scope, body_file: Any
    ) -> tuple[HttpRequest | None, HttpResponseBase | None]:
        request, error = super().create_request(scope, body_file)
        if request is not None and isinstance(body_file, ExpectContinueInput):
            # The HTTP version for the decision (HTTP/1.0 ignores Expect) and the input for
            # ExpectMiddleware, as WSGI's environ has them.
            request.META["SERVER_PROTOCOL"] = f"HTTP/{http_version(scope)}"
            request.META[INPUT_KEY] = body_file
        return request, error

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        """Async views get their (accepted) body read ahead before they run."""
        match = super().resolve_request(request)
        body = request.META.get(INPUT_KEY)
        if isinstance(body, _LoopSafeInput) and iscoroutinefunction(match.func):
            return _calling(match, _reading_ahead(match.func))
        return match

    async def listen_for_disconnect(self, receive: Receive) -> None:
        if isinstance(receive, _Receiver) and receive.exchange.body is not None:
            exchange = receive.exchange
            assert exchange.body is not None
            await exchange.body.wait_until_read(exchange.has_body, exchange.expects_100)
        await super().listen_for_disconnect(receive)


async def _serve_lifespan(receive: Receive, send: Send, sender: type) -> None:
    """The ASGI lifespan protocol: startup is acknowledged; at shutdown ``server_stopping`` is
    sent (in a worker thread: receivers may use the database) before the shutdown is
    acknowledged. A receiver that raises is logged and does not fail the shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            results = await sync_to_async(server_stopping.send_robust, thread_sensitive=False)(
                sender
            )
            for receiver, result in results:
                if isinstance(result, Exception):
                    logger.error(
                        "django-expect: %r failed on server_stopping: %s", receiver, result
                    )
            await send({"type": "lifespan.shutdown.complete"})
            return


def _calling(match: ResolverMatch, view: Callable[..., Any]) -> ResolverMatch:
    """What ``resolve_request`` returns so that the handler calls ``view`` instead of
    ``match.func``, while ``request.resolver_match`` (set by ``resolve_request``) keeps the real
    view.

    Relies on ``django.core.handlers.base.BaseHandler._get_response_async`` (Django 5.2, 6.0
    and 6.1, tested) unpacking ``resolve_request``'s result as ``callback, callback_args,
    callback_kwargs`` and calling that callback (and ``process_view`` getting it).
    """
    return cast(ResolverMatch, (view, match.args, match.kwargs))


class _Receiver:
    """The ``receive`` Django is given: the server's, plus this request's exchange."""

    def __init__(self, exchange: _Exchange) -> None:
        self.exchange = exchange

    async def __call__(self) -> Message:
        return await self.exchange.receive()


def _reading_ahead(view: Callable[..., Any]) -> Callable[..., Any]:
    """An async view, called once its (accepted) body has been read into a spooled file."""

    @wraps(view)
    async def read_then_call(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        await read_ahead(request)
        return await view(request, *args, **kwargs)

    return read_then_call


async def read_ahead(request: HttpRequest) -> None:
    """Read the request's body ahead, off the event loop, so async code can then read it.

    Done for every async view. Async middleware placed after ``ExpectMiddleware`` that reads
    ``request.POST`` calls it first (the policy has passed once ``process_view`` has run). The
    bytes go through the same input as a sync read (limits, ``body_timeout``, signals) into a
    spooled file (``FILE_UPLOAD_MAX_MEMORY_SIZE`` in memory, the rest on disk, as Django's own
    handler does). No-op outside ``ExpectASGIHandler`` and for requests without a body.
    """
    body = request.META.get(INPUT_KEY)
    if not isinstance(body, _LoopSafeInput) or body.length == 0:
        return
    if isinstance(swap_request_stream(request), _SpooledBody):
        return
    await sync_to_async(_spool_body)(request)


def _spool_body(request: HttpRequest) -> None:
    source = swap_request_stream(request)
    # Owned by the _SpooledBody that replaces the request's stream (closed with the request).
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
    try:
        while chunk := source.read(_SPOOL_CHUNK):
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    swap_request_stream(request, _SpooledBody(spool))


class _SpooledBody(io.BufferedIOBase):
    """The request's stream once read ahead: the spooled bytes, a seekable file (Django 6.0.4+
    then checks their real size against its cap before reading them)."""

    def __init__(self, spool: Any) -> None:
        self._spool = spool

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        return int(self._spool.seek(offset, whence))

    def tell(self) -> int:
        return int(self._spool.tell())

    def read(self, size: int | None = -1, /) -> bytes:
        return bytes(self._spool.read(-1 if size is None else size))

    def read1(self, size: int | None = -1, /) -> bytes:
        return self.read(size)

    def readline(self, size: int | None = -1, /) -> bytes:
        return bytes(self._spool.readline(-1 if size is None else size))

    def close(self) -> None:
        self._spool.close()
        super().close()
