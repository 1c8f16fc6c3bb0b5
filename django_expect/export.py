"""Render the policy audit (:func:`django_expect.routes.describe_routes`) for people and proxies.

* ``text``: one line per route and method group, for a terminal. MAX SIZE is the route's body
  limit: the policy's ``max_size``, else Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (which caps only
  what ``request.body`` / ``request.POST`` read into memory; streamed reads and file parts pass).
* ``json``: a list of objects, one per route and method group, for tools (``max_size``: the
  policy's; ``body_limit`` and ``body_limit_source``: the limit in force and where it comes from,
  ``django`` for Django's).
* ``nginx``: ``location`` blocks with ``client_max_body_size`` per route, in resolution order
  (nginx tries regex locations in the order written and takes the first match, like Django).
  nginx cannot vary ``client_max_body_size`` by method: a route whose methods have different
  limits gets the largest of the methods its view serves (the middleware enforces each one's).
* ``haproxy``: ``http-request`` lines that answer 413 when the declared Content-Length is over the
  limit of the first route (and method group) that matches the path and method.

Edge proxies see the raw path where Django matches the decoded one, and they cannot know about
login or permission rules: the exports are a first line of defence, not a replacement for the
middleware.

A ``max_size`` computed per request (a callable) has no single value: the text and JSON exports
say "per request" (JSON ``per_request``), and the proxy exports set no limit for it. Limits the
admin gives user groups (``GroupLimit``) are shown "per group" beside the route's value (JSON
``per_group``: each group's ``max_size`` and ``content_types``); the proxy exports, which cannot
tell groups apart, take the most permissive size of the route's and its groups'.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django_expect.core import format_size
from django_expect.routes import ANY_OTHER_METHOD, RoutePolicy, portable_regex

__all__ = ["FORMATS", "render"]

FORMATS = ("text", "json", "nginx", "haproxy")


def _limit(entry: RoutePolicy) -> int | None:
    # The policy's alone: Django's in-memory cap does not limit streamed uploads, so a proxy
    # must not refuse them on its account. A proxy cannot tell user groups apart: with group
    # limits it gets the most permissive of the route's and every group's (the middleware
    # enforces each uploader's).
    sizes = [entry.policy.max_size]
    if "max_size" in entry.per_group:
        sizes += [values["max_size"] for values in entry.resolution.group_values().values()]
    return None if None in sizes else max(s for s in sizes if s is not None)


def as_dict(entry: RoutePolicy) -> dict[str, Any]:
    policy = entry.policy
    return {
        "route": entry.route.name,
        "view": entry.route.view,
        "regex": entry.route.regex,
        "methods": list(entry.methods),
        "max_size": policy.max_size,
        "max_size_human": None if policy.max_size is None else format_size(policy.max_size),
        "body_limit": entry.body_limit,
        "body_limit_source": entry.body_limit_source,
        "content_types": None if policy.content_types is None else list(policy.content_types),
        "login_required": policy.login_required,
        "permissions": list(policy.permissions),
        "expect": policy.expect.value,
        "body_timeout": entry.resolution.body_timeout,
        "min_rate": entry.resolution.min_rate,
        "min_rate_grace": entry.resolution.min_rate_grace,
        "override": entry.override is not None,
        "disabled": bool(entry.override and entry.override.disabled),
        "sources": dict(entry.sources),
        "per_request": list(entry.per_request),
        "per_group": entry.resolution.group_values() if entry.per_group else {},
        "report_only": policy.report_only,
        "quota": policy.quota is not None,
    }


def _auth(entry: RoutePolicy) -> str:
    parts = []
    if entry.policy.login_required:
        parts.append("login")
    parts.extend(entry.policy.permissions)
    return ", ".join(parts) or "-"


def render_text(entries: Sequence[RoutePolicy]) -> str:
    rows = [
        (
            "ROUTE",
            "METHOD",
            "VIEW",
            "MAX SIZE",
            "CONTENT TYPES",
            "LOGIN/PERMISSION",
            "EXPECT",
            "SOURCE",
        )
    ]
    for entry in entries:
        size = entry.body_limit
        if "max_size" in entry.per_request or entry.per_group:
            shown = entry.size_display
        elif size is None:
            shown = "unlimited"
        elif entry.body_limit_source == "django":
            shown = f"{size} ({format_size(size)} in memory, DATA_UPLOAD_MAX_MEMORY_SIZE)"
        else:
            shown = f"{size} ({format_size(size)})"
        rows.append(
            (
                entry.route.name,
                ",".join(entry.methods),
                entry.route.view,
                shown,
                entry.types_display,
                _auth(entry),
                entry.policy.expect.value + (" (report-only)" if entry.policy.report_only else ""),
                entry.source_summary,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _nginx_string(value: str) -> str:
    # nginx unescapes \\ \" \' \t \r \n inside quotes: double every backslash, escape quotes.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_nginx(entries: Sequence[RoutePolicy], prefix: str, proxy_pass: str) -> str:
    out = [
        "# django-expect: per-route upload limits (manage.py expect_policies --format nginx).",
        "# Include inside the server { } block that proxies to Django. nginx answers 413 before",
        "# reading a body over client_max_body_size; 0 means no limit (the view decides).",
    ]
    for group in _by_route(entries):
        first = group[0]
        # Methods the view does not serve get 405 whatever their size: the served ones count.
        sizes = [_limit(entry) for entry in group if entry.served_methods or len(group) == 1]
        size = None if None in sizes else max(s for s in sizes if s is not None)
        shown = "no limit" if size is None else format_size(size)
        out.append(f"location ~ {_nginx_string(portable_regex(first.route, prefix))} {{")
        if len(group) == 1:
            out.append(
                f"    # {first.route.name} -> {first.route.view} ({shown}, {first.source_summary})"
            )
        else:
            out.append(f"    # {first.route.name} -> {first.route.view}: the largest served")
            for entry in group:
                limit = _limit(entry)
                out.append(
                    f"    #   {entry.methods_display}: "
                    f"{'no limit' if limit is None else format_size(limit)} "
                    f"({entry.source_summary})"
                )
        out += [
            f"    client_max_body_size {0 if size is None else size};",
            f"    proxy_pass {proxy_pass};",
            "}",
        ]
    return "\n".join(out) + "\n"


def _by_route(entries: Sequence[RoutePolicy]) -> list[list[RoutePolicy]]:
    """Consecutive rows of one route (describe_routes writes a route's rows together)."""
    groups: list[list[RoutePolicy]] = []
    for entry in entries:
        if groups and groups[-1][0].route == entry.route:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    return groups


def _haproxy_string(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"  # strong quoting: nothing inside is interpreted
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def render_haproxy(entries: Sequence[RoutePolicy], prefix: str) -> str:
    out = [
        "# django-expect: per-route upload limits (manage.py expect_policies --format haproxy).",
        "# Put these lines in the frontend (or backend) in front of Django, in this order: the",
        "# first route whose regex matches the path (and method, where a route's methods differ)",
        "# sets txn.expect_limit (-1: no limit); a declared Content-Length over it is answered",
        "# 413 before the body is forwarded.",
    ]
    for entry in entries:
        size = _limit(entry)
        # The row holding "*" comes last in its route: it is the route's fallback.
        methods = (
            "" if ANY_OTHER_METHOD in entry.methods else f" {{ method {' '.join(entry.methods)} }}"
        )
        out.append(
            f"http-request set-var(txn.expect_limit) int({-1 if size is None else size}) "
            f"if !{{ var(txn.expect_limit) -m found }} "
            f"{{ path_reg {_haproxy_string(portable_regex(entry.route, prefix))} }}{methods}"
            f"  # {entry.route.name}"
        )
    out.append(
        "http-request deny deny_status 413 if { var(txn.expect_limit) -m int ge 0 } "
        "{ req.hdr_val(content-length),sub(txn.expect_limit) gt 0 }"
    )
    return "\n".join(out) + "\n"


def render(
    entries: Sequence[RoutePolicy],
    fmt: str,
    *,
    prefix: str = "",
    proxy_pass: str = "http://django",
) -> str:
    if fmt == "json":
        return json.dumps([as_dict(e) for e in entries], indent=2) + "\n"
    if fmt == "nginx":
        return render_nginx(entries, prefix, proxy_pass)
    if fmt == "haproxy":
        return render_haproxy(entries, prefix)
    if fmt == "text":
        return render_text(entries)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
