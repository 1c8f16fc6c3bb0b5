"""Every URL pattern with its effective upload policy and where each value comes from.

This is the audit shared by the admin's route table, ``manage.py expect_policies`` and the
system checks. It walks the URLconf once per call (never per request) and names routes the way
``request.resolver_match.view_name`` does, so an override written for a name here matches the
requests Django resolves to it.

Sources of a value: ``decorator`` (``@upload_policy`` on the view), ``setting``
(``EXPECT_DEFAULT_POLICY`` names it), ``default`` (nobody set it: the built-in default) and
``override`` (a ``PolicyOverride`` row).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from django_expect.conf import conf
from django_expect.core import UploadPolicy, format_size
from django_expect.overrides import Override, apply_override
from django_expect.policies import default_policy, policy_of

__all__ = [
    "POLICY_FIELDS",
    "Route",
    "RoutePolicy",
    "describe_routes",
    "iter_routes",
    "portable_regex",
    "unknown_override_routes",
]

#: The policy values an audit reports, with the upload_policy argument that sets each.
POLICY_FIELDS = {
    "max_size": "max_size",
    "content_types": "content_types",
    "login_required": "login_required",
    "permissions": "permission",
    "expect": "expect",
}


@dataclasses.dataclass(frozen=True)
class Route:
    """One URL pattern: its resolved name, view path and full path regex (Python syntax)."""

    name: str  # what ResolverMatch.view_name says: "ns:name", or the view path if unnamed
    view: str  # the view's dotted path (ResolverMatch._func_path)
    regex: str  # anchored at the start of the path *without* its leading slash
    callback: Callable[..., Any] = dataclasses.field(compare=False, repr=False)

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.name, self.view)


def _func_path(callback: Any) -> str:
    # Mirrors django.urls.resolvers.ResolverMatch.__init__.
    func = getattr(callback, "view_class", callback)
    if not hasattr(func, "__name__"):
        return f"{func.__class__.__module__}.{func.__class__.__name__}"
    return f"{func.__module__}.{func.__name__}"


def _strip_anchor(regex: str) -> str:
    return regex[1:] if regex.startswith("^") else regex


def _walk(patterns: Any, prefix: str, namespaces: tuple[str, ...]) -> Iterator[Route]:
    for entry in patterns:
        regex = prefix + _strip_anchor(entry.pattern.regex.pattern)
        if isinstance(entry, URLResolver):
            inner = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from _walk(entry.url_patterns, regex, inner)
        elif isinstance(entry, URLPattern):
            view = _func_path(entry.callback)
            name = ":".join((*namespaces, entry.name or view))
            yield Route(name=name, view=view, regex="^" + regex, callback=entry.callback)


def iter_routes(urlconf: str | None = None) -> list[Route]:
    """Every URL pattern in resolution order."""
    return list(_walk(get_resolver(urlconf).url_patterns, "", ()))


@dataclasses.dataclass(frozen=True)
class RoutePolicy:
    """A route, its effective policy, the override applied (if any) and each value's source."""

    route: Route
    policy: UploadPolicy
    sources: Mapping[str, str]
    override: Override | None = None

    @property
    def size_display(self) -> str:
        size = self.policy.max_size
        return "no limit" if size is None else format_size(size)

    @property
    def source_summary(self) -> str:
        """One word if every value has the same source, else ``base; field: source, ...``."""
        counts: dict[str, int] = {}
        for source in self.sources.values():
            counts[source] = counts.get(source, 0) + 1
        base = max(counts, key=lambda s: (counts[s], s != "override"))
        others = [f"{field}: {src}" for field, src in self.sources.items() if src != base]
        return base if not others else f"{base}; " + ", ".join(others)


def _code_policy(callback: Callable[..., Any]) -> tuple[UploadPolicy, dict[str, str]]:
    declared = policy_of(callback)
    if declared is not None:
        return declared, dict.fromkeys(POLICY_FIELDS, "decorator")
    setting = conf.EXPECT_DEFAULT_POLICY
    sources = {
        field: "setting" if argument in setting else "default"
        for field, argument in POLICY_FIELDS.items()
    }
    return default_policy(), sources


def describe_routes(
    overrides: Mapping[str, Override] | None = None, urlconf: str | None = None
) -> list[RoutePolicy]:
    """Every route with its effective policy; ``overrides`` default to this process's copy."""
    if overrides is None:
        from django_expect.overrides import app_installed, registry

        overrides = registry.current() if app_installed() else {}
    described = []
    for route in iter_routes(urlconf):
        base, sources = _code_policy(route.callback)
        override = next((overrides[k] for k in route.keys if k in overrides), None)
        if override is not None:
            for field in override.changed_fields():
                if field in sources:
                    sources[field] = "override"
        described.append(RoutePolicy(route, apply_override(base, override), sources, override))
    return described


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
