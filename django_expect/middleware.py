"""ExpectMiddleware: the view's upload policy, checked before anything reads the body.

Place it in ``MIDDLEWARE`` before anything that may read the body (``CsrfViewMiddleware`` reads
``request.POST`` in ``process_view``). Per request it:

1. in ``process_view`` (the view is resolved, nothing has read the body yet): finds the view's
   policy, decides from the head (``core.decide``), runs the view's ``check``, and either returns
   the rejection (the 100 is withheld, the connection will close) or lets the request through
   (the 100 goes out on first read, or now for ``expect="after-checks"``);
2. on the way out: turns a body that grew past ``max_size`` while being read into 413, a body
   that stalled for ``body_timeout`` into 408 and a body cut short into 400 (whatever the view or
   another middleware made of the read error), and seals the input so no 100 follows a final
   response and an unread body closes the connection.

The route's ``max_size`` is also the cap on what ``request.body`` and ``request.POST`` read into
memory, in place of Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``django_expect.bodylimit``); where
the policy sets none, Django's caps stay, and breaking one (``RequestDataTooBig``,
``TooManyFieldsSent``, ``TooManyFilesSent``) is answered with the same 413 as every other
rejection instead of Django's 400.

``OPTIONS`` without a body is the discovery of discovery.py (the route's limit for JavaScript
uploaders), answered here or added to the view's own answer.

With a server adapter (the gunicorn hook, django-expect's ``runserver``, uWSGI's
``lazy_continue``), the 100 and the connection are controlled through the
``ExpectContinueInput`` found as ``wsgi.input``. Without it (another WSGI server) the policy is
still enforced before the body is read and the process logs one warning that 100-continue
coordination is inactive (not under mod_wsgi's embedded mode, where Apache sends the 100 only
when the view reads the body: the middleware alone keeps the promise there); the connection's
fate is then the server's (a WSGI application may not set ``Connection``, PEP 3333). Under ASGI,
rejections carry ``Connection: close``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponseBase

from django_expect import overrides as _overrides
from django_expect import quotas
from django_expect.bodylimit import exceeded_limit, limit_body
from django_expect.conf import conf
from django_expect.continuation import (
    ASGI_INPUT_KEY,
    BodyFailed,
    BodyTimeout,
    BodyTooSlow,
    ExpectContinueInput,
)
from django_expect.core import (
    REPORTABLE,
    ContinueTiming,
    Decision,
    Reason,
    RequestHead,
    UploadPolicy,
    decide,
    format_size,
    refusal,
)
from django_expect.discovery import add_discovery_headers, discovery_limits, discovery_response
from django_expect.overrides import app_installed
from django_expect.resolution import EffectivePolicy, request_policy, static_request_policy
from django_expect.responses import rejection_response
from django_expect.signals import continue_sent
from django_expect.stats import record_rejection, record_size, route_name
from django_expect.streams import CappedStream, declare_length, swap_request_stream

__all__ = ["ExpectMiddleware"]

logger = logging.getLogger("django_expect")

_STATE_ATTRIBUTE = "_django_expect"
_DISCOVERY_ATTRIBUTE = "_django_expect_discovery"


@dataclass(slots=True)
class _RequestState:
    """What the middleware knows about one request between process_view and the response."""

    body: ExpectContinueInput | None
    decision: Decision | None = None
    rejected: bool = False  # a final status was chosen by django-expect (or the view's check)
    overflow_limit: int | None = None
    undeclared_length_stream: CappedStream | None = None
    reservation: quotas.Reservation | None = None  # released when the request ends

    def body_left_unread(self) -> bool:
        """Whether the view answered without reading the whole body it accepted."""
        if self.body is None or self.decision is None or not self.decision.has_body:
            return False
        if self.undeclared_length_stream is not None:
            return not self.undeclared_length_stream.at_eof
        return self.body.bytes_read < (self.decision.declared_length or 0)


def app_missing_message() -> str | None:
    """The E006 text when the middleware runs without the app installed, else None."""
    from django.apps import apps

    if apps.is_installed("django_expect"):
        return None
    return (
        "django_expect.E006: django_expect.middleware.ExpectMiddleware is in MIDDLEWARE but "
        "'django_expect' is not in INSTALLED_APPS: upload policies are enforced, but the "
        "system checks, admin overrides and rejection statistics are off. Add 'django_expect' "
        "to INSTALLED_APPS."
    )


class ExpectMiddleware:
    sync_capable = True
    async_capable = True

    _warned_inactive = False

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if (missing := app_missing_message()) is not None:
            logger.error(missing)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
            if type(self).process_view is ExpectMiddleware.process_view:
                # Django adapts a sync process_view to an async handler with a thread hop per
                # request; this one hops only when the decision may block or run project code.
                self.process_view = self._aprocess_view  # type: ignore[method-assign,assignment]

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        try:
            return self._finish(request, self.get_response(request))
        finally:
            _release_quota(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            response = await self.get_response(request)
            return self._finish(request, response)
        finally:
            if getattr(getattr(request, _STATE_ATTRIBUTE, None), "reservation", None):
                await sync_to_async(_release_quota)(request)

    # -- before the view -------------------------------------------------------------------

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        if _no_body_and_no_expect(request.META):  # the common GET: nothing to decide
            if request.method == "OPTIONS" and conf.EXPECT_DISCOVERY:
                return self._discover(request, view_func)
            return None
        return self._apply(request, view_func, request_policy(request, view_func))

    async def _aprocess_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        """``process_view`` under an async handler, on the event loop where nothing can block
        or run the project's code: a request without a body, and a head the route's policy
        accepts without looking at the uploader (``static_request_policy``: no group limits,
        login, permissions, per-request callables or quota), with no check and no early 100
        (one memoised look-up and the core's decision). Everything else runs ``process_view``
        in Django's sync thread, as Django would have run it."""
        if _no_body_and_no_expect(request.META):  # the common GET: nothing to decide
            if not (request.method == "OPTIONS" and conf.EXPECT_DISCOVERY):
                return None
        elif not app_installed() or _overrides.registry.settled():
            resolution = static_request_policy(request, view_func)
            if resolution is not None and resolution.body_policy.check is None:
                decision = resolution.decide_head(RequestHead.from_wsgi(request.META))
                if decision.proceed and decision.continue_timing is not ContinueTiming.NOW:
                    return self._apply(request, view_func, resolution, decision)
        return await sync_to_async(ExpectMiddleware.process_view, thread_sensitive=True)(
            self, request, view_func, view_args, view_kwargs
        )

    def _apply(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        resolution: EffectivePolicy,
        decision: Decision | None = None,
    ) -> HttpResponseBase | None:
        """The policy ``resolution`` applied to a request with a body (or an ``Expect``):
        ``decision`` is the head's under it, when already made."""
        meta = request.META
        body = self._input_of(request)
        policy = resolution.body_policy
        if resolution.error is not None:
            logger.error("django-expect: %s %s: %s", request.method, request.path, resolution.error)
        if decision is None:
            decision = resolution.decide_head(RequestHead.from_wsgi(meta))
        if decision.declared_length is not None:
            record_size(request, decision.declared_length)  # the route's size histogram
        limit = policy.max_size
        check = policy.check
        reservation = None
        if decision.proceed and decision.has_body and resolution.quota is not None:
            reservation, left = quotas.reserve(resolution.quota, decision.declared_length)
            if reservation is None:
                decision = quotas.quota_exceeded(decision, left)
            elif decision.chunked:
                limit = left if limit is None else min(limit, left)
        if not decision.proceed and policy.report_only and decision.reason in REPORTABLE:
            # Report-only: count and signal the would-be refusal, then go on as accepted (the
            # policy's own size cap no longer applies to the read: Django's caps do).
            record_rejection(type(self), request, decision, report_only=True)
            # One report per request, the refusal enforcement would answer: the view's check
            # (which enforcement would not reach) is skipped.
            decision = decide(RequestHead.from_wsgi(meta), UploadPolicy(expect=policy.expect))
            limit = check = None
        state = _RequestState(body=body, decision=decision, reservation=reservation)
        setattr(request, _STATE_ATTRIBUTE, state)
        if not decision.proceed:
            return self._reject(request, state, decision)
        if not decision.has_body:
            return None
        if decision.declared_length is not None:
            declare_length(request, decision.declared_length)
        limit_body(request, limit)

        if check is not None:
            response = check(request)
            if response is not None and not isinstance(response, HttpResponseBase):
                raise TypeError(
                    f"the upload_policy check of {view_func!r} returned {response!r}; "
                    "it must return None or an HttpResponse"
                )
            if response is not None and policy.report_only:
                would_be = _rejected_by_check(decision, response)
                record_rejection(type(self), request, would_be, report_only=True)
                response = None
            if response is not None:
                state.rejected = True
                if body is not None:
                    body.withhold()
                _close_after(request, response)
                record_rejection(type(self), request, _rejected_by_check(decision, response))
                return response

        if body is not None:
            body.apply_time_limits(resolution.time_limits)
        if decision.chunked:
            self._read_undeclared_length(request, state, limit)
        if body is not None and body.awaiting_continue and _listened(continue_sent):

            def announce() -> None:
                continue_sent.send(sender=type(self), request=request, route=route_name(request))

            body.add_continue_listener(announce)
        if decision.continue_timing is ContinueTiming.NOW and body is not None:
            try:
                body.send_continue()
            except BodyFailed as failure:  # the client went away before the 100: no 500
                return self._failure_response(request, failure)
        return None

    def _discover(
        self, request: HttpRequest, view_func: Callable[..., Any]
    ) -> HttpResponseBase | None:
        """OPTIONS discovery (discovery.py): answer it, or have the view's answer carry it."""
        discovery = discovery_limits(request, view_func)
        if discovery is None:
            return None
        response = discovery_response(view_func, discovery)
        if response is None:
            setattr(request, _DISCOVERY_ATTRIBUTE, discovery)  # _finish adds the headers
        return response

    def _reject(
        self, request: HttpRequest, state: _RequestState, decision: Decision
    ) -> HttpResponseBase:
        state.rejected = True
        if state.body is not None:
            state.body.withhold()
        record_rejection(type(self), request, decision)
        response = rejection_response(request, decision)
        if decision.close_connection:
            _close_after(request, response)
        return response

    def _read_undeclared_length(
        self, request: HttpRequest, state: _RequestState, limit: int | None
    ) -> None:
        """Let the view read a chunked body whole, up to ``limit``."""

        def overflow() -> None:
            state.overflow_limit = limit

        source = (
            request.environ["wsgi.input"]
            if isinstance(request, WSGIRequest)
            else swap_request_stream(request)
        )
        state.undeclared_length_stream = CappedStream(source, limit, overflow)
        swap_request_stream(request, state.undeclared_length_stream)

    # -- after the view --------------------------------------------------------------------

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        """A body that stalled or broke while the view read it: 408 or 400, not a 500; a body
        over the route's limit or Django's caps: 413, not Django's 400."""
        if isinstance(exception, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
            state: _RequestState | None = getattr(request, _STATE_ATTRIBUTE, None)
            if state is not None and not state.rejected:
                return self._limit_response(request, state)
            return None
        failure = _body_failure(exception)
        if failure is None:
            return None
        return self._failure_response(request, failure)

    def _limit_response(
        self,
        request: HttpRequest,
        state: _RequestState,
        answered: HttpResponseBase | None = None,
    ) -> HttpResponseBase | None:
        """The 413 for a body that broke the route's limit or one of Django's caps (None if it
        broke none).

        ``answered``: the response already made. A chunked body past ``max_size`` is answered 413
        whatever it is; for Django's caps only Django's own 400 is replaced (a view that caught
        the exception and answered otherwise, e.g. by streaming the body, keeps its answer).
        """
        if state.overflow_limit is not None:
            return self._reject(request, state, _too_large(state.overflow_limit, state.decision))
        exceeded = exceeded_limit(request)
        if exceeded is None or (answered is not None and answered.status_code != 400):
            return None
        if exceeded.kind == "size":
            form = request.content_type == "multipart/form-data"  # files do not count
            decision = _too_large(exceeded.limit, state.decision, fields_only=form)
            return self._reject(request, state, decision)
        reason = Reason.TOO_MANY_FIELDS if exceeded.kind == "fields" else Reason.TOO_MANY_FILES
        return self._reject(
            request,
            state,
            refusal(
                reason,
                f"the form has more than {exceeded.limit} {exceeded.kind}",
                head=state.decision,
                limit=exceeded.limit,
            ),
        )

    def _failure_response(self, request: HttpRequest, failure: BodyFailed) -> HttpResponseBase:
        state: _RequestState | None = getattr(request, _STATE_ATTRIBUTE, None)
        if state is None:
            state = _RequestState(body=self._input_of(request))
            setattr(request, _STATE_ATTRIBUTE, state)
        if isinstance(failure, BodyTooSlow):
            reason = Reason.BODY_TOO_SLOW
        elif isinstance(failure, BodyTimeout):
            reason = Reason.BODY_TIMEOUT
        else:
            reason = Reason.INCOMPLETE_BODY
        decision = refusal(reason, str(failure))
        logger.debug("django-expect: %s %s: %s", request.method, request.path, failure)
        return self._reject(request, state, decision)

    def _finish(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        state: _RequestState | None = request.__dict__.get(_STATE_ATTRIBUTE)
        if state is None:
            if request.method == "OPTIONS" and (
                discovery := getattr(request, _DISCOVERY_ATTRIBUTE, None)
            ):
                add_discovery_headers(response, discovery)
            if _no_body_and_no_expect(request.META):
                return response  # the common GET: nothing was decided, nothing to seal
        body = state.body if state is not None else self._input_of(request)
        if body is not None and body.failure is not None and not (state and state.rejected):
            # The view (or a middleware, like CsrfViewMiddleware) swallowed the read error and
            # answered as if the body were whole: a partial upload must never pass for one.
            response = self._failure_response(request, body.failure)
        if state is not None and not state.rejected:
            # A body over the limit, whatever caught the exception (the view, or
            # CsrfViewMiddleware.process_view, whose errors Django answers 400 without calling
            # process_exception).
            limited = self._limit_response(request, state, response)
            if limited is not None:
                response = limited
        if body is not None:
            if state is not None and state.body_left_unread():
                # What is left would have to be drained, or be read as the next request: close.
                body.close_connection()
            body.seal()
        return response

    def _input_of(self, request: HttpRequest) -> ExpectContinueInput | None:
        # WSGI: the server adapter's wsgi.input; ASGI: django_expect.asgi's handler puts its
        # input in META under ASGI_INPUT_KEY.
        key = ASGI_INPUT_KEY if isinstance(request, ASGIRequest) else "wsgi.input"
        stream = request.META.get(key)
        if isinstance(stream, ExpectContinueInput):
            return stream
        if not ExpectMiddleware._warned_inactive and not _server_coordinates(request.META):
            ExpectMiddleware._warned_inactive = True
            logger.warning(
                "django-expect: 100-continue coordination is inactive (no django-expect adapter "
                "for this server: the gunicorn hooks, the runserver command, uWSGI's "
                "lazy_continue, django_expect.asgi.get_asgi_application; see "
                "docs/howto/servers.md). Upload policies are still enforced before the body is "
                "read, but the server may already have invited the body."
            )
        return None


def _listened(signal: Signal) -> bool:
    """Whether ``signal`` has a receiver: False at once when nothing was ever connected (Django's
    ``Signal.receivers``, the list ``connect()`` appends to, listed among the internal
    attributes in ``django/dispatch/dispatcher.py``), else ``has_listeners()``."""
    return bool(signal.receivers) and signal.has_listeners()


def _no_body_and_no_expect(meta: Mapping[str, Any]) -> bool:
    """No body (no Transfer-Encoding; Content-Length absent, empty or 0) and no ``Expect``."""
    return (
        meta.get("CONTENT_LENGTH", "0") in _NO_LENGTH
        and "HTTP_TRANSFER_ENCODING" not in meta
        and "HTTP_EXPECT" not in meta
    )


_NO_LENGTH = frozenset(("", "0"))


def _server_coordinates(meta: Mapping[str, Any]) -> bool:
    """True where the server itself sends the 100 only when the application reads the body, so
    no adapter is needed: Apache with mod_wsgi in embedded mode (Apache's ``HTTP_IN`` filter;
    mod_wsgi sets ``mod_wsgi.process_group`` to "" there, a daemon group's name in daemon mode,
    where the Apache child reads the body before Django runs)."""
    return meta.get("mod_wsgi.process_group") == ""


def _too_large(
    limit: int | None, decision: Decision | None, *, fields_only: bool = False
) -> Decision:
    """The 413 decision for a body found over ``limit`` while it was read (or from its declared
    length, by Django's own check); ``fields_only``: the non-file fields of a multipart form."""
    declared = decision.declared_length if decision is not None else None
    shown = "no limit" if limit is None else f"{limit} bytes ({format_size(limit)})"
    if fields_only:
        message = f"the form's fields (files aside) are larger than the limit of {shown}"
    elif declared is not None and (limit is None or declared > limit):
        message = f"the body is {declared} bytes; the limit is {shown}"
    else:
        message = f"the body is larger than the limit of {shown}"
    return refusal(Reason.CONTENT_TOO_LARGE, message, head=decision, limit=limit)


def _rejected_by_check(head: Decision, response: HttpResponseBase) -> Decision:
    """The view's check answered ``response`` instead of letting the body in (the 100 withheld)."""
    return refusal(
        Reason.REJECTED_BY_CHECK,
        head=head,
        continue_timing=ContinueTiming.WITHHOLD,
        check_status=response.status_code,
    )


def _release_quota(request: HttpRequest) -> None:
    """End the request's quota reservation, if it holds one (whatever way the request ended)."""
    state: _RequestState | None = getattr(request, _STATE_ATTRIBUTE, None)
    if state is not None and state.reservation is not None:
        reservation, state.reservation = state.reservation, None
        quotas.release(reservation)


def _close_after(request: HttpRequest, response: HttpResponseBase) -> None:
    """Have the server close the connection after ``response``, by the server's own means.

    Under a server adapter (the gunicorn hook) the input was already told (``withhold`` or
    ``close_connection``: gunicorn's ``req.must_close``). ASGI servers honour an application's
    ``Connection: close`` (uvicorn closes on it). A WSGI application must never set it: PEP 3333
    forbids hop-by-hop headers, and strict servers (wsgiref/runserver, waitress) answer 500.
    """
    if isinstance(request, ASGIRequest):
        response["Connection"] = "close"


def _body_failure(exception: BaseException) -> BodyFailed | None:
    """The BodyFailed behind an exception (Django re-raises it as UnreadablePostError)."""
    seen: set[int] = set()
    current: BaseException | None = exception
    while current is not None and id(current) not in seen:
        if isinstance(current, BodyFailed):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
