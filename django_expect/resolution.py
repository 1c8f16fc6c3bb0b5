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

Per request the cost is one dictionary look-up and an identity comparison: a route's effective
policy is memoised per (view, method, route names) until a setting or the operators' data
changes, whatever the number of URL patterns or overrides; the identity (session user, then DRF
header authenticators or the django-ninja operation's header schemes) is created only for a
policy that asks for a login or permissions, and resolved only when the decision consults it.

Group limits (the admin's ``GroupLimit`` rows, :func:`overrides.apply_group_limits`) belong to
their layer: the site-wide rows adjust the site-wide default policy, an override's rows the
route's policy after the override. Only a route that has such rows looks the uploader up (the
same identity as the login check) and reads their group names, with one query, cached on the
request; the policy for a set of matching groups is memoised like the route's.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.urls import Resolver404, ResolverMatch, get_script_prefix, resolve

from django_expect import overrides as _overrides
from django_expect import quotas
from django_expect.conf import derived
from django_expect.continuation import TimeLimits
from django_expect.core import (
    Decision,
    Identity,
    PolicyError,
    RequestHead,
    UploadPolicy,
    decide,
    policy_unavailable,
)
from django_expect.identity import LazyIdentity
from django_expect.overrides import (
    GROUP_FIELDS,
    GroupRule,
    Override,
    app_installed,
    apply_group_limits,
)
from django_expect.policies import (
    POLICY_FIELDS,
    REQUEST_POLICY_ATTRIBUTE,
    _view_name,
    declared_policy,
)
from django_expect.quotas import Quota
from django_expect.sitewide import SitewideSettings, upload_settings

__all__ = ["EffectivePolicy", "effective_policy", "request_policy"]

logger = logging.getLogger("django_expect")


@dataclasses.dataclass(frozen=True)
class EffectivePolicy:
    """A route's effective policy for one request (or, for audits, for any request).

    The values derived from the site-wide settings are computed once per instance (a memoised
    route's instance serves every request to it).
    """

    policy: UploadPolicy  # the policy in force
    declared: UploadPolicy | None  # what the code declared for this view and method, if anything
    override: Override | None  # the operator's override applied on top, if any
    #: who is uploading: None when resolved without a request, or when the policy consults no
    #: identity (no login, no permissions)
    identity: Identity | None = None
    settings: SitewideSettings | None = None  # the site-wide values in force
    #: the policy one request's body is decided by, when the view narrows the route's policy
    #: per request (``policies.REQUEST_POLICY_ATTRIBUTE``: the tus endpoint); None: ``policy``
    body: UploadPolicy | None = None

    @property
    def body_policy(self) -> UploadPolicy:
        """The policy a request's head and body are decided by (middleware, precheck)."""
        return self.policy if self.body is None else self.body

    def decide_head(self, head: RequestHead) -> Decision:
        """The decision for ``head`` under :attr:`body_policy`: what the middleware and the proxy
        precheck answer (503 ``policy_unavailable`` when a per-request value failed)."""
        if self.error is not None:
            return policy_unavailable(head, self.error)
        return decide(head, self.body_policy, self.identity, allow_chunked=self.allow_chunked)

    #: Why a per-request value could not be computed for this request (the policy then keeps
    #: those values unset and the middleware refuses with 503 ``policy_unavailable``).
    error: str | None = None
    #: The uploader's quota (``upload_policy(quota=...)`` evaluated for the request), if any.
    quota: Quota | None = None
    #: The admin's group limits that apply to this route (the site-wide rows for a view
    #: without a declared policy, then the override's), whoever uploads; empty: none.
    group_rules: tuple[GroupRule, ...] = ()
    #: The groups of the uploader whose limits were applied (empty without a request, or when
    #: the uploader is in none of :attr:`group_rules`' groups).
    member_of: frozenset[str] = frozenset()

    @property
    def per_group(self) -> tuple[str, ...]:
        """Fields (``max_size``, ``content_types``) whose value differs for some user group."""
        return tuple(f for f in GROUP_FIELDS if any(rule.sets(f) for rule in self.group_rules))

    def group_values(self) -> dict[str, dict[str, Any]]:
        """What each group's members get on this route (alone in that group), for audits:
        ``{group: {"max_size": bytes or None, "content_types": [...] or None}}``."""
        values: dict[str, dict[str, Any]] = {}
        for name in sorted({rule.group for rule in self.group_rules}):
            resolved = _resolve(
                self._view, self._method, self._keys, self._overrides, frozenset({name})
            )
            group_policy = resolved.policy
            values[name] = {
                "max_size": group_policy.max_size,
                "content_types": None
                if group_policy.content_types is None
                else list(group_policy.content_types),
            }
        return values

    #: What the route was resolved for (group_values resolves it again per group).
    _view: Any = dataclasses.field(default=None, compare=False, repr=False)
    _method: str = dataclasses.field(default="", compare=False, repr=False)
    _keys: tuple[str, ...] = dataclasses.field(default=(), compare=False, repr=False)
    _overrides: Mapping[str, Override] | None = dataclasses.field(
        default=None, compare=False, repr=False
    )

    @property
    def per_request(self) -> tuple[str, ...]:
        """Fields whose value depends on the request and was not evaluated (no request)."""
        return self.policy.per_request

    @property
    def site(self) -> SitewideSettings:
        return self.settings if self.settings is not None else upload_settings()

    @functools.cached_property
    def time_limits(self) -> TimeLimits:
        """The per-request timeout: each of the policy's time limits, else the site-wide
        default's. The one place it is resolved; the middleware applies it to the request's
        input (``ExpectContinueInput.apply_time_limits``), which bounds every adapter's
        receives."""
        policy, site = self.policy, self.site
        grace = policy.min_rate_grace
        return TimeLimits(
            body_timeout=policy.body_timeout
            if policy.body_timeout is not None
            else site.body_timeout,
            min_rate=policy.min_rate if policy.min_rate is not None else site.min_rate,
            min_rate_grace=grace if grace is not None else site.min_rate_grace,
        )

    @functools.cached_property
    def body_timeout(self) -> float | None:
        """Seconds the body may stall (:attr:`time_limits`)."""
        return self.time_limits.body_timeout

    @functools.cached_property
    def min_rate(self) -> float | None:
        """Bytes per second the body must average after the grace (:attr:`time_limits`; None:
        no minimum)."""
        return self.time_limits.min_rate

    @functools.cached_property
    def min_rate_grace(self) -> float:
        """Seconds after the body is invited before ``min_rate`` applies (:attr:`time_limits`)."""
        return self.time_limits.min_rate_grace

    @functools.cached_property
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
            for name in TimeLimits._fields:
                if getattr(self.declared, name) is None:
                    sources[name] = site[name]
        else:
            sources = {field: site[f"default_policy.{field}"] for field in POLICY_FIELDS}
        if self.override is not None:
            for field in self.override.changed_fields():
                if field in sources:
                    sources[field] = "override"
        if self.member_of:
            for field in self.per_group:
                sources[field] = "group"
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
    identity, when the policy consults one (a login or permissions); ``overrides`` default to
    this process's copy (audits may pass their own, or ``{}`` for the code's policies alone).

    Everything but the identity is a pure function of the view, the method, the route's names,
    the settings and the operators' data in force: with this process's copy it is memoised per
    route (:func:`_route_policy`), forgotten when a setting or the operators' data changes.
    """
    if overrides is None:
        resolved = _route_policy(view, method, keys)
    else:
        resolved = _resolve(view, method, keys, overrides)
    if request is None:
        return resolved
    identity = None
    if resolved.group_rules:  # only routes with group limits look the uploader's groups up
        identity = LazyIdentity(request, view, method)
        member_of = _uploader_groups(request, identity) & {r.group for r in resolved.group_rules}
        if member_of:
            if overrides is None:
                resolved = _route_policy(view, method, keys, member_of)
            else:
                resolved = _resolve(view, method, keys, overrides, member_of)
    policy = resolved.policy
    dynamic = _dynamic(policy)
    if not (dynamic or policy.login_required or policy.permissions):
        return resolved  # the common case: nothing about the request changes the policy
    if identity is None:
        identity = LazyIdentity(request, view, method)
    error = None
    quota = None
    body = resolved.body
    if dynamic:
        uploader = UploaderRequest(request, identity)
        try:
            policy = policy.for_request(uploader)
            if policy.quota is not None:
                quota = quotas.evaluate(_call_quota(policy.quota, uploader))
        except PolicyError as failure:
            error = f"upload_policy of {_view_name(view)} ({method}): {failure}"
            policy = policy.replaced(max_size=None, content_types=None)
        body = _narrowed(view, policy)
    return dataclasses.replace(
        resolved, policy=policy, identity=identity, body=body, error=error, quota=quota
    )


def _dynamic(policy: UploadPolicy) -> bool:
    """Whether ``policy`` has values computed per request (callables, a quota)."""
    return (
        policy.max_size_from is not None
        or policy.content_types_from is not None
        or policy.quota is not None
    )


def static_request_policy(request: HttpRequest, view: Callable[..., Any]) -> EffectivePolicy | None:
    """:func:`request_policy` when nothing about the request changes the route's policy or its
    decision (no group limits, per-request callables, quota, login or permissions): then it is
    the memoised route policy itself, found without looking at the uploader (no query, nothing
    that blocks: what ExpectMiddleware may compute on an event loop). None otherwise."""
    match = request.resolver_match
    keys = route_keys(match) if match is not None else ()
    resolved = _route_policy(view, request.method or "GET", keys)
    policy = resolved.policy
    if resolved.group_rules or _dynamic(policy) or policy.login_required or policy.permissions:
        return None
    return resolved


#: Where the uploader's group names are kept on the request (one query per request at most).
_GROUPS_ATTRIBUTE = "_django_expect_groups"


def _uploader_groups(request: HttpRequest, identity: LazyIdentity) -> frozenset[str]:
    """The names of the uploader's groups (the user as the login check sees them; none for an
    anonymous user or an authentication result that is not a Django user), looked up once per
    request."""
    cached = getattr(request, _GROUPS_ATTRIBUTE, None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    user = identity.user
    names: frozenset[str] = frozenset()
    groups = getattr(user, "groups", None)
    if groups is not None and getattr(user, "is_authenticated", False):
        try:
            names = frozenset(groups.values_list("name", flat=True))
        except Exception as error:  # a custom user model without Django's groups
            logger.warning(
                "django-expect: cannot read the groups of %r (%s: %s); no group limits apply",
                user,
                type(error).__name__,
                error,
            )
    try:
        setattr(request, _GROUPS_ATTRIBUTE, names)
    except AttributeError:  # pragma: no cover - a request object without attributes
        pass
    return names


def _resolve(
    view: Callable[..., Any],
    method: str,
    keys: tuple[str, ...],
    overrides: Mapping[str, Override] | None,
    member_of: frozenset[str] = frozenset(),
) -> EffectivePolicy:
    """The layers combined (no identity), for a member of the groups ``member_of``: the one
    place that does it. Group limits belong to their layer: the site-wide rows adjust the
    site-wide default policy (views without a declared policy) before an override applies, an
    override's rows adjust the route's policy after it (not when the override disables it)."""
    declared = declared_policy(view, method)
    site = upload_settings()
    rules: tuple[GroupRule, ...] = ()
    if declared is not None:
        base = declared
    else:
        base = site.default_policy
        rules = site.groups
        if member_of and rules:
            base = apply_group_limits(base, rules, member_of)
    registry = _overrides.registry
    if overrides is None:
        policy, override = registry.policy_for(keys, base) if app_installed() else (base, None)
    else:
        override = next((overrides[k] for k in keys if k in overrides), None)
        policy = base if override is None else registry.merged(override, base)
    if override is not None and override.disabled:
        rules = ()
    elif override is not None and override.groups:
        rules = (*rules, *override.groups)
        if member_of:
            policy = apply_group_limits(policy, override.groups, member_of)
    return EffectivePolicy(
        policy,
        declared,
        override,
        settings=site,
        body=_narrowed(view, policy),
        group_rules=rules,
        member_of=member_of & {rule.group for rule in rules},
        _view=view,
        _method=method,
        _keys=keys,
        _overrides=overrides,
    )


def _narrowed(view: Callable[..., Any], policy: UploadPolicy) -> UploadPolicy | None:
    """The policy one request's body is decided by, when ``view`` narrows the route's
    (``policies.REQUEST_POLICY_ATTRIBUTE``); None when it does not."""
    narrow = getattr(view, REQUEST_POLICY_ATTRIBUTE, None)
    return None if narrow is None else narrow(policy)


#: Routes memoised at most (a bound for URL confs of any size; past it the memo starts over).
ROUTE_MEMO_SIZE = 65536


def _route_policy(
    view: Callable[..., Any],
    method: str,
    keys: tuple[str, ...],
    member_of: frozenset[str] = frozenset(),
) -> EffectivePolicy:
    """:func:`_resolve` with this process's copy, memoised per (view, method, route names, and
    the uploader's groups that have limits on the route).

    The memo lives in ``conf.derived`` (so any setting change forgets it) and each entry
    remembers the operators' snapshot it was computed from (``None``: the app is not installed,
    so there is none): a request costs one dict look-up and one identity comparison.
    """
    memo: dict[Any, tuple[Any, EffectivePolicy]] = derived("route_policies", dict)
    key = (view, method, keys, member_of)
    try:
        hit = memo.get(key)
    except TypeError:  # an unhashable view object: not memoised
        return _resolve(view, method, keys, None, member_of)
    if hit is not None and (hit[0] is None or hit[0] is _overrides.registry.snapshot()):
        return hit[1]
    installed = app_installed()
    snapshot = _overrides.registry.snapshot() if installed else None
    resolved = _resolve(view, method, keys, None, member_of)
    if installed or apps.ready:
        if len(memo) >= ROUTE_MEMO_SIZE:
            memo.clear()
        memo[key] = (snapshot, resolved)
    return resolved


def _call_quota(source: Callable[[Any], object], request: Any) -> object:
    try:
        return source(request)
    except Exception as error:  # the project's code: a refusal, never a crash
        raise PolicyError(f"quota callable raised {type(error).__name__}: {error}") from error


class UploaderRequest:
    """What a per-request ``max_size``/``content_types`` callable receives: the request, with
    ``user`` the uploader as the policy's login check sees them (the session user, else the
    DRF or django-ninja header authentication of the view), resolved on first use. Every
    other attribute is the request's own."""

    def __init__(self, request: HttpRequest, identity: LazyIdentity) -> None:
        self._request = request
        self._identity = identity

    @property
    def user(self) -> Any:
        user = self._identity.user
        return user if user is not None else getattr(self._request, "user", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


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


def resolve_path(path: str, urlconf: str | None = None) -> ResolverMatch | None:
    """The route serving ``path`` as the client sent it (None: no route), for code that asks
    about a request it is not serving (the proxy precheck, the browser pre-check).

    ``path`` includes the script prefix (``SCRIPT_NAME``, ``FORCE_SCRIPT_NAME``) where the site
    has one, as ``reverse()`` writes it and as a proxy forwards it; ``resolve()`` expects it
    without, as Django's handler strips it from ``PATH_INFO``.
    """
    prefix = get_script_prefix()
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    try:
        return resolve(path, urlconf)
    except Resolver404:
        return None
