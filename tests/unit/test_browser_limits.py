"""What pages and JavaScript uploaders are told about an upload route (no browser, no server).

The ``{% upload_limits %}`` tag, ``add_upload_limits``, the admin mixin and the OPTIONS discovery
all read the route's effective policy (resolution.effective_policy): these tests change the policy
through a decorator, the setting and an override and watch every output follow.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from demo.models import Document
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.template import Context, Template
from django.test import Client, RequestFactory, override_settings
from django.urls import path
from django.views import View

from django_expect import overrides, upload_policy
from django_expect.admin_precheck import UploadLimitsAdminMixin
from django_expect.browser import add_upload_limits, limits_for_url
from django_expect.core import format_size_as
from django_expect.discovery import answers_options
from django_expect.models import PolicyOverride
from django_expect.overrides import OverrideRegistry
from harness.tools import require_module

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[OverrideRegistry]:
    with override_settings(CACHES=LOCMEM, EXPECT_OVERRIDES_REFRESH=5):
        fresh = OverrideRegistry(background=False)
        monkeypatch.setattr(overrides, "registry", fresh)
        yield fresh


def render(source: str, **context: Any) -> str:
    return Template("{% load django_expect %}" + source).render(Context(context))


# -- sizes in one unit system ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "limit", "text"),
    [
        (5_000_001, 5_000_000, "5.1 MB"),  # rounded up: never reads as equal to the limit
        (300_000_400, 5_000_000, "300.1 MB"),
        (10 * 2**20, 5 * 2**20, "10 MiB"),  # a binary limit: binary units
        (6_000_000, 5 * 2**20, "5.8 MiB"),
        (999, 5_000_000, "999 bytes"),
        (1_000_000, 5_000_000, "1 MB"),
    ],
)
def test_sizes_read_in_the_limits_unit_system(size: int, limit: int, text: str) -> None:
    assert format_size_as(size, limit) == text


# -- the page: template tag and form helper ------------------------------------------------------


def test_the_tag_renders_the_target_routes_limit() -> None:
    html = render("<form {% upload_limits url %}>", url="/upload/form")
    assert 'data-expect-max-size="5000000"' in html
    assert 'data-expect-max-size-text="5 MB"' in html
    # multipart/form-data describes the request, not the file: no file types, no accept.
    assert "data-expect-types" not in html and "accept" not in html


def test_the_tag_follows_the_setting_for_undecorated_views() -> None:
    with override_settings(EXPECT_DEFAULT_POLICY={"max_size": "3MiB"}):
        html = render("{% upload_limits '/lab/echo' %} {% upload_limit_text '/lab/echo' %}")
    assert 'data-expect-max-size="3145728"' in html
    assert html.endswith(" 3 MiB")


@pytest.mark.django_db
def test_the_tag_follows_an_override(
    registry: OverrideRegistry, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        PolicyOverride.objects.create(route="document-form", max_size=2_000_000)
    assert 'data-expect-max-size="2000000"' in render("{% upload_limits '/upload/form' %}")


def test_raw_body_routes_announce_their_file_types() -> None:
    html = render("{% upload_limits '/lab/types' %}")
    assert 'data-expect-types="image/*,application/pdf"' in html
    assert "data-expect-max-size=" not in html  # its decorator sets no size limit


def test_no_route_or_no_limit_renders_nothing() -> None:
    assert render("{% upload_limits '/no/such/route' %}") == ""
    assert render("{% upload_limits 'https://elsewhere.test/upload/form' %}") == ""
    with override_settings(EXPECT_DEFAULT_POLICY={}):
        assert render("{% upload_limits '/lab/echo' %}") == ""


def test_the_page_words_the_message_and_the_script_is_a_static_file() -> None:
    html = render("{% upload_limits '/upload/form' message='Max {limit}!' %}")
    assert 'data-expect-message="Max {limit}!"' in html
    script = render("{% upload_precheck_script %}")
    assert script == '<script src="/static/django_expect/precheck.js" defer></script>'


def test_the_tag_without_a_url_uses_the_requests_path() -> None:
    request = RequestFactory().get("/upload/form")
    assert 'data-expect-max-size="5000000"' in render("{% upload_limits %}", request=request)


def test_add_upload_limits_puts_the_limit_on_file_inputs() -> None:
    class Form(forms.Form):
        title = forms.CharField()
        document = forms.FileField()

    form = Form()
    limits = add_upload_limits(form, "/upload/form")
    assert limits is not None and limits.max_size == 5_000_000
    assert 'data-expect-max-size="5000000"' in str(form["document"])
    assert "data-expect" not in str(form["title"])
    assert limits_for_url("/upload/form") == limits


# -- the admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(db: None) -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_file_input_carries_its_routes_limit(admin_client: Client) -> None:
    page = admin_client.get("/admin/demo/document/add/").content.decode()
    assert 'data-expect-max-size="104857600"' in page  # EXPECT_DEFAULT_POLICY: 100 MiB
    assert 'data-expect-max-size-text="100 MiB"' in page
    assert "/static/django_expect/precheck.js" in page
    # Models without a file field are untouched.
    other = admin_client.get("/admin/demo/storedobject/add/").content.decode()
    assert "data-expect-max-size" not in other and "precheck.js" not in other


def test_the_admin_follows_an_override_on_its_route(
    admin_client: Client, registry: OverrideRegistry, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        PolicyOverride.objects.create(route="admin:demo_document_add", max_size=1_000_000)
    page = admin_client.get("/admin/demo/document/add/").content.decode()
    assert 'data-expect-max-size="1000000"' in page


def test_no_policy_no_admin_precheck(admin_client: Client) -> None:
    with override_settings(EXPECT_DEFAULT_POLICY={}):
        page = admin_client.get("/admin/demo/document/add/").content.decode()
    assert "data-expect-max-size" not in page


# -- OPTIONS discovery ----------------------------------------------------------------------------


def test_options_tells_the_limit_and_types() -> None:
    response = Client().options("/upload/form")
    assert response.status_code == 200
    assert response["Upload-Limit"] == "max-size=5000000"
    assert response["Accept-Post"] == "multipart/form-data"
    limits = {
        "max_size": 5_000_000,
        "max_size_text": "5 MB",
        "content_types": ["multipart/form-data"],
        "file_types": None,
        "login_required": False,
    }
    document = json.loads(response.content)
    assert document["upload"] == {"method": "POST", **limits}
    # A function view serves every upload method alike.
    assert document["methods"] == {"POST": limits, "PUT": limits, "PATCH": limits}
    raw = Client().options("/lab/types")
    assert json.loads(raw.content)["upload"]["file_types"] == ["image/*", "application/pdf"]


def test_each_upload_method_is_told_its_own_limit() -> None:
    require_module("ninja", "django-ninja")
    put_only = Client().options("/ninja/raw")  # a django-ninja PUT operation, 1000 bytes
    assert put_only["Upload-Limit"] == "max-size=1000"
    assert not put_only.has_header("Accept-Post")  # Accept-Post speaks of POST only
    assert json.loads(put_only.content)["upload"]["method"] == "PUT"
    assert list(json.loads(put_only.content)["methods"]) == ["PUT"]
    both = json.loads(Client().options("/ninja/items").content)  # POST 1000, PUT 2000
    assert {m: limits["max_size"] for m, limits in both["methods"].items()} == {
        "POST": 1000,
        "PUT": 2000,
    }
    assert both["upload"]["method"] == "POST" and both["upload"]["max_size"] == 1000


@override_settings(ROOT_URLCONF=__name__)
def test_a_route_without_upload_methods_is_not_answered() -> None:
    response = Client().options("/read-only")
    assert not response.has_header("Upload-Limit")
    assert response.content == b""  # Django's own View.options answered


def test_cors_preflights_are_not_answered() -> None:
    response = Client().options(
        "/upload/form",
        HTTP_ORIGIN="https://app.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert not response.has_header("Upload-Limit")  # the view (or django-cors-headers) answered


def test_with_django_cors_headers_a_page_on_another_origin_can_read_limits_and_refusals(
    settings: Any,
) -> None:
    """django-cors-headers answers the preflight; the discovery and the 413 carry its headers."""
    require_module("corsheaders", "django-cors-headers")
    settings.MIDDLEWARE = ["corsheaders.middleware.CorsMiddleware", *settings.MIDDLEWARE]
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    settings.CORS_EXPOSE_HEADERS = ["Upload-Limit", "Accept-Post"]
    origin = {"HTTP_ORIGIN": "https://app.example"}
    preflight = Client().options(
        "/upload/form", HTTP_ACCESS_CONTROL_REQUEST_METHOD="OPTIONS", **origin
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == "https://app.example"
    assert not preflight.has_header("Upload-Limit")  # django-cors-headers' answer, untouched
    discovery = Client().options("/upload/form", **origin)
    assert discovery["Upload-Limit"] == "max-size=5000000"
    assert discovery["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Upload-Limit" in discovery["Access-Control-Expose-Headers"]
    refused = Client().post(
        "/lab/small", b"x" * 2000, content_type="application/octet-stream", **origin
    )
    assert refused.status_code == 413  # and the page's script may read why:
    assert refused["Access-Control-Allow-Origin"] == "https://app.example"
    assert json.loads(refused.content)["error"]["code"] == "content_too_large"


def test_discovery_can_be_turned_off_and_skips_routes_without_limits() -> None:
    with override_settings(EXPECT_DISCOVERY=False):
        assert not Client().options("/upload/form").has_header("Upload-Limit")
    with override_settings(EXPECT_DEFAULT_POLICY={}):
        assert not Client().options("/lab/echo").has_header("Upload-Limit")


@upload_policy(max_size="1MB")
class OwnOptions(View):
    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse("mine", headers={"Allow": "POST"})

    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("posted")


@upload_policy(max_size="1MB")
class DefaultOptions(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("posted")


@upload_policy(max_size="1MB")
class ReadOnly(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("read")


@answers_options
@upload_policy(max_size="2MB")
def marked(request: HttpRequest) -> HttpResponse:
    return HttpResponse("marked")


class DecoratedAddAdmin(UploadLimitsAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """A custom admin view: the add view served through a decorated URL pattern."""

    def get_urls(self) -> list[Any]:
        add = upload_policy(max_size="2MB")(self.admin_site.admin_view(self.add_view))
        return [path("add/", add, name="demo_document_add"), *super().get_urls()]


custom_site = admin.AdminSite(name="custom")
custom_site.register(Document, DecoratedAddAdmin)

urlpatterns = [
    path("own", OwnOptions.as_view()),
    path("default", DefaultOptions.as_view()),
    path("marked", marked),
    path("read-only", ReadOnly.as_view()),
    path("custom-admin/", custom_site.urls),
]


@override_settings(ROOT_URLCONF=__name__)
def test_the_admin_follows_a_decorator_on_a_custom_admin_view(admin_client: Client) -> None:
    page = admin_client.get("/custom-admin/demo/document/add/").content.decode()
    assert 'data-expect-max-size="2000000"' in page


@override_settings(ROOT_URLCONF=__name__)
def test_views_that_answer_options_keep_their_answer_and_get_the_headers() -> None:
    own = Client().options("/own")
    assert own.content == b"mine" and own["Allow"] == "POST"
    assert own["Upload-Limit"] == "max-size=1000000"
    marked_response = Client().options("/marked")
    assert marked_response.content == b"marked"
    assert marked_response["Upload-Limit"] == "max-size=2000000"
    # Django's own View.options (not overridden) is replaced by the discovery answer.
    default = Client().options("/default")
    assert json.loads(default.content)["upload"]["max_size"] == 1_000_000
