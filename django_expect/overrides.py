"""Admin-edited policy overrides, applied per request without a database query.

Invariants this module keeps:

* A request never waits for the database. Each process keeps the overrides in memory and, at
  most every ``EXPECT_OVERRIDES_REFRESH`` seconds, reads one small version token from Django's
  cache (``EXPECT_OVERRIDES_CACHE``); it reloads the rows from the database only when the token
  changed (or the cache has none). Saving or deleting a ``PolicyOverride`` replaces the token
  when the transaction commits, so every process on every host that shares the cache sees the
  change within the refresh interval.
* A database or cache outage never breaks requests: the last overrides loaded stay in force (or,
  if none ever loaded, the code's policies), one warning is logged when the outage starts and
  one info line when it ends.
* Overrides are plain frozen values (:class:`Override`); applying one to a policy is
  :func:`apply_override`, a pure function.
* Per request the cost is a clock read and a dict look-up; the merged policy is memoised.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.apps import apps

from django_expect.conf import conf
from django_expect.core import ExpectMode, UploadPolicy

__all__ = [
    "VERSION_KEY",
    "Override",
    "OverrideRegistry",
    "app_installed",
    "apply_override",
    "bump_version",
    "registry",
]

logger = logging.getLogger("django_expect")

#: The cache key holding the overrides' version token.
VERSION_KEY = "django_expect:overrides:version"


@dataclasses.dataclass(frozen=True)
class Override:
    """What an operator changed on one route; ``None`` fields keep the code's value."""

    route: str
    max_size: int | None = None
    content_types: tuple[str, ...] | None = None
    expect: ExpectMode | None = None
    disabled: bool = False

    def changed_fields(self) -> tuple[str, ...]:
        if self.disabled:
            return ("max_size", "content_types", "login_required", "permissions", "check", "expect")
        return tuple(
            name
            for name in ("max_size", "content_types", "expect")
            if getattr(self, name) is not None
        )


def apply_override(policy: UploadPolicy, override: Override | None) -> UploadPolicy:
    """The policy in force: the code's ``policy`` with the operator's ``override`` on top."""
    if override is None:
        return policy
    if override.disabled:
        return UploadPolicy()
    changes: dict[str, Any] = {name: getattr(override, name) for name in override.changed_fields()}
    return dataclasses.replace(policy, **changes) if changes else policy


def _cache() -> Any:
    from django.core.cache import caches

    return caches[conf.EXPECT_OVERRIDES_CACHE]


def bump_version() -> None:
    """Tell every process that the overrides changed (called when a change commits)."""
    try:
        _cache().set(VERSION_KEY, uuid.uuid4().hex, None)
    except Exception:
        logger.exception(
            "django-expect: cannot bump the overrides version in the cache; other "
            "processes see the change once the cache forgets the old version"
        )
    registry.expire()


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
            disabled=row.disabled,
        )
    return overrides


class OverrideRegistry:
    """This process's copy of the overrides, revalidated at most every refresh interval."""

    def __init__(self, loader: Callable[[], dict[str, Override]] = load_overrides) -> None:
        self._loader = loader
        self._overrides: dict[str, Override] = {}
        self._version: str | None = None
        self._loaded = False
        self._next_check = 0.0
        self._failing = False
        self._lock = threading.Lock()
        self._merged: dict[tuple[str, int], tuple[UploadPolicy, UploadPolicy]] = {}
        self.loads = 0  # how many times the rows were read (tests and the admin show it)

    def expire(self) -> None:
        """Revalidate on the next look-up (this process just changed an override)."""
        self._next_check = 0.0

    def current(self) -> Mapping[str, Override]:
        if time.monotonic() >= self._next_check:
            self._revalidate()
        return self._overrides

    def _revalidate(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is refreshing: use what we have
        try:
            self._next_check = time.monotonic() + conf.EXPECT_OVERRIDES_REFRESH
            try:
                version = self._read_version()
                if not self._loaded or version is None or version != self._version:
                    overrides = self._loader()
                    self._overrides, self._version, self._loaded = overrides, version, True
                    self._merged = {}
                    self.loads += 1
            except Exception as error:
                if not self._failing:
                    self._failing = True
                    logger.warning(
                        "django-expect: cannot refresh the upload policy overrides (%s: %s); "
                        "keeping the last known %d override(s) and the code's policies",
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

    @staticmethod
    def _read_version() -> str | None:
        cache = _cache()
        version = cache.get(VERSION_KEY)
        if version is None:
            # First process after a cache flush: set a token; if another process won, read it.
            cache.add(VERSION_KEY, uuid.uuid4().hex, None)
            version = cache.get(VERSION_KEY)
        return None if version is None else str(version)

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


_installed: bool | None = None


def app_installed() -> bool:
    """Overrides need the app's model: without the app in INSTALLED_APPS they are off."""
    global _installed
    if _installed is None:
        _installed = apps.ready and apps.is_installed("django_expect")
    return _installed


def override_changed(*, using: str = "default", **kwargs: Any) -> None:
    """post_save/post_delete receiver: bump the version once the change is committed."""
    from django.db import transaction

    transaction.on_commit(bump_version, using=using)
