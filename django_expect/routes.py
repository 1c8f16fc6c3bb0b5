"""Every URL pattern with its effective upload policy and where each value comes from.

This is the audit shared by the admin's route table, ``manage.py expect_policies`` and the
system checks. It walks the URLconf once per call (never per request) and names routes the way
``request.resolver_match.view_name`` does, so an override written for a name here matches the
requests Django resolves to it. Each route's policy comes from
:func:`django_expect.resolution.effective_policy`, the same function the middleware asks.

A route whose view dispatches on the method (a class-based view's handlers, a DRF ViewSet's
actions, django-ninja operations) gets one row per group of methods with the same effective
policy, the methods the view serves named, ``*`` standing for every method it does not serve
(the view answers those 405) in the last row. A route with one policy for every method has one
row, ``*``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from django_expect.conf import conf
from django_expect.core import UploadPolicy, format_size
from django_expect.frameworks import dispatcher, served_methods
from django_expect.overrides import Override
from django_expect.policies import POLICY_FIELDS
from django_expect.resolution import EffectivePolicy, effective_policy, view_path

__all__ = [
    "ANY_OTHER_METHOD",
    "PER_GROUP",
    "PER_REQUEST",
    "POLICY_FIELDS",
    "Route",
    "RoutePolicy",
    "describe_routes",
    "iter_routes",
    "portable_regex",
    "reachable_routes",
    "unknown_override_routes",
]


@dataclasses.dataclass(frozen=True)
class Route:
    """One URL pattern: its resolved name, view path and full path regex (Python syntax)."""

    name: str  # what ResolverMatch.view_name says: "ns:name", or the view path if unnamed
    view: str  # the view's dotted path (resolution.view_path)
    regex: str  # anchored at the start of the path *without* its leading slash
    callback: Callable[..., Any] = dataclasses.field(compare=False, repr=False)

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.name, self.view)


def _strip_anchor(regex: str) -> str:
    return regex[1:] if regex.startswith("^") else regex


def _walk(patterns: Any, prefix: str, namespaces: tuple[str, ...]) -> Iterator[Route]:
    for entry in patterns:
        regex = prefix + _strip_anchor(entry.pattern.regex.pattern)
        if isinstance(entry, URLResolver):
            inner = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from _walk(entry.url_patterns, regex, inner)
        elif isinstance(entry, URLPattern):
            view = view_path(entry.callback)
            name = ":".join((*namespaces, entry.name or view))
            yield Route(name=name, view=view, regex="^" + regex, callback=entry.callback)


def iter_routes(urlconf: str | None = None) -> list[Route]:
    """Every URL pattern in resolution order."""
    return list(_walk(get_resolver(urlconf).url_patterns, "", ()))


#: The method group of a row that stands for every method not listed in another row of its route.
ANY_OTHER_METHOD = "*"

#: What audits show for a value a callable computes per request (they have no request).
PER_REQUEST = "per request"
#: Where audits show each group's value beside the route's (the admin's group limits).
PER_GROUP = "per group"


@dataclasses.dataclass(frozen=True)
class RoutePolicy:
    """A route with its resolution: effective policy, the override applied, each value's source,
    for the requests with one of ``methods`` (``"*"``: every method no other row lists)."""

    route: Route
    resolution: EffectivePolicy
    methods: tuple[str, ...] = (ANY_OTHER_METHOD,)

    @property
    def methods_display(self) -> str:
        return ", ".join(self.methods)

    @property
    def served_methods(self) -> tuple[str, ...]:
        """The methods of this row the view serves (all but ``*``)."""
        return tuple(m for m in self.methods if m != ANY_OTHER_METHOD)

    @property
    def policy(self) -> UploadPolicy:
        return self.resolution.policy

    @property
    def override(self) -> Override | None:
        return self.resolution.override

    @property
    def sources(self) -> Mapping[str, str]:
        return self.resolution.sources

    @property
    def body_limit(self) -> int | None:
        """The cap on what ``request.body`` / ``request.POST`` read into memory on this route:
        the policy's ``max_size`` (which also caps streamed reads), else Django's
        ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (None: no limit at all). None too when ``max_size`` is
        per request (:attr:`per_request`): no single number applies."""
        if "max_size" in self.per_request:
            return None
        if self.policy.max_size is not None:
            return self.policy.max_size
        return conf.DATA_UPLOAD_MAX_MEMORY_SIZE

    @property
    def body_limit_source(self) -> str | None:
        """Where :attr:`body_limit` comes from: the ``max_size`` source (``decorator``,
        ``setting``, ``override``), ``django`` (``DATA_UPLOAD_MAX_MEMORY_SIZE``), or None."""
        if self.policy.max_size is not None or "max_size" in self.per_request:
            return self.sources["max_size"]
        return None if conf.DATA_UPLOAD_MAX_MEMORY_SIZE is None else "django"

    @property
    def per_request(self) -> tuple[str, ...]:
        """Fields computed per request by a callable (``max_size``, ``content_types``): an
        audit without a request shows "per request" for them."""
        return self.resolution.per_request

    @property
    def per_group(self) -> tuple[str, ...]:
        """Fields (``max_size``, ``content_types``) the admin's group limits change for some
        user group on this route: audits show each group's value beside the route's."""
        return self.resolution.per_group

    def group_summary(self, field: str) -> str:
        """``per group: pro 1 GB, team no limit`` for ``field``; empty without group limits."""
        if field not in self.per_group:
            return ""
        parts = []
        for group, values in self.resolution.group_values().items():
            value = values[field]
            if field == "max_size":
                shown = "no limit" if value is None else format_size(value)
            else:
                shown = "any" if value is None else ", ".join(value)
            parts.append(f"{group} {shown}")
        return "per group: " + ", ".join(parts)

    @property
    def has_quota(self) -> bool:
        """The policy has a ``quota`` callable (decided per uploader, never without a request)."""
        return self.policy.quota is not None

    @property
    def types_display(self) -> str:
        if "content_types" in self.per_request:
            shown = PER_REQUEST
        else:
            shown = ", ".join(self.policy.content_types or ("any",))
        groups = self.group_summary("content_types")
        return f"{shown}; {groups}" if groups else shown

    @property
    def size_display(self) -> str:
        groups = self.group_summary("max_size")
        shown = self._size_display()
        return f"{shown}; {groups}" if groups else shown

    def _size_display(self) -> str:
        if "max_size" in self.per_request:
            return PER_REQUEST
        size = self.body_limit
        if size is None:
            return "no limit"
        if self.body_limit_source == "django":
            return f"{format_size(size)} in memory (Django's DATA_UPLOAD_MAX_MEMORY_SIZE)"
        return format_size(size)

    @property
    def source_summary(self) -> str:
        """One word if every value has the same source, else ``base; field: source, ...``."""
        counts: dict[str, int] = {}
        for source in self.sources.values():
            counts[source] = counts.get(source, 0) + 1
        base = max(counts, key=lambda s: (counts[s], s != "override"))
        others = [f"{field}: {src}" for field, src in self.sources.items() if src != base]
        return base if not others else f"{base}; " + ", ".join(others)


def reachable_routes(urlconf: str | None = None) -> list[Route]:
    """:func:`iter_routes` without the URL patterns Django can never resolve to: a later pattern
    with the same regex served by the same dispatcher (django-ninja writes one per operation of
    a path; requests resolve to the first, with its name)."""
    routes: list[Route] = []
    seen: set[tuple[str, int]] = set()
    for route in iter_routes(urlconf):
        key = (route.regex, id(dispatcher(route.callback)))
        if key not in seen:
            seen.add(key)
            routes.append(route)
    return routes


def describe_routes(
    overrides: Mapping[str, Override] | None = None,
    urlconf: str | None = None,
) -> list[RoutePolicy]:
    """Every reachable route with its effective policy per method group (through
    :func:`effective_policy`); ``overrides`` default to this process's copy."""
    return [row for route in reachable_routes(urlconf) for row in _method_rows(route, overrides)]


def _method_rows(route: Route, overrides: Mapping[str, Override] | None) -> list[RoutePolicy]:
    groups: dict[tuple[Any, ...], tuple[EffectivePolicy, list[str]]] = {}
    for method in (*served_methods(route.callback), ANY_OTHER_METHOD):
        resolution = effective_policy(route.callback, method, route.keys, overrides=overrides)
        key = (resolution.policy, id(resolution.declared), resolution.override)
        groups.setdefault(key, (resolution, []))[1].append(method)
    if len(groups) == 1:
        ((resolution, _),) = groups.values()
        return [RoutePolicy(route, resolution)]
    rows = [
        RoutePolicy(route, resolution, tuple(methods)) for resolution, methods in groups.values()
    ]
    rows.sort(key=lambda row: ANY_OTHER_METHOD in row.methods)
    return rows


_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


def portable_regex(route: Route, prefix: str = "") -> str:
    """The route's regex for the full URL path, for PCRE (nginx, HAProxy): named groups dropped."""
    body = _NAMED_GROUP.sub("(?:", route.regex[1:])
    return "^" + re.escape(prefix.rstrip("/")).replace("\\/", "/") + "/" + body


def unknown_override_routes(
    overrides: Mapping[str, Override], entries: list[RoutePolicy] | None = None
) -> list[str]:
    """Override routes that name no URL pattern (by view name or view path)."""
    known = {key for entry in (entries or describe_routes({})) for key in entry.route.keys}
    return sorted(route for route in overrides if route not in known)
