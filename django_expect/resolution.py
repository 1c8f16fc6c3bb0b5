"""The one answer to "what is the effective upload policy of this route, for this request".

Every entry point asks :func:`effective_policy` (or :func:`request_policy`, the same for the
request being served) and nothing else: the middleware, the proxy precheck (for the original
request it is asked about), the route audit behind the admin table, ``manage.py
expect_policies`` and the proxy exports, the browser pre-check and the ASGI entry point. None of
them combines decorator, settings, overrides or identity on its own.

Layers, strongest first (the admin's effective-policy table shows the same order)::

    override    a PolicyOverride row for the route (an operator's lever, also "disabled")
    decorator   @upload_policy on the code serving the method (handler method, ViewSet action,
                ninja operation), else on the view (function, dispatch or class)
    admin       the site-wide Upload settings row, for views without a declared policy
                (and its body timeout for every policy without its own)
    setting     EXPECT_DEFAULT_POLICY (and EXPECT_BODY_TIMEOUT, EXPECT_CHUNKED)
    default     the built-in value (no limits; 20 s body timeout; chunked bodies streamed)

A decorated view's arguments are its whole policy: site-wide defaults fill only what a
decorator cannot leave open (the body timeout, chunked handling). An override beats the
decorator because it is the operator's lever on running code (an incident, a client that must
upload now); the site-wide row beats settings.py for the same reason, and settings.py stays the
deploy-time baseline that an empty admin field falls back to (docs/howto/operations.md).

A route is named the way Django's ``ResolverMatch`` names it: its view name (``ns:name``, or
the dotted view path when unnamed), then the dotted view path; an override may use either.
:func:`view_path` is the one place that computes the dotted path.

Per request the cost is a few attribute reads and dictionary look-ups: the declared policy is
read from the view, the default policy and merged override policies are memoised, and the
identity (session user, then DRF header authenticators or the django-ninja operation's header
schemes) is resolved only if the policy asks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpRequest
from django.urls import ResolverMatch

from django_expect import overrides as _overrides
from django_expect.core import Identity, UploadPolicy
from django_expect.identity import LazyIdentity
from django_expect.overrides import Override, app_installed
from django_expect.policies import POLICY_FIELDS, declared_policy
from django_expect.sitewide import UploadSettings, upload_settings

__all__ = [
    "POLICY_FIELDS",
    "EffectivePolicy",
    "effective_policy",
    "request_policy",
    "route_keys",
    "view_path",
]


@dataclasses.dataclass(frozen=True)
class EffectivePolicy:
    """A route's effective policy for one request (or, for audits, for any request)."""

    policy: UploadPolicy  # the policy in force
    declared: UploadPolicy | None  # what the code declared for this view and method, if anything
    override: Override | None  # the operator's override applied on top, if any
    identity: Identity | None = None  # who is uploading (None when resolved without a request)
    settings: UploadSettings | None = None  # the site-wide values in force

    @property
    def site(self) -> UploadSettings:
        return self.settings if self.settings is not None else upload_settings()

    @property
    def body_timeout(self) -> float | None:
        """Seconds the body may stall: the policy's own, else the site-wide default."""
        own = self.policy.body_timeout
        return own if own is not None else self.site.body_timeout

    @property
    def min_rate(self) -> float | None:
        """Bytes per second the body must average after the grace: the policy's, else the
        site-wide default (None: no minimum)."""
        own = self.policy.min_rate
        return own if own is not None else self.site.min_rate

    @property
    def min_rate_grace(self) -> float:
        """Seconds after the body is invited before ``min_rate`` applies."""
        own = self.policy.min_rate_grace
        return own if own is not None else self.site.min_rate_grace

    @property
    def allow_chunked(self) -> bool:
        """Whether bodies of undeclared length are read (else 411): site-wide only."""
        return self.site.chunked != "refuse"

    @property
    def sources(self) -> dict[str, str]:
        """Where each value in :data:`POLICY_FIELDS` comes from (``override``, ``decorator``,
        ``admin``, ``setting`` or ``default``)."""
        site = self.site.sources
        if self.declared is not None:
            sources = dict.fromkeys(POLICY_FIELDS, "decorator")
            for name in ("body_timeout", "min_rate", "min_rate_grace"):
                if getattr(self.declared, name) is None:
                    sources[name] = site[name]
        else:
            sources = {field: site[f"default_policy.{field}"] for field in POLICY_FIELDS}
        if self.override is not None:
            for field in self.override.changed_fields():
                if field in sources:
                    sources[field] = "override"
        return sources


def effective_policy(
    view: Callable[..., Any],
    method: str,
    keys: tuple[str, ...],
    request: HttpRequest | None = None,
    overrides: Mapping[str, Override] | None = None,
) -> EffectivePolicy:
    """The effective upload policy of the route ``keys`` served by ``view``, for ``method``.

    ``request`` (the request itself, or the one a proxy precheck asks about) supplies the
    identity; ``overrides`` default to this process's copy (audits may pass their own, or ``{}``
    for the code's policies alone).
    """
    declared = declared_policy(view, method)
    site = upload_settings()
    base = declared if declared is not None else site.default_policy
    registry = _overrides.registry
    if overrides is None:
        policy, override = registry.policy_for(keys, base) if app_installed() else (base, None)
    else:
        override = next((overrides[k] for k in keys if k in overrides), None)
        policy = base if override is None else registry.merged(override, base)
    identity = LazyIdentity(request, view, method) if request is not None else None
    return EffectivePolicy(policy, declared, override, identity, site)


def request_policy(request: HttpRequest, view: Callable[..., Any]) -> EffectivePolicy:
    """:func:`effective_policy` for the request Django is serving (its route and method)."""
    match = request.resolver_match
    keys = route_keys(match) if match is not None else ()
    return effective_policy(view, request.method or "GET", keys, request)


_paths: dict[Any, str] = {}


def view_path(callback: Any) -> str:
    """The dotted path of a URL pattern's view, as ``ResolverMatch`` computes it (memoised).

    Mirrors ``django.urls.resolvers.ResolverMatch.__init__`` (``_func_path``, private there):
    the class for ``as_view()`` views, the instance's class for callable objects.
    """
    try:
        return _paths[callback]
    except (KeyError, TypeError):
        pass
    func = getattr(callback, "view_class", callback)
    if not hasattr(func, "__name__"):
        path = f"{func.__class__.__module__}.{func.__class__.__name__}"
    else:
        path = f"{func.__module__}.{func.__name__}"
    try:
        _paths[callback] = path
    except TypeError:
        pass
    return path


def route_keys(match: ResolverMatch) -> tuple[str, ...]:
    """The names an override may use for a resolved route: view name, then dotted view path."""
    return (match.view_name, view_path(match.func))
