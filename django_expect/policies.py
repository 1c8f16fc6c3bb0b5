"""Which upload policy applies to a view: the ``upload_policy`` decorator and its lookup.

A decorated view carries its policy on one attribute (like ``csrf_exempt``), so the middleware
reads it from the view Django already resolved: no URL resolution, no database query. Views
without a decorator get ``EXPECT_DEFAULT_POLICY``, built once and rebuilt when the setting
changes (the admin's site-wide values go on top: :mod:`django_expect.sitewide`). A decorated
view does not inherit from the default policy: its arguments are the whole policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import ImproperlyConfigured

from django_expect.conf import conf, derived
from django_expect.core import ExpectMode, PolicyError, UploadPolicy

__all__ = ["POLICY_ATTRIBUTE", "declared_policy", "default_policy", "policy_of", "upload_policy"]

POLICY_ATTRIBUTE = "upload_policy"

_View = TypeVar("_View", bound=Callable[..., Any])


def _view_name(view: object) -> str:
    module = getattr(view, "__module__", None) or "?"
    name = getattr(view, "__qualname__", None) or getattr(view, "__name__", None) or repr(view)
    return f"{module}.{name}"


def upload_policy(
    max_size: int | str | None = None,
    content_types: str | Iterable[str] | None = None,
    login_required: bool = False,
    permission: str | Iterable[str] | None = None,
    check: Callable[..., Any] | None = None,
    expect: str | ExpectMode = "on-read",
    body_timeout: float | None = None,
) -> Callable[[_View], _View]:
    """Declare what a view accepts as a request body; checked before any body byte is read.

    Works on function views (sync or async), on class-based views used as a class decorator, and
    through ``method_decorator(upload_policy(...), name="dispatch")``. ``body_timeout`` (seconds)
    bounds how long the body may stop arriving once invited; None means ``EXPECT_BODY_TIMEOUT``.
    Invalid arguments raise
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
            )
        except PolicyError as error:
            raise ImproperlyConfigured(f"upload_policy on {_view_name(view)}: {error}") from None
        if isinstance(view, type):
            setattr(view, POLICY_ATTRIBUTE, policy)
            return view
        if iscoroutinefunction(view):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await view(*args, **kwargs)

            wrapper: Callable[..., Any] = markcoroutinefunction(wraps(view)(async_wrapper))
        else:

            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                return view(*args, **kwargs)

            wrapper = wraps(view)(sync_wrapper)
        setattr(wrapper, POLICY_ATTRIBUTE, policy)
        return wrapper  # type: ignore[return-value]

    return decorator


def policy_of(view: object) -> UploadPolicy | None:
    """The policy a view declared: on the function, or on its class-based view's class."""
    policy = getattr(view, POLICY_ATTRIBUTE, None)
    if isinstance(policy, UploadPolicy):
        return policy
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    policy = getattr(view_class, POLICY_ATTRIBUTE, None)
    return policy if isinstance(policy, UploadPolicy) else None


def declared_policy(view: object, method: str) -> UploadPolicy | None:
    """The policy the code declared for requests with ``method`` that ``view`` serves, if any.

    Only :func:`django_expect.resolution.resolve` calls this; it is the place where a policy
    that depends on the method being served is found.
    """
    return policy_of(view)


def default_policy() -> UploadPolicy:
    """``EXPECT_DEFAULT_POLICY`` as a policy (built once per settings; ImproperlyConfigured if
    invalid). The admin's site-wide values go on top in :mod:`django_expect.sitewide`."""

    def build() -> UploadPolicy:
        try:
            return UploadPolicy.build(**conf.EXPECT_DEFAULT_POLICY)
        except (PolicyError, TypeError) as error:
            raise ImproperlyConfigured(f"EXPECT_DEFAULT_POLICY: {error}") from None

    return derived("default_policy", build)
