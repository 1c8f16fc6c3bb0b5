"""A small URLconf for the W007 check (tests/unit/test_frameworks.py): policies placed where a route
reaches them, and policies placed where nothing can enforce them (named ``lost_*``/``Lost*``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views import View
from ninja import NinjaAPI
from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from django_expect import upload_policy


def lost_undecorated(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


# Decorated, but the URL pattern routes the undecorated function: nothing enforces this.
decorated_copy = upload_policy(max_size=1)(lost_undecorated)


@upload_policy(max_size=2)
def routed(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


class Uploads(viewsets.ViewSet):
    @upload_policy(max_size=3)
    def create(self, request: Any) -> Response:
        return Response()

    @upload_policy(max_size=4)
    def lost_perform_create(self, serializer: Any) -> None:  # never dispatched to
        pass


@upload_policy(max_size=5)
class LostView(View):  # never routed
    pass


class Handlers(View):
    @upload_policy(max_size=6)
    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    @upload_policy(max_size=7)
    def lost_helper(self) -> None:
        pass


api = NinjaAPI(urls_namespace="w006-test", docs_url=None, openapi_url=None)


@api.post("/op")
@upload_policy(max_size=8)
def operation(request: HttpRequest) -> dict[str, int]:
    return {}


@upload_policy(max_size=9)
@api.put("/op")
def operation_above(request: HttpRequest) -> dict[str, int]:  # above @api.put: reached too
    return {}


@upload_policy(max_size=10)
def lost_not_an_operation(request: HttpRequest) -> dict[str, int]:
    return {}


router = SimpleRouter()
router.register("uploads", Uploads, basename="uploads")

urlpatterns = [
    path("plain", lost_undecorated),
    path("routed", routed),
    path("handlers", Handlers.as_view()),
    path("api/", api.urls),
    *router.urls,
]
