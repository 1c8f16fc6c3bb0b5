"""Who is uploading: the user the policy's login/permission checks consult, resolved lazily.

Django's ``request.user`` (session, or any authentication middleware) comes first. Django REST
framework authenticates inside the view, after the middleware; for DRF views whose user is still
anonymous, the view's own authenticators are run here, except ``SessionAuthentication`` (its CSRF
check may read the body, and the session user is ``request.user`` already). Header-based schemes
(Basic, Token, JWT, ...) read headers only. Nothing is resolved unless the policy asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest

__all__ = ["LazyIdentity"]


class LazyIdentity:
    """Satisfies ``core.Identity``; resolves the user on first use."""

    def __init__(self, request: HttpRequest, view: Callable[..., Any]) -> None:
        self._request = request
        self._view = view
        self._user: Any = None
        self._resolved = False

    @property
    def user(self) -> Any:
        if not self._resolved:
            self._resolved = True
            self._user = _resolve(self._request, self._view)
        return self._user

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None and bool(self.user.is_authenticated)

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return self.user is not None and bool(self.user.has_perms(perm_list, obj))


def _resolve(request: HttpRequest, view: Callable[..., Any]) -> Any:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
    drf_user = _drf_user(request, view_class) if view_class is not None else None
    return drf_user if drf_user is not None else user


def _drf_user(request: HttpRequest, view_class: type) -> Any:
    try:
        from rest_framework.authentication import SessionAuthentication
        from rest_framework.exceptions import APIException
        from rest_framework.request import Request
        from rest_framework.views import APIView
    except ImportError:
        return None
    if not (isinstance(view_class, type) and issubclass(view_class, APIView)):
        return None
    drf_request = Request(request)
    for authenticator_class in getattr(view_class, "authentication_classes", ()):
        if issubclass(authenticator_class, SessionAuthentication):
            continue
        try:
            result = authenticator_class().authenticate(drf_request)
        except APIException:
            return None
        if result is not None:
            return result[0]
    return None
