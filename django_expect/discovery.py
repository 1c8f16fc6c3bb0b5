"""OPTIONS discovery: one request tells a JavaScript uploader a route's limit and types.

``OPTIONS /upload/url`` (not a CORS preflight) is answered from the route's effective policy::

    HTTP/1.1 200 OK
    Upload-Limit: max-size=5000000           (draft-ietf-httpbis-resumable-upload)
    Accept-Post: multipart/form-data         (the accepted request types, when the policy has any)
    Content-Type: application/json

    {"upload": {"method": "POST", "max_size": 5000000, "max_size_text": "5 MB", ...},
     "methods": {"POST": {"max_size": 5000000, ...}}}

A route can take uploads by more than one method, each with its own policy (a DRF detail route:
PUT and PATCH; a django-ninja path: one operation per method). ``methods`` lists each upload
method the route serves (POST, PUT, PATCH; a function view serves all three alike) with its
limits; ``upload`` and ``Upload-Limit`` describe the first of them in that order, and
``Accept-Post`` is sent only when the route serves POST (it names what a POST may carry).

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
from dataclasses import dataclass
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views import View

from django_expect.browser import UploadLimits, limits_for_view
from django_expect.frameworks import served_methods, view_class
from django_expect.resolution import route_keys

__all__ = ["answers_options"]

#: The methods that carry an upload, in the order the headers prefer the one they describe.
UPLOAD_METHODS = ("POST", "PUT", "PATCH")

_ANSWERS_OPTIONS = "expect_answers_options"
_View = TypeVar("_View", bound=Callable[..., Any])


def answers_options(view: _View) -> _View:
    """Mark a function view that answers OPTIONS itself (discovery then only adds headers)."""
    setattr(view, _ANSWERS_OPTIONS, True)
    return view


def _view_answers_options(view: Callable[..., Any]) -> bool:
    if getattr(view, _ANSWERS_OPTIONS, False):
        return True
    cls = view_class(view)
    if cls is None:
        return False
    if getattr(cls, _ANSWERS_OPTIONS, False):
        return True
    options = getattr(cls, "options", None)
    return options is not None and options is not View.options


@dataclass(frozen=True)
class Discovery:
    """A route's limits for each upload method it serves (at least one, in UPLOAD_METHODS order)."""

    by_method: dict[str, UploadLimits]

    @property
    def method(self) -> str:
        """The method the headers and ``upload`` describe: the first the route serves."""
        return next(iter(self.by_method))

    @property
    def limits(self) -> UploadLimits:
        return self.by_method[self.method]

    def document(self) -> dict[str, Any]:
        """The discovery JSON (the module docstring shows it)."""
        return {
            "upload": {"method": self.method, **self.limits.document()},
            "methods": {method: limits.document() for method, limits in self.by_method.items()},
        }


def _upload_methods(view: Callable[..., Any]) -> tuple[str, ...]:
    served = served_methods(view)
    if not served:  # a function view: every method reaches the same code and policy
        return UPLOAD_METHODS
    return tuple(method for method in UPLOAD_METHODS if method in served)


def discovery_limits(request: HttpRequest, view: Callable[..., Any]) -> Discovery | None:
    """What an OPTIONS request on this route should hear about, or None (nothing to tell, no
    upload method served, or a CORS preflight)."""
    if "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
        return None  # a CORS preflight: django-cors-headers (or the view) answers it
    match = request.resolver_match
    keys = route_keys(match) if match is not None else ()
    by_method = {
        method: limits_for_view(view, keys, request, method) for method in _upload_methods(view)
    }
    if all(limits.empty for limits in by_method.values()):
        return None
    return Discovery(by_method)


def add_discovery_headers(response: HttpResponseBase, discovery: Discovery) -> None:
    """``Upload-Limit`` and ``Accept-Post``, unless the response has them already."""
    limits = discovery.limits
    if limits.max_size is not None and not response.has_header("Upload-Limit"):
        response["Upload-Limit"] = f"max-size={limits.max_size}"
    posted = discovery.by_method.get("POST")
    types = None if posted is None else posted.content_types
    if types is not None and not response.has_header("Accept-Post"):
        response["Accept-Post"] = ", ".join(types)


def discovery_response(view: Callable[..., Any], discovery: Discovery) -> HttpResponse | None:
    """The middleware's own answer, or None when the view answers OPTIONS itself."""
    if _view_answers_options(view):
        return None
    response = HttpResponse(json.dumps(discovery.document()), content_type="application/json")
    add_discovery_headers(response, discovery)
    return response
