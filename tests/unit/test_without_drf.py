"""Without Django REST framework installed (its modules made unimportable here): a class-based
view's policy is still found on its handler method, no DRF generic action is looked for, and the
uploader is the session user."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.views import View

from django_expect import frameworks, upload_policy
from django_expect.identity import LazyIdentity
from django_expect.policies import declared_policy


@pytest.fixture
def no_drf(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "rest_framework" or name.startswith("rest_framework."):
            monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    for name in (
        "rest_framework",
        "rest_framework.generics",
        "rest_framework.mixins",
        "rest_framework.authentication",
    ):
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]


class Upload(View):
    @upload_policy(max_size=3)
    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    def partial_update(self, request: HttpRequest) -> Any:  # a name DRF gives meaning to
        return HttpResponse()


def test_handlers_are_the_views_own_methods(no_drf: None) -> None:
    with pytest.raises(ImportError):
        import rest_framework.generics  # noqa: F401
    view = Upload.as_view()
    assert frameworks._find_handlers(view, "POST") == (Upload.post,)
    assert frameworks._find_handlers(view, "PATCH") == ()  # no DRF: partial_update is not PATCH
    policy = declared_policy(view, "POST")
    assert policy is not None and policy.max_size == 3


def test_the_uploader_is_the_session_user(no_drf: None) -> None:
    request = RequestFactory().post("/", HTTP_AUTHORIZATION="Token abc")
    request.user = AnonymousUser()
    assert isinstance(LazyIdentity(request, Upload.as_view(), "POST").user, AnonymousUser)
