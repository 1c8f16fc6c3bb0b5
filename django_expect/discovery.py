"""OPTIONS discovery: one request tells a JavaScript uploader a route's limit and types.

``OPTIONS /upload/url`` (not a CORS preflight) is answered from the route's effective policy::

    HTTP/1.1 200 OK
    Upload-Limit: max-size=5000000           (draft-ietf-httpbis-resumable-upload)
    Accept-Post: multipart/form-data         (the accepted request types, when the policy has any)
    Content-Type: application/json

    {"upload": {"max_size": 5000000, "max_size_text": "5 MB", "content_types": [...], ...}}

The middleware answers only when the route has something to tell (a size limit or types), the
request carries no body, it is not a CORS preflight (``Access-Control-Request-Method``: those
belong to django-cors-headers, which answers them in its own middleware before any view), and the
view does not answer OPTIONS itself: a class-based view that defines ``options`` (Django REST
framework's ``APIView`` does) or a view marked with :func:`answers_options`. Such a view's own
OPTIONS response gets the two headers added (unless it set them). ``EXPECT_DISCOVERY = False``
turns all of this off.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views import View

from django_expect.browser import UploadLimits, limits_for_view
from django_expect.resolution import route_keys

__all__ = ["add_discovery_headers", "answers_options", "discovery_limits", "discovery_response"]

_ANSWERS_OPTIONS = "expect_answers_options"
_View = TypeVar("_View", bound=Callable[..., Any])


def answers_options(view: _View) -> _View:
    """Mark a function view that answers OPTIONS itself (discovery then only adds headers)."""
    setattr(view, _ANSWERS_OPTIONS, True)
    return view


def _view_answers_options(view: Callable[..., Any]) -> bool:
    if getattr(view, _ANSWERS_OPTIONS, False):
        return True
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if view_class is None:
        return False
    if getattr(view_class, _ANSWERS_OPTIONS, False):
        return True
    options = getattr(view_class, "options", None)
    return options is not None and options is not View.options


def discovery_limits(request: HttpRequest, view: Callable[..., Any]) -> UploadLimits | None:
    """The limits an OPTIONS request on this route should hear about, or None."""
    if "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
        return None  # a CORS preflight: django-cors-headers (or the view) answers it
    match = request.resolver_match
    keys = route_keys(match) if match is not None else ()
    limits = limits_for_view(view, keys, request)
    return None if limits.empty else limits


def add_discovery_headers(response: HttpResponseBase, limits: UploadLimits) -> None:
    """``Upload-Limit`` and ``Accept-Post``, unless the response has them already."""
    if limits.max_size is not None and not response.has_header("Upload-Limit"):
        response["Upload-Limit"] = f"max-size={limits.max_size}"
    if limits.content_types is not None and not response.has_header("Accept-Post"):
        response["Accept-Post"] = ", ".join(limits.content_types)


def discovery_response(view: Callable[..., Any], limits: UploadLimits) -> HttpResponse | None:
    """The middleware's own answer, or None when the view answers OPTIONS itself."""
    if _view_answers_options(view):
        return None
    response = HttpResponse(
        json.dumps({"upload": limits.document()}), content_type="application/json"
    )
    add_discovery_headers(response, limits)
    return response
