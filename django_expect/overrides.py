"""Operators' data edited in the admin (route overrides, the site-wide upload settings), applied
per request without a database query.

Invariants this module keeps:

* A request never waits for the database more than once per interval. Each process keeps the
  overrides and the site-wide row in memory and, at most every ``EXPECT_OVERRIDES_REFRESH``
  seconds, reads one integer: the ``ChangeCounter`` row (one primary-key query). It reloads the
  rows only when the counter changed. Saving or deleting a ``PolicyOverride`` or the
  ``UploadSettings`` row increments the counter in the same transaction, so every process on
  every host that shares the database sees the change within the refresh interval, with no
  cache or other setting involved.
* A database outage never breaks requests: the last data loaded stays in force (or, if none
  ever loaded, the code's policies and settings.py), one warning is logged when the outage
  starts and one info line when it ends.
* Overrides are plain frozen values (:class:`Override`); applying one to a policy is
  :func:`apply_override`, a pure function. The site-wide row is a plain :class:`SiteDefaults`.
* Per request the cost is a clock read and a dict look-up; the merged policy is memoised.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.apps import apps
from django.db import models

from django_expect.conf import conf, derived
from django_expect.core import ExpectMode, UploadPolicy

__all__ = [
    "Override",
    "OverrideRegistry",
    "SiteDefaults",
    "app_installed",
    "apply_override",
    "bump_version",
    "registry",
]

logger = logging.getLogger("django_expect")


@dataclasses.dataclass(frozen=True)
class Override:
    """What an operator changed on one route; ``None`` fields keep the code's value."""

    route: str
    max_size: int | None = None
    content_types: tuple[str, ...] | None = None
    expect: ExpectMode | None = None
    login_required: bool | None = None
    permissions: tuple[str, ...] | None = None
    body_timeout: float | None = None
    min_rate: float | None = None
    disabled: bool = False

    def changed_fields(self) -> tuple[str, ...]:
        if self.disabled:  # every check before the body is off; the body timeout stays
            off = ("max_size", "content_types", "login_required", "permissions", "check", "expect")
            kept = ("body_timeout", "min_rate")  # time limits stay in force
            return off + tuple(name for name in kept if getattr(self, name) is not None)
        return tuple(name for name in _OVERRIDABLE if getattr(self, name) is not None)


_OVERRIDABLE = (
    "max_size",
    "content_types",
    "expect",
    "login_required",
    "permissions",
    "body_timeout",
    "min_rate",
)


@dataclasses.dataclass(frozen=True)
class SiteDefaults:
    """The site-wide upload settings row as edited in the admin; ``None``: not set there."""

    max_size: int | None = None
    content_types: tuple[str, ...] | None = None
    login_required: bool | None = None
    permissions: tuple[str, ...] | None = None
    expect: ExpectMode | None = None
    body_timeout: float | None = None
    chunked: str | None = None
    drain_seconds: float | None = None


def apply_override(policy: UploadPolicy, override: Override | None) -> UploadPolicy:
    """The policy in force: the code's ``policy`` with the operator's ``override`` on top."""
    if override is None:
        return policy
    if override.disabled:
        timeout = (
            override.body_timeout if override.body_timeout is not None else policy.body_timeout
        )
        rate = override.min_rate if override.min_rate is not None else policy.min_rate
        return UploadPolicy(
            body_timeout=timeout, min_rate=rate, min_rate_grace=policy.min_rate_grace
        )
    changes: dict[str, Any] = {name: getattr(override, name) for name in override.changed_fields()}
    return dataclasses.replace(policy, **changes) if changes else policy


def bump_version(using: str = "default") -> None:
    """Tell every process that the operators' data changed: increment the change counter in
    the current transaction (so it commits with the change), and revalidate this process's
    copy as soon as it commits."""
    from django.db import transaction

    counter = apps.get_model("django_expect", "ChangeCounter")
    rows = counter.objects.using(using)
    if not rows.filter(pk=1).update(value=models.F("value") + 1):
        rows.get_or_create(pk=1)  # the migration creates it; a deleted row comes back
        rows.filter(pk=1).update(value=models.F("value") + 1)
    transaction.on_commit(registry.expire, using=using)


def read_version() -> int | None:
    """The change counter (one primary-key query); None if its row is missing."""
    counter = apps.get_model("django_expect", "ChangeCounter")
    value = counter.objects.filter(pk=1).values_list("value", flat=True).first()
    return None if value is None else int(value)


def load_overrides() -> dict[str, Override]:
    """Every override row as a plain value, keyed by route (one database query)."""
    model = apps.get_model("django_expect", "PolicyOverride")
    overrides = {}
    for row in model.objects.all():
        overrides[row.route] = Override(
            route=row.route,
            max_size=row.max_size,
            content_types=row.content_type_list(),
            expect=ExpectMode(row.expect) if row.expect else None,
            login_required=row.login_required,
            permissions=row.permission_list(),
            body_timeout=row.body_timeout,
            min_rate=row.min_rate,
            disabled=row.disabled,
        )
    return overrides


def load_site_defaults() -> SiteDefaults:
    """The site-wide upload settings row as a plain value (one database query)."""
    model = apps.get_model("django_expect", "UploadSettings")
    row = model.objects.filter(pk=1).first()
    if row is None:
        return SiteDefaults()

    def split(text: str) -> tuple[str, ...] | None:
        return tuple(v.strip() for v in text.split(",") if v.strip()) or None

    return SiteDefaults(
        max_size=row.max_size,
        content_types=split(row.content_types),
        login_required=row.login_required,
        permissions=split(row.permission),
        expect=ExpectMode(row.expect) if row.expect else None,
        body_timeout=row.body_timeout,
        chunked=row.chunked or None,
        drain_seconds=row.drain_seconds,
    )


class OverrideRegistry:
    """This process's copy of the overrides and site-wide row, revalidated at most every
    refresh interval against the database's change counter."""

    def __init__(
        self,
        loader: Callable[[], dict[str, Override]] = load_overrides,
        site_loader: Callable[[], SiteDefaults] = load_site_defaults,
        version_reader: Callable[[], int | None] = read_version,
    ) -> None:
        self._loader = loader
        self._site_loader = site_loader
        self._read_version = version_reader
        self._overrides: dict[str, Override] = {}
        self._site = SiteDefaults()
        self._version: int | None = None
        self._loaded = False
        self._next_check = 0.0
        self._failing = False
        self._lock = threading.Lock()
        self._merged: dict[tuple[str, int], tuple[UploadPolicy, UploadPolicy]] = {}
        self.loads = 0  # how many times the rows were read (tests and the admin show it)
        self.generation = 0  # goes up whenever the data in force changes

    def expire(self) -> None:
        """Revalidate on the next look-up (this process just changed an override)."""
        self._next_check = 0.0

    def current(self) -> Mapping[str, Override]:
        if time.monotonic() >= self._next_check:
            self._revalidate()
        return self._overrides

    def site_defaults(self) -> SiteDefaults:
        """The site-wide row in force (revalidated like :meth:`current`)."""
        if time.monotonic() >= self._next_check:
            self._revalidate()
        return self._site

    def _revalidate(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is refreshing: use what we have
        try:
            self._next_check = time.monotonic() + conf.EXPECT_OVERRIDES_REFRESH
            try:
                version = self._read_version()
                if not self._loaded or version is None or version != self._version:
                    overrides, site = self._loader(), self._site_loader()
                    self._overrides, self._site = overrides, site
                    self._version, self._loaded = version, True
                    self._merged = {}
                    self.loads += 1
                    self.generation += 1
            except Exception as error:
                if not self._failing:
                    self._failing = True
                    logger.warning(
                        "django-expect: cannot refresh the upload policy overrides (%s: %s); "
                        "keeping the last known %d override(s), the last known Upload settings "
                        "and the code's policies",
                        type(error).__name__,
                        error,
                        len(self._overrides),
                    )
                return
            if self._failing:
                self._failing = False
                logger.info("django-expect: upload policy overrides refreshed again")
        finally:
            self._lock.release()

    def policy_for(
        self, keys: tuple[str, ...], base: UploadPolicy
    ) -> tuple[UploadPolicy, Override | None]:
        """The policy in force for a route named by ``keys`` whose code policy is ``base``."""
        overrides = self.current()
        if overrides:
            for key in keys:
                override = overrides.get(key)
                if override is not None:
                    return self.merged(override, base), override
        return base, None

    def merged(self, override: Override, base: UploadPolicy) -> UploadPolicy:
        """``apply_override(base, override)``, memoised until the overrides change."""
        memo_key = (override.route, id(base))
        memoised = self._merged.get(memo_key)
        if memoised is None or memoised[0] is not base:
            memoised = (base, apply_override(base, override))
            self._merged[memo_key] = memoised
        return memoised[1]


registry = OverrideRegistry()


def app_installed() -> bool:
    """Overrides need the app's model: without the app in INSTALLED_APPS they are off."""
    if not apps.ready:
        return False
    return derived("app_installed", lambda: apps.is_installed("django_expect"))


def override_changed(*, using: str = "default", **kwargs: Any) -> None:
    """post_save/post_delete receiver (overrides, upload settings): bump the change counter."""
    bump_version(using)
