"""Per-endpoint policies without a server: the lookup per method, decorator orders, the W007
check, the audit rows, the precheck and identity (docs/howto/api-frameworks.md).

The end-to-end behaviour of the same endpoints is in tests/wire/test_frameworks_wire.py.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import resolve
from django.utils.decorators import method_decorator
from django.views import View

from django_expect import upload_policy
from django_expect.checks import check_unreachable_policies
from django_expect.core import UploadPolicy
from django_expect.policies import declared_policy
from django_expect.resolution import effective_policy, route_keys
from django_expect.routes import describe_routes
from harness.tools import require_module


@pytest.fixture(autouse=True)
def _frameworks_installed() -> None:
    """Skip without DRF and django-ninja; under DJANGO_EXPECT_REQUIRE_ALL=1 (CI), fail."""
    require_module("rest_framework", "djangorestframework")
    require_module("ninja", "django-ninja")


def size_for(path: str, method: str) -> int | None:
    """What the middleware would enforce for ``method`` on ``path`` (no overrides)."""
    match = resolve(path)
    return effective_policy(match.func, method, route_keys(match), overrides={}).policy.max_size


# -- the lookup -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "size"),
    [
        ("/drf/lab/", "POST", 1000),  # ViewSet.create
        ("/drf/lab/7/", "PUT", 2000),  # ViewSet.update
        ("/drf/lab/7/", "PATCH", 3000),  # partial_update has none: the class's
        ("/drf/lab/7/", "DELETE", 3000),  # no action: the class's
        ("/drf/lab/blob/", "POST", 1000),  # @action above @upload_policy
        ("/drf/lab/7/attach/", "POST", 1000),  # @upload_policy above @action
        ("/drf/generic", "POST", 1000),  # CreateAPIView: the mixin's create
        ("/drf/plain", "POST", 1000),  # APIView.post
        ("/drf/plain", "PUT", 100 * 2**20),  # APIView.put undecorated: EXPECT_DEFAULT_POLICY
        ("/ninja/json", "POST", 1000),
        ("/ninja/files", "POST", 1000),  # @upload_policy above @api.post
        ("/ninja/items", "POST", 1000),  # one path, two operations
        ("/ninja/items", "PUT", 2000),
        ("/ninja/router/upload", "POST", 1000),  # a Router mounted under the API
        ("/ninja/async", "POST", 1000),
        ("/ninja/json", "PUT", 100 * 2**20),  # no operation for PUT: the setting
    ],
)
def test_the_code_serving_the_method_declares_the_policy(path: str, method: str, size: int) -> None:
    assert size_for(path, method) == size


def test_drf_still_sees_its_extra_actions_in_either_order() -> None:
    from tests.testapp.api_views import LabViewSet

    names = {action.__name__ for action in LabViewSet.get_extra_actions()}
    assert names == {"blob", "attach", "private"}
    assert LabViewSet.blob.mapping == {"post": "blob"}
    assert LabViewSet.attach.detail is True


def test_handler_methods_of_django_views_and_method_decorator() -> None:
    class Uploads(View):
        @upload_policy(max_size=5)
        def put(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse()

        @method_decorator(upload_policy(max_size=6))
        def post(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse()

    @upload_policy(max_size=7)
    class Defaulted(Uploads):
        def patch(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse()

    view = Uploads.as_view()
    assert declared_policy(view, "PUT") == UploadPolicy(max_size=5)
    assert declared_policy(view, "POST") == UploadPolicy(max_size=6)
    assert declared_policy(view, "PATCH") is None
    defaulted = Defaulted.as_view()
    assert declared_policy(defaulted, "PUT") == UploadPolicy(max_size=5)  # method over class
    assert declared_policy(defaulted, "PATCH") == UploadPolicy(max_size=7)


def test_drf_partial_update_falls_back_to_the_update_it_calls() -> None:
    from rest_framework import generics, mixins, viewsets

    class Documents(mixins.UpdateModelMixin, viewsets.GenericViewSet):  # type: ignore[misc]
        @upload_policy(max_size=9)
        def update(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            return super().update(request, *args, **kwargs)

    class OwnPatch(Documents):
        def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            return None  # does not call update: update's policy says nothing about it

    class Generic(generics.UpdateAPIView):  # type: ignore[misc]
        @upload_policy(max_size=8)
        def update(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            return super().update(request, *args, **kwargs)

    detail = {"put": "update", "patch": "partial_update"}
    assert declared_policy(Documents.as_view(detail), "PATCH") == UploadPolicy(max_size=9)
    assert declared_policy(OwnPatch.as_view(detail), "PATCH") is None
    assert declared_policy(OwnPatch.as_view(detail), "PUT") == UploadPolicy(max_size=9)
    assert declared_policy(Generic.as_view(), "PUT") == UploadPolicy(max_size=8)
    assert declared_policy(Generic.as_view(), "PATCH") == UploadPolicy(max_size=8)


def test_the_wrapper_resolves_names_in_the_views_module() -> None:
    """django-ninja resolves string annotations through ``func.__globals__``."""
    from tests.testapp import api_views

    assert api_views.ninja_json.__globals__ is vars(api_views)
    assert api_views.ninja_json.__wrapped__.__globals__ is vars(api_views)


# -- the W007 check -------------------------------------------------------------------------------


def test_every_policy_no_route_enforces_is_reported() -> None:
    messages = check_unreachable_policies(urlconf="tests.frameworks_urls")
    prefix = "tests.frameworks_urls."
    mine = {m.obj: m for m in messages if str(m.obj).startswith(prefix)}
    assert sorted(mine) == [
        prefix + "Handlers.lost_helper",
        prefix + "LostView",
        prefix + "Uploads.lost_perform_create",
        prefix + "lost_not_an_operation",
        prefix + "lost_undecorated",
    ]
    message = mine[prefix + "Uploads.lost_perform_create"]
    assert message.id == "django_expect.W007"
    assert "is not enforced: no URL pattern reaches it" in message.msg
    hints = {path.removeprefix(prefix): m.hint or "" for path, m in mine.items()}
    assert "the DRF ViewSet action a router maps" in hints["Uploads.lost_perform_create"]
    assert "route the object the decorator returned" in hints["lost_undecorated"]
    assert "No URL pattern routes this class" in hints["LostView"]


def test_the_test_project_has_no_unenforced_policy() -> None:
    messages = check_unreachable_policies()
    assert [m.obj for m in messages if str(m.obj).startswith("tests.testapp.")] == []


# -- the audit: one row per method group -------------------------------------------------------


def test_routes_get_one_row_per_method_group() -> None:
    rows = {(e.route.name, e.methods): e for e in describe_routes({})}
    assert rows[("drf:lab-detail", ("PUT",))].policy.max_size == 2000
    assert rows[("drf:lab-detail", ("PATCH", "*"))].policy.max_size == 3000
    assert rows[("ninja:ninja_items_post", ("POST",))].policy.max_size == 1000
    assert rows[("ninja:ninja_items_post", ("PUT",))].policy.max_size == 2000
    assert rows[("lab-small", ("*",))].policy.max_size == 1000  # function views: one row
    # django-ninja writes one URL pattern per operation of a path; Django resolves the first.
    assert not any(name == "ninja:ninja_items_put" for name, _ in rows)


@pytest.mark.django_db
def test_expect_policies_shows_methods_in_every_format() -> None:
    def run(*args: str) -> str:
        out = io.StringIO()
        call_command("expect_policies", *args, stdout=out, stderr=io.StringIO())
        return out.getvalue()

    text = run()
    assert any(line.split()[:2] == ["drf:lab-detail", "PUT"] for line in text.splitlines())
    document = [e for e in json.loads(run("--format", "json")) if e["route"] == "drf:lab-detail"]
    assert [(e["methods"], e["max_size"]) for e in document] == [
        (["PUT"], 2000),
        (["PATCH", "*"], 3000),  # partial_update: the class's; "*": methods it does not serve
    ]
    haproxy = run("--format", "haproxy")
    assert "{ path_reg '^/drf/lab/(?:[^/.]+)/$' } { method PUT }  # drf:lab-detail" in haproxy
    assert "{ path_reg '^/drf/lab/(?:[^/.]+)/$' }  # drf:lab-detail" in haproxy  # the rest
    nginx = run("--format", "nginx")
    block = nginx.split('location ~ "^/drf/lab/(?:[^/.]+)/$" {', 1)[1].split("}", 1)[0]
    assert "client_max_body_size 3000;" in block  # nginx cannot tell methods apart: the largest
    assert (
        "#   PUT: 2 kB (decorator; body_timeout: setting, min_rate: default, "
        "min_rate_grace: default)" in block
    )
    ninja = nginx.split('location ~ "^/ninja/json\\\\Z" {', 1)[1].split("}", 1)[0]
    assert "client_max_body_size 1000;" in ninja  # methods without an operation get 405


@pytest.mark.django_db
def test_the_admin_table_shows_the_method(admin_client: Any) -> None:
    html = admin_client.get("/admin/django_expect/policyoverride/").content.decode()
    assert "<th>Method</th>" in html
    assert "drf:lab-detail</td>\n<td" in html and ">PUT</td>" in html
    form = admin_client.get("/admin/django_expect/policyoverride/add/").content.decode()
    assert 'value="ninja:ninja_items_post"' in form
    assert 'value="ninja:ninja_items_put"' not in form  # requests never resolve to that name


# -- the precheck and identity ------------------------------------------------------------------


def precheck(client: Client, method: str, uri: str, length: int, **headers: str) -> int:
    response = client.get(
        "/_expect/precheck/precise",
        HTTP_X_ORIGINAL_METHOD=method,
        HTTP_X_ORIGINAL_URI=uri,
        HTTP_X_ORIGINAL_CONTENT_LENGTH=str(length),
        HTTP_X_ORIGINAL_CONTENT_TYPE="application/octet-stream",
        **headers,
    )
    return response.status_code


@pytest.mark.django_db
def test_the_precheck_sees_per_action_policies_and_operation_auth(client: Client) -> None:
    assert precheck(client, "PUT", "/drf/lab/7/", 2500) == 413
    assert precheck(client, "PATCH", "/drf/lab/7/", 2500) == 204
    assert precheck(client, "POST", "/ninja/items", 1500) == 413
    assert precheck(client, "PUT", "/ninja/items", 1500) == 204
    get_user_model().objects.create(username="demo")
    assert precheck(client, "POST", "/ninja/keyed", 10) == 401
    assert precheck(client, "POST", "/ninja/keyed", 10, HTTP_X_API_KEY="demo-key") == 204
    bearer = "Bearer lab-token"
    assert precheck(client, "POST", "/ninja/bearer", 10, HTTP_AUTHORIZATION=bearer) == 204
    assert precheck(client, "POST", "/ninja/bearer", 10) == 401


def test_ninja_cookie_auth_with_csrf_is_not_run_before_the_body() -> None:
    """APIKeyCookie(csrf=True) checks CSRF, which reads request.POST: the body. Not run."""
    from ninja import NinjaAPI
    from ninja.security import APIKeyCookie

    from django_expect.identity import LazyIdentity

    calls: list[str] = []

    class Cookie(APIKeyCookie):
        def authenticate(self, request: HttpRequest, key: str | None) -> Any:
            calls.append(type(self).__name__)
            return "someone"

    api = NinjaAPI(urls_namespace="cookie-test", docs_url=None, openapi_url=None)

    @api.post("/with-csrf", auth=Cookie())
    def with_csrf(request: HttpRequest) -> dict[str, int]:
        return {}

    @api.post("/without-csrf", auth=Cookie(csrf=False))
    def without_csrf(request: HttpRequest) -> dict[str, int]:
        return {}

    views = {p.pattern._route: p.callback for p in api.urls[0] if p.pattern._route}
    request = HttpRequest()
    request.method = "POST"
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    assert not LazyIdentity(request, views["with-csrf"], "POST").is_authenticated
    assert calls == []
    assert LazyIdentity(request, views["without-csrf"], "POST").is_authenticated
    assert calls == ["Cookie"]


@pytest.mark.django_db
def test_ninja_auth_results_as_identities(rf: Any) -> None:
    """A user from the operation's auth is the identity; any other truthy result is logged in
    with no Django permission."""
    from django.contrib.auth.models import AnonymousUser

    from django_expect.identity import LazyIdentity

    get_user_model().objects.create(username="demo", is_superuser=True, is_active=True)

    def identity(path: str, **headers: str) -> LazyIdentity:
        request = rf.post(path, **headers)
        request.user = AnonymousUser()
        return LazyIdentity(request, resolve(path).func, "POST")

    keyed = identity("/ninja/keyed", HTTP_X_API_KEY="demo-key")
    assert keyed.is_authenticated and keyed.has_perms(["demo.add_storedobject"])
    assert keyed.user.get_username() == "demo"
    bearer = identity("/ninja/bearer", HTTP_AUTHORIZATION="Bearer lab-token")
    assert bearer.is_authenticated and not bearer.has_perms(["demo.add_storedobject"])
    assert not identity("/ninja/bearer", HTTP_AUTHORIZATION="Bearer wrong").is_authenticated
    assert not identity("/ninja/json").is_authenticated  # no auth on the operation
