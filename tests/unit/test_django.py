"""The Django adapter without a server: decorator, policy lookup, middleware, responses, checks.

Requests go through Django's test client (the full middleware stack of the test project) or
straight into ExpectMiddleware.process_view, with an ExpectContinueInput that records what it
would have put on the wire.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from asgiref.sync import iscoroutinefunction
from django.contrib.auth.models import AnonymousUser
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.utils.decorators import method_decorator
from django.views import View

from django_expect import upload_policy
from django_expect.checks import check_settings
from django_expect.continuation import ContinueState
from django_expect.core import Decision, UploadPolicy
from django_expect.middleware import ExpectMiddleware
from django_expect.policies import default_policy, policy_of
from tests.fakes import check_ids, expect_input

# -- the decorator --------------------------------------------------------------------------------


def test_invalid_arguments_fail_at_decoration_naming_the_view() -> None:
    with pytest.raises(ImproperlyConfigured) as error:

        @upload_policy(max_size="10 parsecs")
        def upload(request: HttpRequest) -> HttpResponse:
            return HttpResponse()

    assert f"upload_policy on {__name__}." in str(error.value)
    assert "upload" in str(error.value) and "10 parsecs" in str(error.value)


def test_invalid_arguments_on_a_class_name_the_class() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"upload_policy on .*Uploads: expect must be"):

        @upload_policy(expect="later")
        class Uploads(View):
            pass


def test_function_views_keep_their_name_and_kind() -> None:
    @upload_policy(max_size=10)
    def sync_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("sync")

    @upload_policy(max_size=10)
    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("async")

    assert sync_view.__name__ == "sync_view"
    assert not iscoroutinefunction(sync_view)
    assert iscoroutinefunction(async_view)
    assert policy_of(sync_view) == policy_of(async_view) == UploadPolicy(max_size=10)
    assert asyncio.run(async_view(HttpRequest())).content == b"async"


def test_class_based_views_carry_the_policy_either_way() -> None:
    @upload_policy(max_size=1)
    class Decorated(View):
        pass

    @method_decorator(upload_policy(max_size=2), name="dispatch")
    class MethodDecorated(View):
        pass

    class Inherits(Decorated):
        pass

    assert policy_of(Decorated.as_view()) == UploadPolicy(max_size=1)
    assert policy_of(MethodDecorated.as_view()) == UploadPolicy(max_size=2)
    assert policy_of(Inherits.as_view()) == UploadPolicy(max_size=1)
    assert policy_of(View.as_view()) is None


def test_undecorated_views_get_the_default_policy() -> None:
    with override_settings(EXPECT_DEFAULT_POLICY={"max_size": "1KiB"}):
        assert default_policy() == UploadPolicy(max_size=1024)
    with override_settings(EXPECT_DEFAULT_POLICY={}):
        assert default_policy() == UploadPolicy()
    with (
        override_settings(EXPECT_DEFAULT_POLICY={"max_size": "lots"}),
        pytest.raises(ImproperlyConfigured, match="EXPECT_DEFAULT_POLICY"),
    ):
        default_policy()


# -- the middleware, one process_view at a time ------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.wire: list[str] = []

    def request(self, policy: dict[str, Any], length: int = 10, **meta: str) -> HttpRequest:
        stream = expect_input(b"x" * length, self.wire)
        request = RequestFactory().post(
            "/",
            data=b"x" * length,
            content_type="application/octet-stream",
            HTTP_EXPECT="100-continue",
            **{"wsgi.input": stream},
            **meta,
        )
        request.user = AnonymousUser()
        return request


def run_view_middleware(request: HttpRequest, **policy: Any) -> Any:
    @upload_policy(**policy)
    def view(request: HttpRequest) -> HttpResponse:
        raise AssertionError("the view is not called by process_view")

    middleware = ExpectMiddleware(lambda r: HttpResponse())
    return middleware.process_view(request, view, (), {})


def test_on_read_sends_nothing_before_the_view() -> None:
    recorder = Recorder()
    request = recorder.request({})
    assert run_view_middleware(request, max_size=100) is None
    assert recorder.wire == []
    assert request.read() == b"x" * 10
    assert recorder.wire == ["100"]


def test_after_checks_sends_the_100_before_the_view() -> None:
    recorder = Recorder()
    assert run_view_middleware(recorder.request({}), expect="after-checks") is None
    assert recorder.wire == ["100"]


def test_a_rejection_withholds_the_100_and_closes() -> None:
    recorder = Recorder()
    request = recorder.request({}, length=500)
    response = run_view_middleware(request, max_size=100)
    assert response.status_code == 413
    assert not response.has_header("Connection")  # PEP 3333: the server is told, not the client
    assert recorder.wire == ["close"]
    assert request.environ["wsgi.input"].state is ContinueState.WITHHELD


def test_check_returning_something_else_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="must return None or an HttpResponse"):
        run_view_middleware(Recorder().request({}), check=lambda request: 409)


def test_the_response_seals_the_input() -> None:
    recorder = Recorder()
    request = recorder.request({})
    middleware = ExpectMiddleware(lambda r: HttpResponse("done"))
    assert middleware(request).content == b"done"  # the view never read the body
    assert recorder.wire == ["close"]


# -- the middleware through the test project's stack (no gunicorn hook) ---------------------------


@pytest.fixture
def client() -> Client:
    return Client()


def post(client: Client, path: str, size: int, **extra: Any) -> Any:
    content_type = extra.pop("content_type", "application/octet-stream")
    return client.post(path, data=b"x" * size, content_type=content_type, **extra)


def test_json_rejection(client: Client) -> None:
    response = post(client, "/lab/small", 5000)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert not response.has_header("Connection")  # hop-by-hop: never from a WSGI application
    assert json.loads(response.content) == {
        "error": {
            "status": 413,
            "code": "content_too_large",
            "message": "the body is 5000 bytes; the limit is 1000 bytes (1 kB)",
            "limit": 1000,
        }
    }


def test_html_rejection_for_browsers(client: Client) -> None:
    response = post(client, "/lab/small", 5000, HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert response.status_code == 413
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    assert "This file is too large to upload" in page
    # One unit system: the limit as "1 kB", what was tried in kB too (rounded up), no raw bytes.
    assert "The limit for this upload is <strong>1 kB</strong>." in page
    assert "Your upload was 5 kB." in page
    assert "1000 bytes" not in page
    assert '<a class="back" href="/lab/small">' in page  # no Referer: back to the path
    assert "Traceback" not in page


def test_html_rejection_links_back_to_a_same_origin_referer(client: Client) -> None:
    html = "text/html,*/*;q=0.8"
    same = post(client, "/lab/small", 5000, HTTP_ACCEPT=html, HTTP_REFERER="http://testserver/f")
    assert b'href="http://testserver/f"' in same.content
    other = post(client, "/lab/small", 5000, HTTP_ACCEPT=html, HTTP_REFERER="https://evil.test/")
    assert b"evil.test" not in other.content
    assert b'href="/lab/small"' in other.content


def test_status_specific_headers(client: Client) -> None:
    unauthorised = post(client, "/lab/login", 10)
    assert unauthorised.status_code == 401
    assert unauthorised["WWW-Authenticate"] == 'Session realm="django"'
    unsupported = post(client, "/lab/types", 10, content_type="text/plain")
    assert unsupported.status_code == 415
    assert unsupported["Accept"] == "image/*, application/pdf"
    assert json.loads(unsupported.content)["error"]["allowed"] == ["image/*", "application/pdf"]
    refused = post(client, "/lab/refuse", 10, HTTP_EXPECT="100-continue")
    assert refused.status_code == 417


def custom_handler(request: HttpRequest, decision: Decision) -> HttpResponse:
    return HttpResponse(f"custom {decision.status}", status=decision.status or 400)


@override_settings(EXPECT_REJECTION_HANDLER=f"{__name__}.custom_handler")
def test_a_custom_rejection_handler(client: Client) -> None:
    response = post(client, "/lab/small", 5000)
    assert (response.status_code, response.content) == (413, b"custom 413")
    assert not response.has_header("Connection")


@override_settings(EXPECT_CHUNKED="refuse")
def test_chunked_can_be_refused(client: Client) -> None:
    response = client.post(
        "/lab/body", data=b"", content_type="text/plain", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert response.status_code == 411


def test_the_policy_runs_before_csrf_reads_the_body() -> None:
    client = Client(enforce_csrf_checks=True)
    response = post(
        client, "/upload/form", 6_000_000, content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 413  # not CSRF's 403: the body was never parsed


def test_without_the_hook_one_warning_is_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    ExpectMiddleware._warned_inactive = False
    with caplog.at_level(logging.WARNING, logger="django_expect"):
        post(client, "/lab/small", 10)
        post(client, "/lab/small", 10)
    warnings = [r for r in caplog.records if "coordination is inactive" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize(("process_group", "warned"), [("", False), ("mysite", True)])
def test_no_inactive_warning_under_mod_wsgi_embedded_mode(
    client: Client, caplog: pytest.LogCaptureFixture, process_group: str, warned: bool
) -> None:
    """mod_wsgi's embedded mode (``mod_wsgi.process_group`` is "") needs no adapter: Apache sends
    the 100 when the view reads the body, so the warning would mislead. Daemon mode (a group's
    name) invites the body before Django runs: warned."""
    ExpectMiddleware._warned_inactive = False
    with caplog.at_level(logging.WARNING, logger="django_expect"):
        post(client, "/lab/small", 10, **{"mod_wsgi.process_group": process_group})
    warnings = [r for r in caplog.records if "coordination is inactive" in r.getMessage()]
    assert len(warnings) == int(warned)
    ExpectMiddleware._warned_inactive = False


def test_requests_without_a_body_are_not_subject_to_the_policy(client: Client) -> None:
    assert client.get("/upload/form").status_code == 200  # the form renders on GET


# -- system checks ------------------------------------------------------------------------------

GOOD_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django_expect.middleware.ExpectMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]


def ids(**settings: Any) -> list[str]:
    settings.setdefault("MIDDLEWARE", GOOD_MIDDLEWARE)
    return check_ids(check_settings, **settings)


def test_checks() -> None:
    assert ids() == []
    assert ids(MIDDLEWARE=[]) == ["django_expect.W001"]
    assert ids(MIDDLEWARE=list(reversed(GOOD_MIDDLEWARE))) == ["django_expect.W002"]
    assert ids(EXPECT_DEFAULT_POLICY={"max_size": "big"}) == ["django_expect.E001"]
    assert ids(EXPECT_DEFAULT_POLICY={"maxsize": 1}) == ["django_expect.E001"]
    assert ids(EXPECT_DEFAULT_POLICY=["max_size"]) == ["django_expect.E001"]
    assert ids(EXPECT_CHUNKED="sometimes") == ["django_expect.E002"]
    assert ids(EXPECT_REJECTION_HANDLER="no.such.handler") == ["django_expect.E003"]
    assert ids(EXPECT_REJECTION_HANDLER="django_expect.conf.CHUNKED_MODES") == [
        "django_expect.E003"
    ]
    assert ids(EXPECT_WWW_AUTHENTICATE=5) == ["django_expect.E004"]
    assert all(isinstance(m, Error) for m in check_settings() if m.id and ".E" in m.id)
