"""Rejection responses: JSON for API clients, HTML for browsers, or the project's own handler.

A rejection body never contains a stack trace or request data; it says what failed and, where it
helps the client, the limit (413) or the accepted media types (415). Setting
``EXPECT_REJECTION_HANDLER`` to a dotted path replaces all of this with
``handler(request, decision) -> HttpResponse``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string

from django_expect.conf import conf
from django_expect.core import Decision, Reason, format_size, format_size_as

__all__ = ["error_document", "page_context", "rejection_response"]


def error_document(decision: Decision) -> dict[str, Any]:
    """The JSON document for a rejection: ``{"error": {"status", "code", "message", ...}}``."""
    assert decision.reason is not None
    error: dict[str, Any] = {
        "status": decision.status,
        "code": decision.reason.value,
        "message": decision.message,
    }
    if decision.limit is not None:
        error["limit"] = decision.limit
    if decision.allowed is not None:
        error["allowed"] = list(decision.allowed)
    return {"error": error}


def _wants_html(request: HttpRequest) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    return "text/html" in accept and "application/json" not in accept


def _back_url(request: HttpRequest) -> str:
    """Where the person came from: the Referer when it is this site, else the request's path."""
    referer = str(request.META.get("HTTP_REFERER", ""))
    try:
        host = request.get_host()
    except DisallowedHost:
        return request.path
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={host}, require_https=request.is_secure()
    ):
        return referer
    return request.path


def page_context(request: HttpRequest, decision: Decision) -> dict[str, Any]:
    """The rejection template's context: the JSON error's fields, plus what a person reads.

    ``limit_text`` ("5 MB"), ``tried`` (the declared body length, when known) and ``tried_text``
    in the limit's unit system, and ``back_url`` (the Referer if same-origin, else the path).
    """
    context: dict[str, Any] = dict(error_document(decision)["error"])
    context["back_url"] = _back_url(request)
    if decision.limit is not None:
        context["limit_text"] = format_size(decision.limit)
        if decision.declared_length is not None:
            context["tried"] = decision.declared_length
            context["tried_text"] = format_size_as(decision.declared_length, decision.limit)
    return context


def _default_response(request: HttpRequest, decision: Decision) -> HttpResponse:
    document = error_document(decision)
    if _wants_html(request):
        context = page_context(request, decision)
        body: str
        try:
            body = render_to_string(conf.EXPECT_REJECTION_TEMPLATE, context, request=request)
        except TemplateDoesNotExist:
            body = (
                f"<!doctype html><title>{decision.status}</title>"
                f"<h1>{decision.status}</h1><p>{escape(decision.message)}</p>"
            )
        return _rfc9110_reason(
            HttpResponse(body, status=decision.status, content_type="text/html; charset=utf-8")
        )
    return _rfc9110_reason(
        HttpResponse(json.dumps(document), status=decision.status, content_type="application/json")
    )


def _rfc9110_reason(response: HttpResponse) -> HttpResponse:
    if response.status_code == 413:
        response.reason_phrase = "Content Too Large"  # RFC 9110 15.5.14's name
    return response


def _handler() -> Callable[[HttpRequest, Decision], HttpResponse]:
    path = conf.EXPECT_REJECTION_HANDLER
    if not path:
        return _default_response
    handler: Callable[[HttpRequest, Decision], HttpResponse] = import_string(path)
    return handler


def rejection_response(request: HttpRequest, decision: Decision) -> HttpResponse:
    """The response for a rejected request, with the headers its status calls for."""
    response = _handler()(request, decision)
    if decision.reason is Reason.LOGIN_REQUIRED and not response.has_header("WWW-Authenticate"):
        response["WWW-Authenticate"] = conf.EXPECT_WWW_AUTHENTICATE
    if decision.allowed is not None and not response.has_header("Accept"):
        response["Accept"] = ", ".join(decision.allowed)  # RFC 9110 15.5.16
    return response
