"""The precheck view: a proxy asks whether an upload would pass, before it reads the body.

For proxies that read the body themselves (nginx answers ``100 Continue`` on its own), the only
way to refuse an upload before its body crosses the wire is to ask the application first, from
the head alone. nginx does this with ``auth_request``; the subrequest carries the original
request's credentials (``Authorization``, ``Cookie``) and, in headers the proxy sets, its method,
URI, Content-Length, Content-Type and Transfer-Encoding::

    X-Original-Method, X-Original-URI, X-Original-Content-Length,
    X-Original-Content-Type, X-Original-Transfer-Encoding

The view resolves the original URI to its route, asks
:func:`django_expect.resolution.effective_policy`
for that route's effective policy and identity (the same answer ``ExpectMiddleware`` gets:
decorator, default, override, session user and DRF header authenticators) and runs the same
decision:

* ``precheck`` answers ``204`` when the upload may go ahead; otherwise ``401`` (login required)
  or ``403`` (everything else), because nginx's ``auth_request`` passes only 401 and 403 on and
  turns any other status into 500. The precise status and reason are in ``X-Expect-Status`` and
  ``X-Expect-Reason`` (docs/howto/deployment.md maps them back with ``error_page``).
* ``precheck_precise`` answers the precise status (413, 415, 401, 403, ...), for proxies whose
  auth hooks pass any non-2xx response through (Caddy ``forward_auth``, Traefik ``forwardAuth``).

Per-request ``max_size``/``content_types`` callables run here for the original request (its
forwarded cookies and authorization headers identify the uploader); one that fails answers 503
``policy_unavailable`` (``precheck`` turns it into 403 like every refusal). A quota is checked
against what is left after in-flight reservations, without reserving (413 ``quota_exceeded``);
a report-only policy's would-be refusals answer 204, as the real request would pass. A view's own
``check`` callable is not run here: it is given the real request. URIs that do not
resolve pass (the real request will get its 404).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from django_expect import quotas
from django_expect.core import REPORTABLE, Reason, RequestHead
from django_expect.quotas import quota_exceeded
from django_expect.resolution import effective_policy, resolve_path, route_keys
from django_expect.responses import rejection_response

__all__ = ["precheck", "precheck_precise"]

logger = logging.getLogger("django_expect")


def _header(request: HttpRequest, name: str) -> str | None:
    value = request.headers.get(name)
    return value.strip() if value and value.strip() else None


def _decide(request: HttpRequest, precise: bool) -> HttpResponse:
    uri = _header(request, "X-Original-URI") or "/"
    path = urlsplit(uri).path or "/"
    match = resolve_path(path, getattr(request, "urlconf", None))
    if match is None:
        return HttpResponse(status=204)
    head = RequestHead(
        method=(_header(request, "X-Original-Method") or "POST").upper(),
        content_length=_header(request, "X-Original-Content-Length"),
        transfer_encoding=_header(request, "X-Original-Transfer-Encoding"),
        content_type=_header(request, "X-Original-Content-Type"),
    )
    resolution = effective_policy(match.func, head.method, route_keys(match), request)
    if resolution.error is not None:
        logger.error("django-expect precheck: %s %s: %s", head.method, path, resolution.error)
    decision = resolution.decide_head(head)
    if decision.proceed and decision.has_body and resolution.quota is not None:
        # Checked, not reserved: the real request reserves when it arrives.
        remaining = quotas.left(resolution.quota)
        if decision.declared_length is not None and decision.declared_length > remaining:
            decision = quota_exceeded(decision, remaining)
    if not decision.proceed and resolution.policy.report_only and decision.reason in REPORTABLE:
        return HttpResponse(status=204)  # report-only: the real request will go through
    if decision.proceed:
        return HttpResponse(status=204)
    response = rejection_response(request, decision)
    assert decision.reason is not None
    response["X-Expect-Status"] = str(decision.status)
    response["X-Expect-Reason"] = decision.reason.value
    if not precise:
        response.status_code = 401 if decision.reason is Reason.LOGIN_REQUIRED else 403
        response.reason_phrase = "Unauthorized" if response.status_code == 401 else "Forbidden"
    return response


@csrf_exempt
def precheck(request: HttpRequest) -> HttpResponse:
    """204 if the original upload would pass, else 401 or 403 (for nginx auth_request)."""
    return _decide(request, precise=False)


@csrf_exempt
def precheck_precise(request: HttpRequest) -> HttpResponse:
    """204 if the original upload would pass its view's policy, else the precise status."""
    return _decide(request, precise=True)
