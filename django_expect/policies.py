"""Which upload policy applies to a view: the ``upload_policy`` decorator and its lookup.

A decorated view carries its policy on one attribute (like ``csrf_exempt``), so the middleware
reads it from the view Django already resolved: no URL resolution, no database query. Views
without a decorator get ``EXPECT_DEFAULT_POLICY``, built once and rebuilt when the setting
changes (the admin's site-wide values go on top: :mod:`django_expect.sitewide`). A decorated
view does not inherit from the default policy: its arguments are the whole policy.

Precedence, for the method being served (:func:`declared_policy`): the code serving that method
(a class-based view's handler method, a DRF ViewSet action, a django-ninja operation; see
:mod:`django_expect.frameworks`), then the view itself (the function, ``dispatch``, or the
class), then the setting.

Every policy the decorator creates is remembered weakly (:func:`declarations`), so the system
check ``django_expect.W007`` can name each one no URL pattern enforces.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any, NamedTuple, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import ImproperlyConfigured

from django_expect import frameworks
from django_expect.conf import conf, derived
from django_expect.core import ExpectMode, PolicyError, UploadPolicy

__all__ = [
    "POLICY_ATTRIBUTE",
    "Declaration",
    "declarations",
    "declared_policy",
    "default_policy",
    "policy_of",
    "upload_policy",
]

POLICY_ATTRIBUTE = "upload_policy"

_View = TypeVar("_View", bound=Callable[..., Any])

#: A view attribute: ``(route policy) -> the policy each request's body is decided by``, for
#: views that apply the route's policy to a whole multi-request upload themselves (the tus
#: endpoint: the file's limit, types and check at creation, each chunk's against what is left).
#: Read by :func:`django_expect.resolution.effective_policy` only.
REQUEST_POLICY_ATTRIBUTE = "expect_request_policy"

#: The policy values audits and the admin report, with the ``upload_policy`` argument of each
#: (also the key in ``EXPECT_DEFAULT_POLICY``). The one place the two names differ is
#: ``permission``: the argument (and the admin's column) takes one name or several, the policy
#: keeps them as ``UploadPolicy.permissions``, a tuple, the name used everywhere inside.
POLICY_FIELDS = {
    "max_size": "max_size",
    "content_types": "content_types",
    "login_required": "login_required",
    "permissions": "permission",
    "expect": "expect",
    "body_timeout": "body_timeout",
    "report_only": "report_only",
    "min_rate": "min_rate",
    "min_rate_grace": "min_rate_grace",
}


def _view_name(view: object) -> str:
    module = getattr(view, "__module__", None) or "?"
    name = getattr(view, "__qualname__", None) or getattr(view, "__name__", None) or repr(view)
    return f"{module}.{name}"


def upload_policy(
    max_size: int | str | Callable[[Any], object] | None = None,
    content_types: str | Iterable[str] | Callable[[Any], object] | None = None,
    login_required: bool = False,
    permission: str | Iterable[str] | None = None,
    check: Callable[..., object] | None = None,
    expect: str | ExpectMode = "on-read",
    body_timeout: float | None = None,
    report_only: bool = False,
    quota: Callable[[Any], object] | None = None,
    min_rate: float | None = None,
    min_rate_grace: float | None = None,
) -> Callable[[_View], _View]:
    """Declare what a view accepts as a request body; checked before any body byte is read.

    Works on function views (sync or async), on class-based views used as a class decorator,
    through ``method_decorator(upload_policy(...), name="dispatch")``, on the handler methods of
    a class-based view (``post``, ``put``...), on DRF ViewSet actions (``create``, ``@action``...,
    above or below ``@action``) and on django-ninja operations (above or below ``@api.post``).
    ``body_timeout`` (seconds) bounds how long the body may stop arriving once invited; None
    means ``EXPECT_BODY_TIMEOUT``. ``report_only=True`` logs, counts and signals what the
    policy would refuse and lets the request through. ``min_rate`` (bytes per second) is the
    average rate the body must keep once ``min_rate_grace`` seconds have passed since it was
    invited; None means ``EXPECT_MIN_RATE`` / ``EXPECT_MIN_RATE_GRACE``. Invalid arguments raise
    ``ImproperlyConfigured`` naming the view, when the module is imported.
    """

    def decorator(view: _View) -> _View:
        try:
            policy = UploadPolicy.build(
                max_size=max_size,
                content_types=content_types,
                login_required=login_required,
                permission=permission,
                check=check,
                expect=expect,
                body_timeout=body_timeout,
                report_only=report_only,
                quota=quota,
                min_rate=min_rate,
                min_rate_grace=min_rate_grace,
            )
        except PolicyError as error:
            raise ImproperlyConfigured(f"upload_policy on {_view_name(view)}: {error}") from None
        _remember(policy, view)
        if isinstance(view, type):
            setattr(view, POLICY_ATTRIBUTE, policy)
            return view
        if frameworks.ninja_registered(view):
            # Written above @api.post(...): django-ninja keeps the function itself.
            setattr(view, POLICY_ATTRIBUTE, policy)
        if iscoroutinefunction(view):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await view(*args, **kwargs)

            wrapper: Callable[..., Any] = markcoroutinefunction(
                wraps(view)(_in_module_of(view, async_wrapper))
            )
        else:

            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                return view(*args, **kwargs)

            wrapper = wraps(view)(_in_module_of(view, sync_wrapper))
        setattr(wrapper, POLICY_ATTRIBUTE, policy)
        return wrapper  # type: ignore[return-value]

    return decorator


def _in_module_of(view: object, wrapper: Callable[..., Any]) -> Callable[..., Any]:
    """``wrapper`` with the view's module globals: frameworks that resolve string annotations
    through ``func.__globals__`` (django-ninja, with ``from __future__ import annotations``)
    then find the view's names. The wrapper's own code reads no global."""
    view_globals = getattr(view, "__globals__", None)
    if not isinstance(view_globals, dict) or not isinstance(wrapper, types.FunctionType):
        return wrapper
    return types.FunctionType(
        wrapper.__code__, view_globals, wrapper.__name__, None, wrapper.__closure__
    )


def policy_of(view: object) -> UploadPolicy | None:
    """The policy a view declared: on the function, or on its class-based view's class."""
    policy = getattr(view, POLICY_ATTRIBUTE, None)
    if isinstance(policy, UploadPolicy):
        return policy
    policy = getattr(frameworks.view_class(view), POLICY_ATTRIBUTE, None)
    return policy if isinstance(policy, UploadPolicy) else None


def _function_policy(func: object) -> UploadPolicy | None:
    """The policy on a function or on a function it wraps (``functools.wraps`` chains)."""
    for _ in range(32):  # bounded: a __wrapped__ cycle must not hang a request
        policy = getattr(func, POLICY_ATTRIBUTE, None)
        if isinstance(policy, UploadPolicy):
            return policy
        func = getattr(func, "__wrapped__", None)
        if func is None:
            return None
    return None


def declared_policy(view: object, method: str) -> UploadPolicy | None:
    """The policy the code declared for requests with ``method`` that ``view`` serves, if any.

    The code serving ``method`` first (handler method, ViewSet action, ninja operation), then
    the view (function, ``dispatch``, class). Only
    :func:`django_expect.resolution.effective_policy` and the audits call this.
    """
    for served_by in frameworks.handlers(view, method):
        policy = _function_policy(served_by)
        if policy is not None:
            return policy
    return policy_of(view)


# -- every declared policy, for the W007 check ----------------------------------------------------


class Declaration(NamedTuple):
    """One ``upload_policy`` application: the policy, what it decorated, and what kind of thing
    that was (``"class"``, ``"method"``: a function defined in a class body, or ``"function"``)."""

    policy: UploadPolicy
    path: str
    kind: str


#: id(policy) -> (the policy, weakly; the decorated object's dotted path; its kind)
_declared: dict[int, tuple[weakref.ref[UploadPolicy], str, str]] = {}


def _remember(policy: UploadPolicy, view: object) -> None:
    key = id(policy)

    def forget(_: object) -> None:
        _declared.pop(key, None)

    qualname = str(getattr(view, "__qualname__", ""))
    if isinstance(view, type):
        kind = "class"
    elif "." in qualname.rsplit(".<locals>.", 1)[-1]:
        kind = "method"
    else:
        kind = "function"
    _declared[key] = (weakref.ref(policy, forget), _view_name(view), kind)


def declarations() -> Iterator[Declaration]:
    """Every policy ``upload_policy`` created that still exists, with what it decorated."""
    for ref, path, kind in list(_declared.values()):
        policy = ref()
        if policy is not None:
            yield Declaration(policy, path, kind)


def default_policy() -> UploadPolicy:
    """``EXPECT_DEFAULT_POLICY`` as a policy (built once per settings; ImproperlyConfigured if
    invalid). The admin's site-wide values go on top in :mod:`django_expect.sitewide`."""

    def build() -> UploadPolicy:
        try:
            return UploadPolicy.build(**conf.EXPECT_DEFAULT_POLICY)
        except (PolicyError, TypeError) as error:
            raise ImproperlyConfigured(f"EXPECT_DEFAULT_POLICY: {error}") from None

    return derived("default_policy", build)
