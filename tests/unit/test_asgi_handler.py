"""django_expect.asgi in process: the handler, driven with a scripted ASGI receive/send.

``receive()`` is what makes an ASGI server send ``100 Continue``, so each test counts the calls:
a rejection must make none, an accepted body as many as it needs, and Django 5's
``listen_for_disconnect`` must not take a body message the view wanted. The streaming tests gate
the scripted server on the view's first read (events, bounded waits) to show the body is read
while it arrives, not spooled first (Django's own handler as the control), and measure the peak
of Python's allocations for a 64 MiB streamed body. Runs on every Django version the package
supports (no server, no database).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import tracemalloc
from collections.abc import Mapping
from typing import Any

import pytest
from asgiref.sync import markcoroutinefunction
from django import urls
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse, JsonResponse
from django.test import override_settings
from django.views.decorators.csrf import csrf_exempt

from django_expect import upload_policy
from django_expect.asgi import ASGIBody, ExpectASGIHandler, get_asgi_application, read_ahead
from django_expect.signals import continue_sent, upload_rejected
from tests.fakes import upload_head

BODY = b"0123456789abcdef" * 50  # 800 bytes
SHA = hashlib.sha256(BODY).hexdigest()


class Server:
    """A scripted ASGI server: body messages on demand, then nothing until disconnect."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = list(messages)
        self.receives = 0
        self.sent: list[Mapping[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.receives += 1
        if self.messages:
            return self.messages.pop(0)
        await asyncio.Event().wait()  # a real server waits for the client to go away
        raise AssertionError("unreachable")

    async def send(self, message: Mapping[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return {k.lower(): v for k, v in self.sent[0]["headers"]}

    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


def scope(
    path: str, headers: dict[str, str], method: str = "POST", version: str = "1.1"
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": version,
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def pieces(data: bytes, size: int = 300) -> list[dict[str, Any]]:
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]


@pytest.fixture(scope="module")
def app() -> ExpectASGIHandler:
    return get_asgi_application()


def serve(app: ExpectASGIHandler, request_scope: dict[str, Any], server: Server) -> Server:
    asyncio.run(asyncio.wait_for(app(request_scope, server.receive, server.send), 30))
    return server


@pytest.mark.parametrize("path", ["/lab/small", "/lab/async", "/lab/class"])
def test_a_rejection_never_calls_receive(app: ExpectASGIHandler, path: str) -> None:
    server = serve(app, scope(path, upload_head(5000)), Server(pieces(b"x" * 5000)))
    assert server.receives == 0  # no receive(): no 100 from the server, no body byte
    assert server.status == 413
    assert server.headers[b"connection"] == b"close"
    assert server.json()["error"]["code"] == "content_too_large"


@pytest.mark.parametrize("path", ["/lab/small", "/lab/class", "/lab/async", "/lab/after-checks"])
def test_an_accepted_body_reaches_the_view_whole(app: ExpectASGIHandler, path: str) -> None:
    server = serve(app, scope(path, upload_head(len(BODY))), Server(pieces(BODY)))
    assert server.status == 200
    assert server.json()["sha256"] == SHA
    assert b"connection" not in server.headers  # keep-alive
    # Every body message went to the view; listen_for_disconnect (Django 5) only waited after.
    assert server.receives >= len(pieces(BODY))


def test_no_receive_for_an_empty_body_with_expect(app: ExpectASGIHandler) -> None:
    server = serve(app, scope("/lab/small", upload_head(0)), Server(pieces(b"")))
    assert server.receives == 0  # uvicorn would send a needless 100 on any receive()
    assert server.status == 200
    assert server.json()["size"] == 0


def test_http_1_0_expect_is_ignored(app: ExpectASGIHandler) -> None:
    server = serve(
        app, scope("/lab/refuse", upload_head(len(BODY)), version="1.0"), Server(pieces(BODY))
    )
    assert server.status == 200  # not 417: the Expect of an HTTP/1.0 request does not count
    assert server.json()["sha256"] == SHA


def test_a_chunked_body_is_capped(app: ExpectASGIHandler) -> None:
    headers = {"Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"}
    server = serve(app, scope("/lab/body", headers), Server(pieces(b"z" * 150_000, 8192)))
    assert server.status == 413
    assert server.headers[b"connection"] == b"close"
    assert server.receives < len(pieces(b"z" * 150_000, 8192))  # stopped past the limit


def test_a_disconnect_mid_body_answers_400(app: ExpectASGIHandler) -> None:
    messages = [*pieces(BODY[:300])[:-1], {"type": "http.disconnect"}]
    messages[0]["more_body"] = True
    server = serve(app, scope("/lab/echo", upload_head(len(BODY))), Server(messages))
    assert server.status == 400
    assert server.json()["error"]["code"] == "incomplete_body"


def test_an_async_view_reads_a_chunked_body_capped(app: ExpectASGIHandler) -> None:
    headers = {"Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"}
    server = serve(app, scope("/lab/async", headers), Server(pieces(b"y" * 5000, 512)))
    assert server.status == 413  # /lab/async allows 1000 bytes


def test_a_view_that_does_not_read_closes_the_connection(app: ExpectASGIHandler) -> None:
    server = serve(app, scope("/lab/noread", upload_head(len(BODY))), Server(pieces(BODY)))
    assert server.receives == 0
    assert server.status == 200
    assert server.headers[b"connection"] == b"close"


def test_a_get_is_served_as_by_djangos_handler(app: ExpectASGIHandler) -> None:
    server = serve(app, scope("/lab/small", {}, method="GET"), Server(pieces(b"")))
    assert server.status == 200
    assert server.json()["size"] == 0


def test_signals_fire_as_under_wsgi(app: ExpectASGIHandler) -> None:
    seen: list[tuple[str, str]] = []

    def rejected(sender: Any, request: Any, decision: Any, route: str, **kw: Any) -> None:
        seen.append(("rejected", route))

    def invited(sender: Any, request: Any, route: str, **kw: Any) -> None:
        seen.append(("continue", route))

    upload_rejected.connect(rejected)
    continue_sent.connect(invited)
    try:
        serve(app, scope("/lab/small", upload_head(5000)), Server(pieces(b"x" * 5000)))
        serve(app, scope("/lab/small", upload_head(len(BODY))), Server(pieces(BODY)))
        serve(app, scope("/lab/small", upload_head(len(BODY), expect=False)), Server(pieces(BODY)))
    finally:
        upload_rejected.disconnect(rejected)
        continue_sent.disconnect(invited)
    assert seen == [("rejected", "lab-small"), ("continue", "lab-small")]


def test_the_body_reads_across_message_boundaries() -> None:
    data = b"line one\nline two\n" + bytes(range(256)) * 40 + b"\ntail"
    server = Server(pieces(data, 7))

    async def main() -> list[bytes]:
        body = ASGIBody(server.receive, asyncio.get_running_loop())
        got = [await body.areadline(), await body.areadline(4), await body.areadline()]
        got.append(await body.aread(1000))

        def in_a_thread() -> list[bytes]:  # the sync path: receive() runs on the loop
            return [body.read(5000), body.readline(), body.read()]

        got += await asyncio.to_thread(in_a_thread)
        assert body.finished
        return got

    got = asyncio.run(asyncio.wait_for(main(), 30))
    assert got[:3] == [b"line one\n", b"line", b" two\n"]
    assert b"".join(got) == data
    assert got[-1] == b"" or got[-1].endswith(b"tail")


def test_keep_alive_when_the_end_of_body_message_comes_after_the_declared_bytes(
    app: ExpectASGIHandler,
) -> None:
    """gunicorn's ASGI worker may hand over the last bytes with more_body=True and end the body
    with an empty message: every declared byte received is a whole body (no close), and
    Django 5's listen_for_disconnect takes that empty message itself, not the view."""
    messages = [{**m, "more_body": True} for m in pieces(BODY)]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    server = serve(app, scope("/lab/small", upload_head(len(BODY))), Server(messages))
    assert server.status == 200
    assert server.json()["sha256"] == SHA
    assert b"connection" not in server.headers


class ReadsBodyMiddleware:
    """An async-only middleware after ExpectMiddleware that reads the body in process_view."""

    sync_capable = False
    async_capable = True
    read_ahead_first = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: Any) -> Any:
        return await self.get_response(request)

    async def process_view(self, request: Any, view: Any, args: Any, kwargs: Any) -> Any:
        if self.read_ahead_first:
            await read_ahead(request)
        try:
            request.body_seen = len(request.body)
        except RuntimeError as error:
            return HttpResponse(str(error), status=599)
        return None


def _with_reading_middleware() -> ExpectASGIHandler:
    from django.conf import settings

    middleware = list(settings.MIDDLEWARE)
    at = middleware.index("django_expect.middleware.ExpectMiddleware") + 1
    middleware.insert(at, f"{__name__}.ReadsBodyMiddleware")
    with override_settings(MIDDLEWARE=middleware):
        return ExpectASGIHandler()


def test_async_middleware_reads_the_body_after_read_ahead() -> None:
    app = _with_reading_middleware()
    server = serve(app, scope("/lab/small", upload_head(len(BODY))), Server(pieces(BODY)))
    assert server.status == 200
    assert server.json()["sha256"] == SHA
    rejected = serve(app, scope("/lab/small", upload_head(5000)), Server(pieces(b"x" * 5000)))
    assert rejected.receives == 0  # ExpectMiddleware answered first: read_ahead never ran
    assert rejected.status == 413


def test_async_middleware_without_read_ahead_gets_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ReadsBodyMiddleware, "read_ahead_first", False)
    app = _with_reading_middleware()
    server = serve(app, scope("/lab/small", upload_head(len(BODY))), Server(pieces(BODY)))
    assert server.status == 599
    assert b"read_ahead" in b"".join(m.get("body", b"") for m in server.sent[1:])


# -- streaming: the view reads the body while it is still arriving ---------------------------------


class StreamProbe:
    """What the streaming view saw, shared with the scripted server (the view runs in a thread)."""

    def __init__(self) -> None:
        self.server: GatedServer | None = None  # the scripted server of a gated exchange
        self.first_read = threading.Event()  # set once the view's first read returned
        self.delivered_at_first_read = -1


probe = StreamProbe()
MiB = 2**20


@csrf_exempt
@upload_policy(max_size="128MiB")
def streaming_view(request: Any) -> JsonResponse:
    """Reads the body in 64 KiB pieces (the first one 1000 bytes), as a streaming upload would."""
    first = request.read(1000)
    if probe.server is not None:
        probe.delivered_at_first_read = probe.server.delivered
    probe.first_read.set()
    digest, size = hashlib.sha256(first), len(first)
    while chunk := request.read(64 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return JsonResponse({"size": size, "sha256": digest.hexdigest()})


@csrf_exempt
@upload_policy(max_size="128MiB")
def whole_body_view(request: Any) -> JsonResponse:
    """Reads ``request.body``: the whole body in memory (the memory test's control)."""
    body = request.body
    return JsonResponse({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})


urlpatterns = [urls.path("stream", streaming_view), urls.path("whole", whole_body_view)]


class GatedServer(Server):
    """A scripted server that delivers the first body message at once and every later one only
    once the view's first read has returned -- or, if that never happens (Django's own handler
    reads the whole body before any view runs), after one bounded wait, so the exchange ends.
    ``delivered`` counts the body messages handed to the application so far."""

    def __init__(self, messages: list[dict[str, Any]], gate: threading.Event, wait: float):
        super().__init__(messages)
        self.gate = gate
        self.wait = wait
        self.delivered = 0
        self.gate_timed_out = False

    async def receive(self) -> dict[str, Any]:
        waits = self.messages and self.delivered >= 1 and not self.gate_timed_out
        if waits and not await asyncio.to_thread(self.gate.wait, self.wait):
            self.gate_timed_out = True
        if self.messages:
            self.delivered += 1
        return await super().receive()


def serve_gated(app: Any, size: int, wait: float) -> GatedServer:
    global probe
    probe = StreamProbe()
    data = bytes(range(256)) * (size // 256)
    probe.server = server = GatedServer(pieces(data, 64 * 1024), probe.first_read, wait)
    with override_settings(ROOT_URLCONF=__name__):
        serve(app, scope("/stream", upload_head(len(data))), server)
    assert server.status == 200
    assert server.json() == {"size": size, "sha256": hashlib.sha256(data).hexdigest()}
    return server


def test_the_view_reads_the_body_while_it_is_still_arriving(app: ExpectASGIHandler) -> None:
    """The body is not spooled before the view runs: the view's first read returns when one body
    message of 16 has been received, and the next ones are asked for only after it."""
    server = serve_gated(app, MiB, wait=30)  # the wait only bounds a hang
    assert probe.delivered_at_first_read == 1
    assert not server.gate_timed_out
    assert server.delivered == 16


def test_control_djangos_own_handler_spools_the_body_before_the_view() -> None:
    """Django's ASGIHandler under the same scripted server: the view's first read comes only
    after every body message was received (the gate never opened; the wait let it finish)."""
    server = serve_gated(ASGIHandler(), MiB, wait=2)
    assert probe.delivered_at_first_read == 16
    assert server.gate_timed_out


class EndlessServer(Server):
    """Hands over ``count`` messages of one 64 KiB block (allocated once), then waits."""

    def __init__(self, count: int) -> None:
        super().__init__([])
        self.block = bytes(range(256)) * 256
        self.count = count

    async def receive(self) -> dict[str, Any]:
        self.receives += 1
        if self.count:
            self.count -= 1
            return {"type": "http.request", "body": self.block, "more_body": self.count > 0}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def peak_while_serving(app: Any, path: str, size: int) -> int:
    """Peak of Python's allocations (tracemalloc) while ``app`` serves a ``size``-byte upload."""
    global probe
    probe = StreamProbe()
    server = EndlessServer(size // (64 * 1024))
    with override_settings(ROOT_URLCONF=__name__):
        tracemalloc.start()
        try:
            serve(app, scope(path, upload_head(size, expect=False)), server)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert server.status == 200
    assert server.json()["size"] == size
    return peak


def test_memory_stays_bounded_for_a_view_that_streams(app: ExpectASGIHandler) -> None:
    """64 MiB read in 64 KiB pieces: the peak stays a small fraction of the body (the server's
    messages are one block allocated once, so what is counted is the handler's and the view's).
    Control: a view reading ``request.body`` peaks above the body's size, so the measure sees a
    body held whole."""
    size = 64 * MiB
    assert peak_while_serving(app, "/stream", size) < 8 * MiB
    assert peak_while_serving(app, "/whole", size) > size
