"""Who is uploading: the user the policy's login/permission checks consult, resolved lazily.

Django's ``request.user`` (session, or any authentication middleware) comes first. The API
frameworks authenticate inside the view, after the middleware; when the session user is
anonymous, the view's own schemes that read the head only are run here:

* Django REST framework: the view's authenticators (the route's ``authentication_classes``
  initkwarg, as an ``@action(authentication_classes=...)`` sets it, else the class's), except
  ``SessionAuthentication`` (its CSRF check may read the body, and the session user is
  ``request.user`` already). Basic, Token, JWT... read headers only.
* django-ninja: the ``auth`` of the operation serving the method (its own, its router's or the
  API's), for the schemes that read the head: ``APIKeyHeader``, ``APIKeyQuery``, ``HttpBearer``,
  ``HttpBasicAuth`` and ``APIKeyCookie(csrf=False)``. The first truthy result wins, as in
  ninja. A result that is not a user (a token, a dict) counts as logged in without any
  permission. Other callables are not run (they may read the body): the session user stays.

Nothing is resolved unless the policy asks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest

from django_expect import frameworks

__all__ = ["LazyIdentity"]


class LazyIdentity:
    """Satisfies ``core.Identity``; resolves the user on first use."""

    def __init__(self, request: HttpRequest, view: Callable[..., Any], method: str = "") -> None:
        self._request = request
        self._view = view
        self._method = method or request.method or ""
        self._user: Any = None
        self._resolved = False

    @property
    def user(self) -> Any:
        if not self._resolved:
            self._resolved = True
            self._user = _resolve(self._request, self._view, self._method)
        return self._user

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None and bool(self.user.is_authenticated)

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return self.user is not None and bool(self.user.has_perms(perm_list, obj))


class _AuthResult:
    """A django-ninja auth result that is not a user: logged in, no Django permissions."""

    is_authenticated = True

    def __init__(self, result: Any) -> None:
        self.result = result

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return False


def _resolve(request: HttpRequest, view: Callable[..., Any], method: str) -> Any:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    operation = frameworks.ninja_operation(view, method)
    if operation is not None:
        ninja_user = _ninja_user(request, operation)
        return ninja_user if ninja_user is not None else user
    view_class = frameworks.view_class(view)
    drf_user = _drf_user(request, view, view_class) if view_class is not None else None
    return drf_user if drf_user is not None else user


def _drf_user(request: HttpRequest, view: object, view_class: type) -> Any:
    try:
        from rest_framework.authentication import SessionAuthentication
        from rest_framework.exceptions import APIException
        from rest_framework.request import Request
        from rest_framework.views import APIView
    except ImportError:
        return None
    if not (isinstance(view_class, type) and issubclass(view_class, APIView)):
        return None
    initkwargs: dict[str, Any] = getattr(view, "initkwargs", None) or {}
    classes: Iterable[type] = (
        initkwargs["authentication_classes"]
        if "authentication_classes" in initkwargs
        else getattr(view_class, "authentication_classes", ())
    )
    drf_request = Request(request)
    for authenticator_class in classes:
        if issubclass(authenticator_class, SessionAuthentication):
            continue
        try:
            result = authenticator_class().authenticate(drf_request)
        except APIException:
            return None
        if result is not None:
            return result[0]
    return None


def _ninja_user(request: HttpRequest, operation: Any) -> Any:
    try:
        from ninja.security import (
            APIKeyCookie,
            APIKeyHeader,
            APIKeyQuery,
            HttpBasicAuth,
            HttpBearer,
        )
    except ImportError:  # pragma: no cover - an operation was found, so ninja is installed
        return None
    head_schemes = (APIKeyHeader, APIKeyQuery, HttpBearer, HttpBasicAuth)
    for callback in getattr(operation, "auth_callbacks", None) or ():
        reads_head = isinstance(callback, head_schemes) or (
            isinstance(callback, APIKeyCookie) and not callback.csrf
        )
        if not reads_head:
            continue
        try:
            result = callback(request)
            if inspect.iscoroutine(result):
                result = _run(result)
        except Exception:  # ninja answers an error; for the policy: not this scheme's user
            continue
        if result:
            if hasattr(result, "is_authenticated") and hasattr(result, "has_perms"):
                return result
            return _AuthResult(result)
    return None


def _run(coroutine: Any) -> Any:
    """An async ``authenticate`` from the (sync) middleware, as ninja runs it from sync code."""
    from asgiref.sync import async_to_sync

    async def wait() -> Any:
        return await coroutine

    return async_to_sync(wait)()
