"""The proxy precheck and the middleware agree: one policy resolution for both.

For every route of the test project that a sample path resolves to, and generated heads
(method, declared length or chunked, content type), credentials (anonymous, session user,
superuser, ``Authorization: Token``, ``Authorization: Basic``), route overrides and site-wide
upload settings (none, or generated), the status in the precheck's ``X-Expect-Status`` (204
when it lets the upload through) equals the status the middleware answers the same request.

Both sides go through the project's whole middleware stack with Django's test client:

* the precheck is asked with nginx's ``X-Original-*`` headers and the request's credentials;
* the upload is sent with the same head; a stand-in middleware placed right after
  ExpectMiddleware answers 204 from ``process_view`` when ExpectMiddleware let the request
  through, so no view reads a body that is not there (the declared length is only a header).

Not compared, by design (the precheck documents both): a view's own ``check`` callable (it is
given the real request only; such rejections count as "through"), and ``Expect: 100-continue``
(no ``X-Original-Expect`` header; the heads here carry none).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_expect import overrides
from django_expect.core import Decision, ExpectMode, Reason
from django_expect.overrides import Override, OverrideRegistry, SiteDefaults
from django_expect.routes import iter_routes
from django_expect.signals import upload_rejected
from tests.fakes import examples

EXPECT = "django_expect.middleware.ExpectMiddleware"
PASSED = 204
PRECHECK = "/_expect/"


class ThroughMiddleware:
    """Answers 204 in ``process_view`` for every request ExpectMiddleware let through."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, *args: Any) -> HttpResponse | None:
        if request.path.startswith(PRECHECK):
            return None  # the precheck view itself runs
        return HttpResponse(status=PASSED)


def _sample_path(regex: str) -> str:
    path = regex.removeprefix("^").removesuffix("\\Z").removesuffix("$")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: "a/b" if m.group(1) == "key" else "1", path)
    return "/" + path.replace("\\", "")


def _routes() -> list[tuple[str, str]]:
    """(route name, a path that resolves to it): the project's routes, a few admin pages."""
    found: dict[str, str] = {}
    for route in iter_routes():
        if route.name.startswith("admin:") and route.name not in ("admin:index", "admin:login"):
            continue
        path = _sample_path(route.regex)
        try:
            match = resolve(path)
        except Resolver404:
            continue
        if match.view_name == route.name and not route.name.startswith("django_expect:"):
            found.setdefault(route.name, path)
    return sorted(found.items())


ROUTES = _routes()
NAMES = [name for name, _ in ROUTES]
LENGTHS = [
    0,
    1,
    999,
    1000,
    1001,
    5000,
    100_000,
    100_001,
    5_000_001,
    10 * 2**20 + 1,
    50_000_001,
    100 * 2**20 + 1,
    2**40,
]
TYPES = [
    None,
    "application/octet-stream",
    "image/png",
    "application/pdf",
    "multipart/form-data; boundary=x",
    "text/plain; charset=utf-8",
]
CREDENTIALS = ["anonymous", "user", "superuser", "token", "basic"]

overrides_strategy = st.dictionaries(
    st.sampled_from(NAMES),
    st.builds(
        Override,
        route=st.just(""),
        max_size=st.none() | st.sampled_from([0, 500, 1000, 10**6]),
        content_types=st.none() | st.sampled_from([("image/*",), ("*/*",), ("text/plain",)]),
        expect=st.none() | st.sampled_from(list(ExpectMode)),
        login_required=st.none() | st.booleans(),
        permissions=st.none() | st.sampled_from([(), ("demo.add_storedobject",)]),
        disabled=st.booleans(),
    ),
    max_size=3,
)
site_strategy = st.builds(
    SiteDefaults,
    max_size=st.none() | st.sampled_from([0, 1000, 10**6]),
    content_types=st.none() | st.sampled_from([("application/octet-stream",), ("image/*",)]),
    login_required=st.none() | st.booleans(),
    permissions=st.none() | st.sampled_from([("demo.add_storedobject",)]),
    chunked=st.none() | st.sampled_from(["stream", "refuse"]),
)


@pytest.fixture
def clients(django_user_model: Any) -> Iterator[dict[str, Client]]:
    from demo.models import ApiToken

    user = django_user_model.objects.create_user("plain", password="pw-plain")
    superuser = django_user_model.objects.create_superuser("root", password="pw-root")
    ApiToken.objects.create(key="agreement-token", user=user)
    made = {name: Client() for name in CREDENTIALS}
    made["user"].force_login(user)
    made["superuser"].force_login(superuser)
    made["token"].defaults["HTTP_AUTHORIZATION"] = "Token agreement-token"
    basic = base64.b64encode(b"root:pw-root").decode()
    made["basic"].defaults["HTTP_AUTHORIZATION"] = f"Basic {basic}"
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index(EXPECT) + 1, f"{__name__}.ThroughMiddleware")
    with override_settings(MIDDLEWARE=middleware):
        yield made


def _precheck(client: Client, path: str, method: str, head: dict[str, str]) -> int:
    extra = {f"HTTP_X_ORIGINAL_{k.upper().replace('-', '_')}": v for k, v in head.items()}
    response = client.get(
        f"{PRECHECK}precheck/precise",
        HTTP_X_ORIGINAL_METHOD=method,
        HTTP_X_ORIGINAL_URI=path,
        **extra,
    )
    if response.status_code == PASSED:
        return PASSED
    return int(response["X-Expect-Status"])


def _middleware(client: Client, path: str, method: str, head: dict[str, str]) -> int:
    extra: dict[str, Any] = {}
    if "Content-Length" in head:
        extra["CONTENT_LENGTH"] = head["Content-Length"]
    if "Transfer-Encoding" in head:
        extra["HTTP_TRANSFER_ENCODING"] = head["Transfer-Encoding"]
    if "Content-Type" in head:  # RequestFactory sets CONTENT_TYPE only with a body
        extra["CONTENT_TYPE"] = head["Content-Type"]
    reasons: list[Reason] = []

    def rejected(sender: Any, decision: Decision, **kwargs: Any) -> None:
        assert decision.reason is not None
        reasons.append(decision.reason)

    upload_rejected.connect(rejected)
    try:
        response = client.generic(method, path, b"", **extra)
    finally:
        upload_rejected.disconnect(rejected)
    if reasons == [Reason.REJECTED_BY_CHECK]:  # the view's own check: not the precheck's
        return PASSED
    return response.status_code


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH"]),
    length=st.sampled_from(LENGTHS) | st.just("chunked"),
    content_type=st.sampled_from(TYPES),
    credentials=st.sampled_from(CREDENTIALS),
    route_overrides=st.none() | overrides_strategy,
    site=st.none() | site_strategy,
)
def test_precheck_and_middleware_answer_the_same(
    clients: dict[str, Client],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    length: int | str,
    content_type: str | None,
    credentials: str,
    route_overrides: dict[str, Override] | None,
    site: SiteDefaults | None,
) -> None:
    found = disagreements(
        clients[credentials], monkeypatch, method, length, content_type, route_overrides, site
    )
    assert not found, (method, length, content_type, credentials, route_overrides, site, found)


def disagreements(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    length: int | str,
    content_type: str | None,
    route_overrides: dict[str, Override] | None,
    site: SiteDefaults | None,
) -> list[tuple[str, str, int, int]]:
    """(route, path, precheck's status, middleware's status) wherever the two differ."""
    rows = {
        name: Override(**{**o.__dict__, "route": name})
        for name, o in (route_overrides or {}).items()
    }
    registry = OverrideRegistry(
        loader=lambda: rows, site_loader=lambda: site or SiteDefaults(), version_reader=lambda: 1
    )
    monkeypatch.setattr(overrides, "registry", registry)
    head: dict[str, str] = {}
    if length == "chunked":
        head["Transfer-Encoding"] = "chunked"
    else:
        head["Content-Length"] = str(length)
    if content_type is not None:
        head["Content-Type"] = content_type
    found = []
    for name, path in ROUTES:
        asked = _precheck(client, path, method, head)
        answered = _middleware(client, path, method, head)
        if asked != answered:
            found.append((name, path, asked, answered))
    return found


@pytest.mark.django_db
def test_control_a_precheck_without_overrides_disagrees(
    clients: dict[str, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparison can fail: a precheck that computes the policy without the overrides (as
    before issue 16) disagrees with the middleware once an override raised a limit."""
    from django_expect import precheck, resolution

    def without_overrides(*args: Any, **kwargs: Any) -> resolution.EffectivePolicy:
        return resolution.effective_policy(*args, **kwargs, overrides={})

    raised = {"lab-small": Override("lab-small", max_size=10**6)}
    assert disagreements(clients["anonymous"], monkeypatch, "PUT", 5000, None, raised, None) == []
    monkeypatch.setattr(precheck, "effective_policy", without_overrides)
    found = disagreements(clients["anonymous"], monkeypatch, "PUT", 5000, None, raised, None)
    assert found == [("lab-small", "/lab/small", 413, PASSED)]


def test_the_table_covers_the_project() -> None:
    assert len(ROUTES) >= 20, ROUTES
    assert {
        "lab-small",
        "lab-echo",
        "lab-login",
        "lab-permission",
        "objects",
        "admin:index",
    } <= set(NAMES)
