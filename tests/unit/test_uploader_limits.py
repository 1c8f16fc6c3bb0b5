"""Per-request limits without a server (issue 22): validation of the callables' values, the
refusal and its log line, overrides and site-wide values over a callable, and what the audit,
the exports and the browser limits show where there is no request."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.test import RequestFactory, override_settings
from django.urls import resolve

from django_expect import upload_policy
from django_expect.browser import limits_for_url, limits_for_view
from django_expect.core import PolicyError, Reason, RequestHead, UploadPolicy, decide
from django_expect.middleware import ExpectMiddleware
from django_expect.models import PolicyOverride
from django_expect.overrides import Override, apply_override
from django_expect.policies import default_policy
from django_expect.resolution import effective_policy, request_policy
from tests.fakes import upload_head


def _meta(length: int, **headers: str) -> dict[str, str]:
    return {
        f"HTTP_{k.upper().replace('-', '_')}"
        if k not in ("Content-Length", "Content-Type")
        else k.upper().replace("-", "_"): v
        for k, v in (upload_head(length) | headers).items()
    }


def test_callables_are_kept_and_evaluated_per_request() -> None:
    policy = UploadPolicy.build(max_size=lambda r: r["size"], content_types=lambda r: r["types"])
    assert policy.per_request == ("max_size", "content_types")
    assert (policy.max_size, policy.content_types) == (None, None)
    resolved = policy.for_request({"size": "1KiB", "types": "image/*"})
    assert (resolved.max_size, resolved.content_types, resolved.per_request) == (
        1024,
        ("image/*",),
        (),
    )
    assert policy.for_request({"size": None, "types": None}).max_size is None


@pytest.mark.parametrize(
    ("size", "types", "message"),
    [
        ("lots", None, "max_size callable returned 'lots': cannot read 'lots' as a size"),
        (-1, None, "max_size callable returned -1: a size cannot be negative"),
        (True, None, "max_size callable returned True"),
        (1, [], "content_types callable returned []: content_types is empty"),
        (1, "image", "content_types callable returned 'image': 'image' is not a media type"),
        (1, 5, "content_types callable returned 5: not a media type or a list"),
    ],
)
def test_a_bad_value_is_a_policy_error(size: object, types: object, message: str) -> None:
    policy = UploadPolicy.build(max_size=lambda r: size, content_types=lambda r: types)
    with pytest.raises(PolicyError) as caught:
        policy.for_request(object())
    assert str(caught.value).startswith(message)


def test_a_raising_callable_is_a_policy_error() -> None:
    def broken(request: Any) -> int:
        raise KeyError("plan")

    with pytest.raises(PolicyError, match="max_size callable raised KeyError: 'plan'"):
        UploadPolicy.build(max_size=broken).for_request(object())


def test_an_override_or_site_value_replaces_the_callable() -> None:
    policy = UploadPolicy.build(max_size=lambda r: 1, content_types=lambda r: "a/b")
    merged = apply_override(policy, Override(route="x", max_size=5000))
    assert merged.max_size == 5000 and merged.per_request == ("content_types",)
    assert apply_override(policy, Override(route="x", expect=None)).per_request == (
        "max_size",
        "content_types",
    )


def test_the_settings_default_takes_a_callable() -> None:
    with override_settings(EXPECT_DEFAULT_POLICY={"max_size": lambda r: 7}):
        assert default_policy().per_request == ("max_size",)


def _request(path: str, length: int, user: Any = None, **headers: str) -> Any:
    request = RequestFactory().post(path, data=b"x" * length, content_type="text/plain")
    request.META.update(_meta(length, **headers))
    request.user = user if user is not None else AnonymousUser()
    request.resolver_match = resolve(path)
    return request


@pytest.mark.django_db
def test_the_middleware_refuses_a_bad_value_with_503_and_logs_the_view(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = _request("/uploader/bad-value", 10)
    middleware = ExpectMiddleware(lambda r: None)
    with caplog.at_level(logging.ERROR, logger="django_expect"):
        response = middleware.process_view(request, request.resolver_match.func, (), {})
    assert response is not None and response.status_code == 503
    assert json.loads(response.content)["error"]["code"] == "policy_unavailable"
    assert b"lots" not in response.content  # the detail is logged, not sent
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(
        "upload_policy of tests.testapp.uploader_views.bad_value (POST): max_size callable "
        "returned 'lots'" in line
        for line in logged
    ), logged


def test_the_callable_sees_the_user_and_decide_uses_the_value() -> None:
    request = _request("/uploader/plan", 101)
    resolution = request_policy(request, request.resolver_match.func)
    assert resolution.policy.max_size == 100 and resolution.error is None
    decision = decide(RequestHead.from_wsgi(request.META), resolution.policy)
    assert decision.reason is Reason.CONTENT_TOO_LARGE and decision.limit == 100


def test_without_a_request_the_limits_say_per_request() -> None:
    match = resolve("/uploader/plan")
    resolution = effective_policy(match.func, "POST", ("uploader-plan",))
    assert resolution.per_request == ("max_size", "content_types")
    limits = limits_for_view(match.func, ("uploader-plan",))
    assert limits.max_size is None and limits.attrs() == {}
    assert limits.document()["per_request"] == ["max_size", "content_types"]
    with_request = limits_for_url("/uploader/plan", _request("/uploader/plan", 1))
    assert with_request is not None and with_request.max_size == 100
    assert "per_request" not in with_request.document()


@pytest.mark.django_db
def test_the_audit_shows_per_request() -> None:
    PolicyOverride.objects.create(route="uploader-raising", max_size=2000)
    out = io.StringIO()
    call_command("expect_policies", stdout=out, stderr=io.StringIO())
    line = next(x for x in out.getvalue().splitlines() if x.startswith("uploader-plan "))
    assert line.count("per request") == 2, line
    raising = next(x for x in out.getvalue().splitlines() if x.startswith("uploader-raising "))
    assert "2000 (2 kB)" in raising
    out = io.StringIO()
    call_command("expect_policies", "--format", "json", stdout=out, stderr=io.StringIO())
    document = {e["route"]: e for e in json.loads(out.getvalue())}
    assert document["uploader-plan"]["per_request"] == ["max_size", "content_types"]
    assert document["uploader-plan"]["max_size"] is None
    assert document["uploader-raising"]["per_request"] == []
    out = io.StringIO()
    call_command("expect_policies", "--format", "nginx", stdout=out, stderr=io.StringIO())
    assert "uploader/plan" in out.getvalue()


def test_a_decorated_view_with_a_callable_builds() -> None:
    @upload_policy(max_size=lambda r: 1)
    def view(request: Any) -> None: ...

    with pytest.raises(Exception, match="content_types is empty"):
        upload_policy(content_types=[])(view)


@pytest.mark.django_db
def test_the_admin_table_shows_per_request(admin_client: Any) -> None:
    page = admin_client.get("/admin/django_expect/policyoverride/").content.decode()
    row = page[page.index("uploader-plan") :]
    row = row[: row.index("</tr>")]
    assert row.count("per request") == 2, row


@pytest.mark.django_db
def test_the_audit_marks_quota_and_report_only(admin_client: Any) -> None:
    out = io.StringIO()
    call_command("expect_policies", "--format", "json", stdout=out, stderr=io.StringIO())
    document = {e["route"]: e for e in json.loads(out.getvalue())}
    assert document["uploader-quota"]["quota"] is True
    assert document["uploader-report-only"]["report_only"] is True
    page = admin_client.get("/admin/django_expect/policyoverride/").content.decode()
    assert "quota (per user)" in page and ">report-only</strong>" in page
