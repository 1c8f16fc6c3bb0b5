"""The common ASGI path costs what it uses: a head that needs nothing from django-expect's handler
goes to Django's own handling as it came, and ExpectMiddleware decides on the event loop (no
thread hop) when nothing in its decision can block or run the project's code.

No server, no database: the handler is driven with the scripted server of test_asgi_handler.py,
the middleware with RequestFactory requests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import resolve

from django_expect import middleware as middleware_module
from django_expect import overrides
from django_expect.asgi import exchange_head, get_asgi_application
from django_expect.middleware import ExpectMiddleware
from tests.fakes import upload_head
from tests.unit.test_asgi_handler import Server, pieces, scope


@pytest.mark.parametrize(
    ("headers", "version", "plain"),
    [
        ({}, "1.1", True),
        ({"Content-Length": "0"}, "1.1", True),
        ({"Content-Length": ""}, "1.0", True),
        ({"Accept": "text/html", "User-Agent": "x"}, "1.1", True),
        ({"Content-Length": "5"}, "1.1", False),
        ({"Transfer-Encoding": "chunked"}, "1.1", False),
        ({"Expect": "100-continue"}, "1.1", False),
        ({"Content-Length": "0", "Expect": "100-continue"}, "1.1", False),
        ({"Expect": "something-else"}, "1.1", False),
        ({}, "2", False),  # HTTP/2 responses carry no Connection header: the handler strips it
        ({"Content-Length": "x"}, "1.1", False),  # malformed framing: the core answers 400
    ],
)
def test_which_heads_go_to_djangos_own_handling(
    headers: dict[str, str], version: str, plain: bool
) -> None:
    assert (exchange_head(scope("/lab/small", headers, "GET", version)) is None) is plain


def test_a_get_is_handled_exactly_as_by_djangos_handler() -> None:
    """Same receive() calls, same messages sent, as Django's own ASGIHandler."""
    served = {}
    for name, app in (("django", ASGIHandler()), ("expect", get_asgi_application())):
        server = Server(pieces(b""))

        async def run(app: Any = app, server: Server = server) -> None:
            await asyncio.wait_for(
                app(scope("/lab/small", {}, "GET"), server.receive, server.send), 30
            )

        asyncio.run(run())
        served[name] = (server.receives, server.status, server.sent[1:])
    assert served["expect"] == served["django"]


def _request(length: int, **extra: str) -> Any:
    request = RequestFactory().post(
        "/lab/small",
        data=b"x" * length,
        content_type="application/octet-stream",
        **extra,
    )
    request.resolver_match = resolve("/lab/small")
    return request


async def _ok(request: Any) -> HttpResponse:
    return HttpResponse("ok")


def test_the_async_middleware_has_an_async_process_view() -> None:
    assert asyncio.iscoroutinefunction(ExpectMiddleware(_ok).process_view)
    assert not asyncio.iscoroutinefunction(ExpectMiddleware(lambda r: HttpResponse()).process_view)

    class Own(ExpectMiddleware):
        def process_view(self, *args: Any) -> Any:  # a project's override is kept as written
            return None

    assert not asyncio.iscoroutinefunction(Own(_ok).process_view)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every thread hop process_view makes (sync_to_async calls), still made."""
    made: list[Any] = []
    real = middleware_module.sync_to_async

    def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(func)
        return real(func, *args, **kwargs)

    monkeypatch.setattr(middleware_module, "sync_to_async", counting)
    return made


def test_an_accepted_static_policy_is_decided_on_the_loop(hops: list[Any]) -> None:
    overrides.registry.snapshot()  # settled, as after a process's first request
    middleware = ExpectMiddleware(_ok)
    request = _request(500, HTTP_EXPECT="100-continue")
    view = resolve("/lab/small").func
    assert asyncio.run(middleware.process_view(request, view, (), {})) is None
    assert hops == []
    get = RequestFactory().get("/lab/small")
    get.resolver_match = resolve("/lab/small")
    assert asyncio.run(middleware.process_view(get, view, (), {})) is None
    assert hops == []


def test_a_refusal_is_decided_in_the_sync_thread(hops: list[Any]) -> None:
    """Refusals log, count, signal and render: Django's sync thread, as before."""
    overrides.registry.snapshot()
    middleware = ExpectMiddleware(_ok)
    request = _request(5000, HTTP_EXPECT="100-continue")
    response = asyncio.run(middleware.process_view(request, resolve("/lab/small").func, (), {}))
    assert response is not None and response.status_code == 413
    assert len(hops) == 1


def test_a_policy_with_an_identity_is_decided_in_the_sync_thread(hops: list[Any]) -> None:
    middleware = ExpectMiddleware(_ok)
    request = RequestFactory().post(
        "/lab/login", data=b"x" * 10, content_type="application/octet-stream", **upload_head(10)
    )
    request.resolver_match = resolve("/lab/login")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    response = asyncio.run(middleware.process_view(request, resolve("/lab/login").func, (), {}))
    assert response is not None and response.status_code == 401
    assert len(hops) == 1


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every read that waited on the event loop from a thread (run_coroutine_threadsafe)."""
    made: list[Any] = []
    real = asyncio.run_coroutine_threadsafe

    def counting(coro: Any, loop: Any) -> Any:
        made.append(coro)
        return real(coro, loop)

    monkeypatch.setattr(asyncio, "run_coroutine_threadsafe", counting)
    return made


def test_a_body_without_expect_is_read_without_a_round_trip(round_trips: list[Any]) -> None:
    """Without Expect the first message is asked for when the input is made (no 100 is
    involved), before the view's thread starts: its read takes it without waiting on the loop.
    (With Expect nothing is asked for before the view reads: test_asgi_handler.py counts it.)"""
    body = b"x" * 800
    server = Server(pieces(body, 800))
    app = get_asgi_application()
    head = scope("/lab/small", upload_head(len(body), expect=False))
    asyncio.run(asyncio.wait_for(app(head, server.receive, server.send), 30))
    assert server.status == 200
    assert server.json()["size"] == len(body)
    assert round_trips == []


@pytest.mark.django_db
def test_a_route_with_group_limits_is_decided_in_the_sync_thread(
    hops: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group limits look the uploader's groups up (a query): never on the event loop."""
    from django.contrib.auth.models import AnonymousUser
    from django.test import override_settings

    from django_expect.models import GroupLimit, PolicyOverride
    from django_expect.overrides import OverrideRegistry

    with override_settings(EXPECT_OVERRIDES_REFRESH=5):
        fresh = OverrideRegistry(background=False)
        monkeypatch.setattr(overrides, "registry", fresh)
        override = PolicyOverride.objects.create(route="lab-small")
        GroupLimit.objects.create(override=override, group="pro", max_size=10**9)
        fresh.snapshot()
        request = _request(500, HTTP_EXPECT="100-continue")
        request.user = AnonymousUser()
        view = resolve("/lab/small").func
        assert asyncio.run(ExpectMiddleware(_ok).process_view(request, view, (), {})) is None
    assert len(hops) == 1
