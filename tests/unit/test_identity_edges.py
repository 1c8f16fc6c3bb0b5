"""Who uploads, where the header authentication is unusual: a DRF authenticator that refuses
(``APIException``) or is skipped (session), a plain Django class-based view (no DRF), and
django-ninja schemes that raise, are async or answer something that is not a user. Routes are
this module's own (``urlpatterns`` below)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.urls import path, resolve
from django.views import View
from ninja import NinjaAPI
from ninja.security import APIKeyHeader, HttpBearer
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework.views import APIView

from django_expect.identity import LazyIdentity

UPLOADER = User(username="uploader")


class _Refuses(BaseAuthentication):
    def authenticate(self, request: Any) -> Any:
        if request.META.get("HTTP_X_TOKEN") == "bad":
            raise AuthenticationFailed("bad token")
        return None


class _Token(BaseAuthentication):
    def authenticate(self, request: Any) -> Any:
        return (UPLOADER, "token") if request.META.get("HTTP_X_TOKEN") == "good" else None


class DrfUpload(APIView):
    authentication_classes: ClassVar[list[type]] = [SessionAuthentication, _Refuses, _Token]

    def post(self, request: Any) -> Response:
        return Response()


class PlainUpload(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse()


class _Raises(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if token == "boom":
            raise RuntimeError("auth backend down")
        return None


class _AsyncBearer(HttpBearer):
    async def authenticate(self, request: HttpRequest, token: str) -> Any:
        return UPLOADER if token == "async-token" else None


class _Key(APIKeyHeader):
    param_name = "X-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return "service-account" if key == "service" else None


api = NinjaAPI(urls_namespace="identity-edges", docs_url=None, openapi_url=None)


@api.post("/upload", auth=[_Raises(), _AsyncBearer(), _Key()])
def ninja_upload(request: HttpRequest) -> dict[str, str]:
    return {}


urlpatterns = [
    path("drf", DrfUpload.as_view()),
    path("plain", PlainUpload.as_view()),
    path("ninja/", api.urls),
]

pytestmark = pytest.mark.urls(__name__)


def _user(url: str, **headers: str) -> Any:
    request = RequestFactory().post(url, **headers)
    request.user = AnonymousUser()
    return LazyIdentity(request, resolve(url).func, "POST").user


def test_a_drf_authenticator_that_refuses_leaves_the_session_user() -> None:
    assert isinstance(_user("/drf", HTTP_X_TOKEN="bad"), AnonymousUser)
    assert _user("/drf", HTTP_X_TOKEN="good") is UPLOADER  # the next authenticator's user
    assert isinstance(_user("/drf"), AnonymousUser)


def test_a_plain_class_based_view_has_only_the_session_user() -> None:
    assert isinstance(_user("/plain", HTTP_X_TOKEN="good"), AnonymousUser)


def test_a_ninja_scheme_that_raises_is_not_this_schemes_user() -> None:
    assert isinstance(_user("/ninja/upload", HTTP_AUTHORIZATION="Bearer boom"), AnonymousUser)


def test_an_async_ninja_scheme_is_awaited() -> None:
    assert _user("/ninja/upload", HTTP_AUTHORIZATION="Bearer async-token") is UPLOADER


def test_a_ninja_result_that_is_not_a_user_is_logged_in_without_permissions() -> None:
    request = RequestFactory().post("/ninja/upload", HTTP_X_KEY="service")
    request.user = AnonymousUser()
    identity = LazyIdentity(request, resolve("/ninja/upload").func, "POST")
    assert identity.is_authenticated
    assert identity.user.result == "service-account"
    assert not identity.has_perms(["files.add_file"])
