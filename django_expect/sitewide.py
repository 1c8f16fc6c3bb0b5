"""The site-wide upload settings in force: :func:`upload_settings` is the one place that combines
the admin's "Upload settings" row, the ``EXPECT_*`` settings and the built-in defaults.

Precedence, strongest first (docs/howto/operations.md has the table)::

    admin      the UploadSettings row (django-expect > Upload settings), each field that is set
    setting    EXPECT_DEFAULT_POLICY, EXPECT_BODY_TIMEOUT, EXPECT_CHUNKED, EXPECT_DRAIN_SECONDS
    default    the built-in value (conf.DEFAULTS)

Route overrides and decorators rank above all three; :mod:`django_expect.resolution` applies
them. The row reaches every process the way overrides do (:mod:`django_expect.overrides`: a
change counter in the database, read every ``EXPECT_OVERRIDES_REFRESH`` seconds by a background
thread); the combined values are memoised until the row or a setting changes, so a request pays
an attribute read and an identity comparison.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django_expect import overrides as _overrides
from django_expect.conf import conf, derived, is_set
from django_expect.overrides import GroupRule, SiteDefaults, app_installed
from django_expect.policies import POLICY_FIELDS, default_policy

__all__ = ["upload_settings"]

#: The default policy's values the admin row may set (all of them).
DEFAULT_POLICY_FIELDS = POLICY_FIELDS


@dataclasses.dataclass(frozen=True)
class SitewideSettings:
    """The effective site-wide values, with where each comes from (admin/setting/default)."""

    default_policy: Any  # UploadPolicy for views without a declared policy
    body_timeout: float | None  # for policies without their own body_timeout
    min_rate: float | None  # for policies without their own min_rate (bytes per second)
    min_rate_grace: float  # for policies without their own min_rate_grace (seconds)
    chunked: str  # "stream" or "refuse"
    drain_seconds: float
    sources: dict[str, str]  # "default_policy.<field>", "body_timeout", "chunked", ...
    #: The admin's group limits for views without a declared policy (the default policy's).
    groups: tuple[GroupRule, ...] = ()


def _build(site: SiteDefaults) -> SitewideSettings:
    sources: dict[str, str] = {}

    def pick(name: str, admin_value: Any, setting: str) -> Any:
        if admin_value is not None:
            sources[name] = "admin"
            return admin_value
        sources[name] = "setting" if is_set(setting) else "default"
        return getattr(conf, setting)

    body_timeout = pick("body_timeout", site.body_timeout, "EXPECT_BODY_TIMEOUT")
    min_rate = pick("min_rate", None, "EXPECT_MIN_RATE")
    min_rate_grace = pick("min_rate_grace", None, "EXPECT_MIN_RATE_GRACE")
    chunked = pick("chunked", site.chunked, "EXPECT_CHUNKED")
    drain_seconds = pick("drain_seconds", site.drain_seconds, "EXPECT_DRAIN_SECONDS")

    setting = conf.EXPECT_DEFAULT_POLICY
    changes = {}
    for field, argument in DEFAULT_POLICY_FIELDS.items():
        value = getattr(site, field, None)
        if value is not None:
            changes[field] = value
            sources[f"default_policy.{field}"] = "admin"
        elif field in ("body_timeout", "min_rate", "min_rate_grace") and argument not in setting:
            sources[f"default_policy.{field}"] = sources[field]
        else:
            sources[f"default_policy.{field}"] = "setting" if argument in setting else "default"
    policy = default_policy()
    if changes:
        policy = policy.replaced(**changes)
    return SitewideSettings(
        policy,
        body_timeout,
        min_rate,
        min_rate_grace,
        chunked,
        float(drain_seconds),
        sources,
        site.groups,
    )


_NOTHING_SET = SiteDefaults()  # without the app (no table), nothing comes from the admin


def upload_settings() -> SitewideSettings:
    """The site-wide values in force in this process (admin row, else setting, else default)."""
    site = _overrides.registry.site_defaults() if app_installed() else _NOTHING_SET
    memo: dict[str, tuple[SiteDefaults, SitewideSettings]] = derived("upload_settings", dict)
    cached = memo.get("current")
    if cached is None or cached[0] is not site:
        cached = memo["current"] = (site, _build(site))
    return cached[1]
