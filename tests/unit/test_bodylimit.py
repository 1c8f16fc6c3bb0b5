"""A route's max_size replaces DATA_UPLOAD_MAX_MEMORY_SIZE; Django's own caps answer 413.

Through Django's test clients (the test project's whole middleware stack, WSGI and ASGI) and
``django_expect.bodylimit`` directly. Run on every supported Django (5.2, 6.0, 6.1): the
technique depends on Django's code (see ``bodylimit._request_class``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import django
import pytest
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.test.client import encode_multipart
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from django_expect import stats, upload_policy
from django_expect.bodylimit import ExceededLimit, exceeded_limit, limit_body
from django_expect.checks import check_body_limits
from django_expect.routes import describe_routes
from django_expect.signals import upload_rejected

DJANGO_CAP = 2_621_440  # Django's default DATA_UPLOAD_MAX_MEMORY_SIZE
OVER_DJANGO = 3_000_000  # over Django's cap, under /lab/bigbody's and /lab/bigform's 10 MiB
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def rejections() -> Any:
    seen: list[dict[str, Any]] = []

    def record(sender: Any, request: HttpRequest, decision: Any, route: str, **kw: Any) -> None:
        seen.append({"route": route, "code": decision.reason.value, "limit": decision.limit})

    upload_rejected.connect(record)
    yield seen
    upload_rejected.disconnect(record)


def count(route: str) -> int:
    """Pending rejection counts (content_too_large, 413) of ``route`` in this process."""
    return sum(
        n
        for (_, r, reason, status), n in stats.buffer.pending().items()
        if (r, reason, status) == (route, "content_too_large", 413)
    )


def error(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json", response.content[:300]
    document: dict[str, Any] = json.loads(response.content)["error"]
    return document


def multipart(fields: dict[str, Any]) -> bytes:
    return encode_multipart("BoUnDaRy", fields)


MULTIPART = "multipart/form-data; boundary=BoUnDaRy"


# -- the view's max_size is the limit, larger than Django's ---------------------------------------


def test_raw_body_over_djangos_cap_under_the_views(client: Client) -> None:
    response = client.post("/lab/bigbody", b"x" * OVER_DJANGO, content_type="application/x-raw")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["size"] == OVER_DJANGO


def test_urlencoded_form_over_djangos_cap_under_the_views(client: Client) -> None:
    body = urlencode({"note": "x" * OVER_DJANGO})
    response = client.post("/lab/bigform", body, content_type=FORM)
    assert response.status_code == 200, response.content[:300]
    assert response.json() == {"fields": {"note": OVER_DJANGO}, "files": {}}


def test_multipart_fields_over_djangos_cap_under_the_views(client: Client) -> None:
    body = multipart({"a": "x" * 2_000_000, "b": "y" * 1_000_000})
    response = client.post("/lab/bigform", body, content_type=MULTIPART)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["fields"] == {"a": 2_000_000, "b": 1_000_000}


@pytest.mark.parametrize("path", ["/lab/djangocap", "/lab/djangocap-csrf"])
@pytest.mark.parametrize("kind", ["raw", "urlencoded", "multipart"])
def test_control_the_same_bodies_break_djangos_cap_where_no_max_size_is_set(
    client: Client, rejections: list[dict[str, Any]], path: str, kind: str
) -> None:
    """Where the policy sets no max_size, Django's cap holds: 413 (not Django's 400), counted."""
    if kind == "raw":
        data, content_type = b"x" * OVER_DJANGO, "application/x-raw"
    elif kind == "urlencoded":
        data, content_type = urlencode({"note": "x" * OVER_DJANGO}).encode(), FORM
    else:
        data, content_type = multipart({"note": "x" * OVER_DJANGO}), MULTIPART
    counted_before = count(path[1:].replace("/", "-"))
    csrf = Client(enforce_csrf_checks=True)
    # CsrfViewMiddleware reads request.POST only once the cookie is there (Django 4.0+).
    csrf.cookies["csrftoken"] = "a" * 32
    response = (csrf if path.endswith("csrf") else client).post(
        path, data, content_type=content_type
    )
    if path.endswith("csrf") and kind == "raw":
        assert response.status_code == 403  # CSRF reads no raw body: the view never ran
        return
    assert response.status_code == 413, response.content[:300]
    assert not response.has_header("Connection")  # never from a WSGI application
    document = error(response)
    assert document["code"] == "content_too_large"
    assert document["limit"] == DJANGO_CAP
    route = path[1:].replace("/", "-")
    assert rejections == [{"route": route, "code": "content_too_large", "limit": DJANGO_CAP}]
    assert count(route) == counted_before + 1  # the admin's rejection counts


def test_over_the_views_limit_too_is_refused_from_the_head(client: Client) -> None:
    body = multipart({"a": "x" * 11_000_000})
    response = client.post("/lab/bigform", body, content_type=MULTIPART)
    assert response.status_code == 413
    assert error(response)["limit"] == 10 * 2**20
    assert error(response)["message"].startswith("the body is 11000")


def test_browsers_get_the_html_document(client: Client) -> None:
    response = client.post(
        "/lab/djangocap", b"x" * OVER_DJANGO, content_type="text/plain", HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert b"2560 KiB" in response.content  # the 413 page: one unit system


def test_async_handler_too(rejections: list[dict[str, Any]]) -> None:
    async def run() -> tuple[Any, Any]:
        client = AsyncClient()
        accepted = await client.post(
            "/lab/bigbody", b"x" * OVER_DJANGO, content_type="application/x-raw"
        )
        refused = await client.post(
            "/lab/djangocap", b"x" * OVER_DJANGO, content_type="application/x-raw"
        )
        return accepted, refused

    accepted, refused = asyncio.run(run())
    assert accepted.status_code == 200 and accepted.json()["size"] == OVER_DJANGO
    assert refused.status_code == 413 and refused["Connection"] == "close"  # ASGI may say so


@csrf_exempt
@upload_policy()
def stream_when_too_big(request: HttpRequest) -> HttpResponse:
    """A view that catches Django's cap and streams the body instead."""
    try:
        return JsonResponse({"in_memory": len(request.body)})
    except RequestDataTooBig:
        size = 0
        while chunk := request.read(65536):
            size += len(chunk)
        return JsonResponse({"streamed": size})


urlpatterns = [path("stream-when-too-big", stream_when_too_big)]


@override_settings(ROOT_URLCONF=__name__)
def test_a_view_that_handles_djangos_cap_keeps_its_answer(
    client: Client, rejections: list[dict[str, Any]]
) -> None:
    response = client.post("/stream-when-too-big", b"x" * OVER_DJANGO, content_type="a/b")
    assert response.status_code == 200
    assert response.json() == {"streamed": OVER_DJANGO}
    assert rejections == []


# -- Django's count caps: kept, answered 413 -------------------------------------------------------


@pytest.mark.parametrize("path", ["/lab/djangocap", "/lab/bigform"])
def test_too_many_fields_is_413_under_any_policy(
    client: Client, rejections: list[dict[str, Any]], path: str
) -> None:
    body = urlencode({f"f{i}": "1" for i in range(1001)})
    response = client.post(path, body, content_type=FORM)
    assert response.status_code == 413
    assert error(response) == {
        "status": 413,
        "code": "too_many_fields",
        "message": "the form has more than 1000 fields",
        "limit": 1000,
    }
    assert [r["code"] for r in rejections] == ["too_many_fields"]


def test_too_many_files_is_413(client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {f"f{i}": SimpleUploadedFile(f"{i}.txt", b"1") for i in range(101)}
    response = client.post("/lab/bigform", files)  # multipart
    assert response.status_code == 413
    assert error(response)["code"] == "too_many_files"
    assert error(response)["limit"] == 100


# -- the mechanism ---------------------------------------------------------------------------------


def _request(body: bytes, content_type: str = "application/x-raw") -> WSGIRequest:
    return RequestFactory().post("/x", body, content_type=content_type)


@pytest.mark.parametrize("limit", [10, 5 * 2**20])
def test_the_limit_replaces_djangos_both_ways(limit: int) -> None:
    """Smaller and larger than DATA_UPLOAD_MAX_MEMORY_SIZE (raw body, both form kinds)."""
    size = limit + 1 if limit < DJANGO_CAP else DJANGO_CAP + 1
    raw = _request(b"x" * size)
    limit_body(raw, limit)
    if size > limit:
        with pytest.raises(RequestDataTooBig):
            raw.body  # noqa: B018
        assert exceeded_limit(raw) == ExceededLimit("size", limit)
    else:
        assert len(raw.body) == size and exceeded_limit(raw) is None

    for body, content_type in (
        (urlencode({"a": "x" * size}).encode(), FORM),
        (multipart({"a": "x" * size}), MULTIPART),
    ):
        form = _request(body, content_type)
        limit_body(form, limit)
        if size > limit:
            with pytest.raises(RequestDataTooBig):
                form.POST  # noqa: B018
            assert exceeded_limit(form) == ExceededLimit("size", limit)
        else:
            assert len(form.POST["a"]) == size


def test_the_limit_holds_when_django_has_none() -> None:
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None):
        request = _request(b"x" * 100)
        limit_body(request, 99)
        with pytest.raises(RequestDataTooBig):
            request.body  # noqa: B018


def test_without_a_limit_djangos_behaviour_is_kept_and_recorded() -> None:
    request = _request(b"x" * 100)
    limit_body(request, None)
    assert request.body == b"x" * 100
    with override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=2):
        form = _request(b"a=1&b=2&c=3", FORM)
        limit_body(form, None)
        with pytest.raises(TooManyFieldsSent):
            form.POST  # noqa: B018
        assert exceeded_limit(form) == ExceededLimit("fields", 2)


def test_nothing_of_djangos_is_changed() -> None:
    before = (settings.DATA_UPLOAD_MAX_MEMORY_SIZE, WSGIRequest.body, WSGIRequest.__dict__.copy())
    request = _request(b"x" * 100)
    limit_body(request, 10)
    limit_body(request, 20)  # applied twice: the last limit counts, built on Django's class
    assert isinstance(request, WSGIRequest) and type(request).__name__ == "WSGIRequest"
    assert type(request).__mro__[1] is WSGIRequest
    with pytest.raises(RequestDataTooBig):
        request.body  # noqa: B018
    assert exceeded_limit(request) == ExceededLimit("size", 20)
    after = (settings.DATA_UPLOAD_MAX_MEMORY_SIZE, WSGIRequest.body, WSGIRequest.__dict__.copy())
    assert after == before
    plain = _request(b"x" * 100)
    assert plain.body == b"x" * 100 and exceeded_limit(plain) is None


def test_concurrent_requests_each_see_their_own_limit() -> None:
    """Threads (as under gunicorn's gthread worker) read bodies under different limits at once."""
    barrier = threading.Barrier(8)

    def one(i: int) -> str:
        limit = 1000 if i % 2 else 3000
        request = _request(b"x" * 2000)
        limit_body(request, limit)
        barrier.wait(timeout=10)
        try:
            return f"{limit}:{len(request.body)}"
        except RequestDataTooBig:
            return f"{limit}:too big"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert results == ["3000:2000", "1000:too big"] * 4


# -- what the audit shows ----------------------------------------------------------------------


def test_routes_show_the_effective_body_limit() -> None:
    entries = {e.route.name: e for e in describe_routes({})}
    assert entries["lab-bigbody"].body_limit == 10 * 2**20
    assert entries["lab-bigbody"].body_limit_source == "decorator"
    assert entries["lab-echo"].body_limit_source == "setting"  # EXPECT_DEFAULT_POLICY
    cap = entries["lab-djangocap"]
    assert (cap.body_limit, cap.body_limit_source) == (DJANGO_CAP, "django")
    assert cap.size_display == "2560 KiB in memory (Django's DATA_UPLOAD_MAX_MEMORY_SIZE)"
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None):
        assert (cap.body_limit, cap.body_limit_source, cap.size_display) == (
            None,
            None,
            "no limit",
        )


def test_check_w006_names_routes_without_any_body_limit() -> None:
    assert check_body_limits() == []
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None):
        messages = check_body_limits()
    assert [m.id for m in messages] == ["django_expect.W006"]
    assert "lab-djangocap" in messages[0].msg and "lab-bigbody" not in messages[0].msg


def test_django_version_is_reported() -> None:
    """Which Django this run covers: a supported series (5.2, 6.0, 6.1)."""
    assert django.VERSION[:2] in ((5, 2), (6, 0), (6, 1))
