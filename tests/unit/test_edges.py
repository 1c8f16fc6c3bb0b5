"""Decisions at the edges, in process: a client gone before an ``after-checks`` 100, a quota
callable that raises, views the route memo cannot key, decorator chains, the nginx precheck's
401/403, the browser side's "no route", the rejection page's fallbacks and the exports'
quoting."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings

from django_expect import resolution, upload_policy
from django_expect.browser import add_upload_limits, limits_for_url
from django_expect.conf import derived
from django_expect.core import Reason, UploadPolicy, refusal
from django_expect.export import _haproxy_string, render
from django_expect.middleware import ExpectMiddleware
from django_expect.policies import declared_policy
from django_expect.resolution import effective_policy, view_path
from django_expect.responses import page_context, rejection_response
from tests.unit.test_django import Recorder


def _request(length: int = 10, *, client_gone: bool = False) -> HttpRequest:
    """A POST awaiting its 100 as under the gunicorn hook (tests/unit/test_django.py's)."""
    request = Recorder().request({}, length=length)
    if client_gone:

        def broken_pipe() -> None:
            raise BrokenPipeError("the client went away")

        request.environ["wsgi.input"]._send_continue = broken_pipe  # the server's write fails
    return request


def _process_view(request: HttpRequest, view: Any) -> Any:
    return ExpectMiddleware(lambda r: HttpResponse()).process_view(request, view, (), {})


# -- the middleware ---------------------------------------------------------------------------


def test_a_client_gone_before_an_after_checks_100_is_a_400_not_a_500() -> None:
    @upload_policy(expect="after-checks")
    def view(request: HttpRequest) -> HttpResponse:
        raise AssertionError("not reached")

    request = _request(client_gone=True)
    response = _process_view(request, view)
    assert response.status_code == 400
    assert b"incomplete_body" in response.content
    assert request.environ["wsgi.input"].closing


def test_a_quota_callable_that_raises_is_a_503_naming_the_view() -> None:
    def quota(request: Any) -> tuple[str, int]:
        raise RuntimeError("quota service down")

    @upload_policy(quota=quota)
    def view(request: HttpRequest) -> HttpResponse:
        raise AssertionError("not reached")

    request = _request()
    resolved = effective_policy(view, "POST", (), request, overrides={})
    assert resolved.error is not None
    assert "quota callable raised RuntimeError: quota service down" in resolved.error
    assert resolved.quota is None
    response = _process_view(request, view)
    assert response.status_code == 503
    assert b"policy_unavailable" in response.content


def test_a_per_request_callable_reads_the_request_through_the_uploader() -> None:
    seen: list[object] = []

    def size(request: Any) -> int:
        seen.append((request.method, request.path, request.user))
        return 5

    @upload_policy(max_size=size)
    def view(request: HttpRequest) -> HttpResponse:
        raise AssertionError("not reached")

    response = _process_view(_request(length=10), view)
    assert response.status_code == 413
    assert seen == [("POST", "/", seen[0][2])] and isinstance(seen[0][2], AnonymousUser)


# -- the route memo and the view path ---------------------------------------------------------


class _UnhashableView:
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _UnhashableView)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse()


def test_an_unhashable_view_is_resolved_every_time_not_memoised() -> None:
    view = _UnhashableView()
    first = effective_policy(view, "POST", ("unhashable",))
    assert effective_policy(view, "POST", ("unhashable",)) == first
    assert first.declared is None
    assert view_path(view) == f"{__name__}._UnhashableView"  # its class, as Django names it


def test_the_route_memo_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolution, "ROUTE_MEMO_SIZE", 2)
    views = []
    for index in range(3):

        @upload_policy(max_size=index + 1)
        def view(request: HttpRequest) -> HttpResponse:
            return HttpResponse()

        views.append(view)
    with override_settings(EXPECT_CHUNKED="stream"):  # a fresh memo (derived values)
        for index, view in enumerate(views):
            assert effective_policy(view, "POST", (f"memo-{index}",)).policy.max_size == index + 1
        # Past the bound the memo was cleared and holds the last one only; answers stay right.
        memo: dict[Any, Any] = derived("route_policies", dict)
        assert len(memo) == 1
        assert effective_policy(views[0], "POST", ("memo-0",)).policy.max_size == 1


# -- decorator chains -------------------------------------------------------------------------


def _passthrough(view: Any) -> Any:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return wrapper


def test_a_policy_under_other_decorators_is_found_through_wrapped() -> None:
    from django.views import View

    class Handler(View):
        @_passthrough
        @_passthrough
        @upload_policy(max_size=7)
        def post(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse()

    policy = declared_policy(Handler.as_view(), "POST")
    assert policy is not None and policy.max_size == 7


def test_a_wrapped_cycle_ends_the_search_instead_of_hanging() -> None:
    from django.views import View

    def post(self: Any, request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    other = _passthrough(post)
    post.__wrapped__ = other  # type: ignore[attr-defined]  # a cycle: post -> other -> post

    class Handler(View):
        pass

    Handler.post = other  # type: ignore[attr-defined]
    assert declared_policy(Handler.as_view(), "POST") is None


# -- the nginx precheck and the browser side ---------------------------------------------------


def test_the_auth_request_precheck_answers_only_401_or_403(client: Client) -> None:
    def precheck(uri: str, length: int, content_type: str = "multipart/form-data") -> Any:
        return client.get(
            "/_expect/precheck",
            HTTP_X_ORIGINAL_METHOD="POST",
            HTTP_X_ORIGINAL_URI=uri,
            HTTP_X_ORIGINAL_CONTENT_LENGTH=str(length),
            HTTP_X_ORIGINAL_CONTENT_TYPE=content_type,
        )

    too_large = precheck("/upload/form", 6_000_000)
    assert too_large.status_code == 403  # nginx's auth_request passes only 401 and 403 on
    assert too_large["X-Expect-Status"] == "413"
    assert too_large["X-Expect-Reason"] == "content_too_large"
    assert too_large.reason_phrase == "Forbidden"
    assert precheck("/upload/form", 1_000).status_code == 204
    assert precheck("/no/such/route", 6_000_000).status_code == 204


def test_the_browser_side_has_no_limits_for_what_is_not_a_route() -> None:
    from django import forms

    class Form(forms.Form):
        document = forms.FileField()

    assert limits_for_url("") is None  # no URL and no request: nothing to ask about
    assert limits_for_url("/no/such/route") is None
    form = Form()
    assert add_upload_limits(form, "/no/such/route") is None
    assert "data-expect" not in str(form["document"])
    request = RequestFactory().get("/upload/form")
    limits = limits_for_url(None, request)  # the request's own path
    assert limits is not None and limits.max_size == 5_000_000


# -- the rejection page ------------------------------------------------------------------------


def test_the_page_goes_back_to_the_path_when_the_host_is_not_allowed() -> None:
    request = RequestFactory().post(
        "/upload/form", HTTP_HOST="evil.example", HTTP_REFERER="http://evil.example/form"
    )
    decision = refusal(Reason.CONTENT_TOO_LARGE, "too large", limit=1000)
    context = page_context(request, decision)
    assert context["back_url"] == "/upload/form"
    assert context["limit_text"] == "1 kB"
    assert "tried" not in context  # no declared length known


def test_a_missing_rejection_template_falls_back_to_a_minimal_page() -> None:
    request = RequestFactory().post("/", HTTP_ACCEPT="text/html")
    decision = refusal(Reason.UNSUPPORTED_MEDIA_TYPE, "only <images>")
    with override_settings(EXPECT_REJECTION_TEMPLATE="no/such/template.html"):
        response = rejection_response(request, decision)
    assert response.status_code == 415
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response.content.decode() == (
        "<!doctype html><title>415</title><h1>415</h1><p>only &lt;images&gt;</p>"
    )


# -- the exports -------------------------------------------------------------------------------


def test_haproxy_strings_are_quoted_so_nothing_inside_is_interpreted() -> None:
    assert _haproxy_string("^/upload$") == "'^/upload$'"
    assert _haproxy_string('it\'s $HOME \\ "x"') == '"it\'s \\$HOME \\\\ \\"x\\""'


def test_an_unknown_export_format_names_the_formats() -> None:
    with pytest.raises(
        ValueError, match="unknown format 'yaml'; use one of text, json, nginx, haproxy"
    ):
        render([], "yaml")


def test_a_policy_without_a_limit_is_not_dynamic() -> None:
    # The memo's common case: a literal policy is the same object for every request.
    @upload_policy(max_size=10)
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    assert effective_policy(view, "POST", (), _request()).identity is None
    assert effective_policy(view, "POST", ()).policy == UploadPolicy(max_size=10)
