"""Operators' data edited in the admin (route overrides, the site-wide upload settings), applied
per request without a database query.

Invariants this module keeps:

* **No query in a request.** Each process keeps the overrides and the site-wide row in memory
  (an immutable :class:`Snapshot`). A request reads one attribute; it never reads the clock,
  takes a lock or waits for the database. The rows are kept current by one daemon thread per
  process (``django-expect-overrides``, started by the first request that needs them) with its
  own database connection: every ``EXPECT_OVERRIDES_REFRESH`` seconds it reads one integer, the
  ``ChangeCounter`` row, and reloads the rows only when the counter changed. The first request
  of a process waits for that thread's first load (bounded by :data:`FIRST_LOAD_WAIT` seconds),
  so a fresh worker never serves with stale data, and still runs no query itself.
* **A change in this process is seen at once.** Saving or deleting a ``PolicyOverride`` or the
  ``UploadSettings`` row (``post_save``/``post_delete``) increments the counter in the same
  transaction (so every other process, on every host sharing the database, reloads within the
  refresh interval), and applies the saved values to this process's copy immediately, from the
  instance, without a query. Such a local change is undone when its transaction rolls back
  (a ``TestCase`` ends, a savepoint rolls back) and dropped, being in the rows by then, after
  the first reload that started after it committed.
* **Forks and shutdown.** A forked child (gunicorn ``--preload``) keeps the parent's copy and
  starts its own thread on its first request; the thread stops at interpreter exit
  (``atexit``) or with :meth:`OverrideRegistry.stop`.
* **A database outage never breaks requests:** the last data loaded stays in force (or, if none
  ever loaded, the code's policies and settings.py), one warning is logged when the outage
  starts and one info line when it ends.
* Overrides are plain frozen values (:class:`Override`); applying one to a policy is
  :func:`apply_override`, a pure function, memoised per snapshot. The site-wide row is a plain
  :class:`SiteDefaults`.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from django.apps import apps
from django.db import models

from django_expect.conf import conf, derived
from django_expect.core import ExpectMode, UploadPolicy

__all__ = ["bump_version"]

logger = logging.getLogger("django_expect")


@dataclasses.dataclass(frozen=True)
class GroupRule:
    """Other limits for the members of one user group (a ``GroupLimit`` row as a plain value);
    ``None`` fields are not set by it (see :func:`apply_group_limits`)."""

    group: str
    max_size: int | None = None
    no_size_limit: bool = False
    content_types: tuple[str, ...] | None = None

    def sets(self, field: str) -> bool:
        """Whether this rule gives ``field`` (``max_size`` or ``content_types``) a value."""
        if field == "max_size":
            return self.no_size_limit or self.max_size is not None
        return self.content_types is not None


#: The policy fields a group limit may set.
GROUP_FIELDS = ("max_size", "content_types")


def apply_group_limits(
    policy: UploadPolicy, rules: tuple[GroupRule, ...], member_of: frozenset[str]
) -> UploadPolicy:
    """``policy`` for a user in the groups ``member_of``: per field, the most permissive value
    of the matching ``rules`` that set it (``max_size``: no limit beats any size, else the
    largest; ``content_types``: the union, ``*/*`` covering any); a field no matching rule sets
    keeps the policy's value. A pure function."""
    matching = [rule for rule in rules if rule.group in member_of]
    changes: dict[str, Any] = {}
    sizes = [rule for rule in matching if rule.sets("max_size")]
    if sizes:
        unlimited = any(rule.no_size_limit for rule in sizes)
        changes["max_size"] = None if unlimited else max(rule.max_size or 0 for rule in sizes)
    types: list[str] = []
    for rule in matching:
        for media in rule.content_types or ():
            if media not in types:
                types.append(media)
    if types:
        changes["content_types"] = None if "*/*" in types else tuple(types)
    return policy.replaced(**changes) if changes else policy


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
    report_only: bool | None = None
    #: Other limits for user groups on this route (ignored when ``disabled``).
    groups: tuple[GroupRule, ...] = ()

    def changed_fields(self) -> tuple[str, ...]:
        if self.disabled:  # every check before the body is off; the body timeout stays
            off = (
                "max_size",
                "content_types",
                "login_required",
                "permissions",
                "check",
                "expect",
                "report_only",
            )
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
    "report_only",
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
    report_only: bool | None = None
    chunked: str | None = None
    drain_seconds: float | None = None
    #: Other limits for user groups, for views without a declared policy.
    groups: tuple[GroupRule, ...] = ()


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
    return policy.replaced(**changes) if changes else policy


def bump_version(using: str = "default") -> None:
    """Tell every process that the operators' data changed: increment the change counter in
    the current transaction (so it commits with the change), and have this process's refresher
    reload as soon as it commits (``QuerySet.update()`` sends no signal: call this after it)."""
    from django.db import transaction

    counter = apps.get_model("django_expect", "ChangeCounter")
    rows = counter.objects.using(using)
    if not rows.filter(pk=1).update(value=models.F("value") + 1):
        rows.get_or_create(pk=1)  # the migration creates it; a deleted row comes back
        rows.filter(pk=1).update(value=models.F("value") + 1)
    transaction.on_commit(registry.wake, using=using)


def read_version() -> int | None:
    """The change counter (one primary-key query); None if its row is missing."""
    counter = apps.get_model("django_expect", "ChangeCounter")
    value = counter.objects.filter(pk=1).values_list("value", flat=True).first()
    return None if value is None else int(value)


def group_rules_of(rows: Any) -> tuple[GroupRule, ...]:
    """``GroupLimit`` rows as plain values, by group name."""
    return tuple(
        sorted(
            (
                GroupRule(
                    group=row.group,
                    max_size=row.max_size,
                    no_size_limit=row.no_size_limit,
                    content_types=row.content_type_list(),
                )
                for row in rows
            ),
            key=lambda rule: rule.group,
        )
    )


def _group_rows(row: Any) -> Any:
    """The ``GroupLimit`` rows of a saved override or settings row (prefetched when loaded)."""
    if row.pk is None:
        return ()
    return row.group_limits.all()


def override_of(row: Any) -> Override:
    """A ``PolicyOverride`` row (or a saved instance) as a plain value."""
    return Override(
        groups=group_rules_of(_group_rows(row)),
        route=row.route,
        max_size=row.max_size,
        content_types=row.content_type_list(),
        expect=row.expect_mode(),
        login_required=row.login_required,
        permissions=row.permission_list(),
        body_timeout=row.body_timeout,
        min_rate=row.min_rate,
        disabled=row.disabled,
        report_only=row.report_only,
    )


def site_defaults_of(row: Any) -> SiteDefaults:
    """An ``UploadSettings`` row (or a saved instance) as a plain value."""
    return SiteDefaults(
        max_size=row.max_size,
        content_types=row.content_type_list(),
        login_required=row.login_required,
        permissions=row.permission_list(),
        expect=row.expect_mode(),
        body_timeout=row.body_timeout,
        report_only=row.report_only,
        chunked=row.chunked or None,
        drain_seconds=row.drain_seconds,
        groups=group_rules_of(_group_rows(row)),
    )


def load_override_rows() -> dict[Any, Override]:
    """Every override row as a plain value, keyed by primary key (one database query): what
    this process's copy loads (a local change names its row by pk, so a renamed route is
    replaced, not duplicated)."""
    model = apps.get_model("django_expect", "PolicyOverride")
    rows = model.objects.prefetch_related("group_limits")
    return {row.pk: override_of(row) for row in rows}


def load_overrides() -> dict[str, Override]:
    """Every override row as a plain value, keyed by route (one database query)."""
    return {override.route: override for override in load_override_rows().values()}


def load_site_defaults() -> SiteDefaults:
    """The site-wide upload settings row as a plain value (one database query)."""
    model = apps.get_model("django_expect", "UploadSettings")
    row = model.objects.filter(pk=1).prefetch_related("group_limits").first()
    return SiteDefaults() if row is None else site_defaults_of(row)


#: Seconds the first request of a process waits for the refresher's first load; past it the
#: request goes on with the code's policies (and the refresher keeps trying).
FIRST_LOAD_WAIT = 10.0
#: The shortest interval between two refreshes (``EXPECT_OVERRIDES_REFRESH`` = 0).
MIN_REFRESH_INTERVAL = 0.1

_SITE = "site"  # the key of a local change to the UploadSettings row


@dataclasses.dataclass(frozen=True, eq=False)
class Snapshot:
    """The operators' data in force in this process at one moment (never changed: replaced)."""

    overrides: Mapping[str, Override]  # by route name
    site: SiteDefaults
    generation: int
    #: (route, id(code policy)) -> (code policy, merged policy): apply_override, memoised
    merged: dict[tuple[str, int], tuple[UploadPolicy, UploadPolicy]] = dataclasses.field(
        default_factory=dict
    )


class _LocalChange:
    """A change saved in this process, applied before the database shows it to the refresher."""

    __slots__ = ("callback", "committed", "connection", "key", "suspect", "thread", "value")

    def __init__(self, key: Any, value: Override | SiteDefaults | None) -> None:
        self.key = key  # a PolicyOverride's pk, or _SITE
        self.value = value  # None: deleted
        self.committed: int | None = None  # the registry's commit sequence number, once committed
        self.connection: Any = None
        self.callback: Callable[[], None] | None = None
        self.thread = threading.get_ident()
        self.suspect = False  # seen neither committed nor pending once (another thread's check)

    def rolled_back(self, *, same_thread: bool) -> bool:
        """The transaction it was saved in rolled back: its on_commit callback is gone.

        Reads Django's ``connection.run_on_commit`` (private: ``(savepoint ids, func, robust)``
        entries, emptied by a rollback, filtered by a savepoint rollback). From another thread a
        commit in progress looks the same for an instant, so there it takes two observations.
        """
        if self.committed is not None or self.connection is None:
            return False
        pending = any(entry[1] is self.callback for entry in self.connection.run_on_commit)
        if pending or (self.connection.in_atomic_block and not same_thread):
            self.suspect = False
            return False
        if same_thread:
            return True
        if self.suspect:
            return True
        self.suspect = True
        return False


class OverrideRegistry:
    """This process's copy of the overrides and site-wide row (see the module's invariants).

    ``background=False``: no thread; the copy changes only by :meth:`refresh` and local changes
    (test suites that drive the refresh by hand).
    """

    def __init__(
        self,
        loader: Callable[[], Mapping[Any, Override]] = load_override_rows,
        site_loader: Callable[[], SiteDefaults] = load_site_defaults,
        version_reader: Callable[[], int | None] = read_version,
        *,
        background: bool = True,
    ) -> None:
        self._loader = loader
        self._site_loader = site_loader
        self._read_version = version_reader
        self.background = background
        self._rows: Mapping[Any, Override] = {}
        self._site = SiteDefaults()
        self._version: int | None = None
        self._loaded = False
        self._local: list[_LocalChange] = []
        self._commits = 0
        self._failing = False
        self._generation = 0
        self._snapshot = Snapshot({}, self._site, 0)
        #: What a request reads: the snapshot, or None when the slow path has work to do (first
        #: use in this process, or a local change whose transaction is still open).
        self._fast: Snapshot | None = None
        self._thread: threading.Thread | None = None
        self._new_process()
        #: How many times the rows were read: what shows that no request reloads them
        #: (tests/unit/test_operations.py, tests/wire/test_no_request_queries.py).
        self.loads = 0
        _registries.add(self)

    def _new_process(self) -> None:
        """Locks, events and thread of this process (also right after a fork)."""
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        first = threading.Event()
        if self._loaded:
            first.set()
        self._first = first
        self._thread = None
        self._waited = False
        self._fast = None
        self._pid = os.getpid()

    # -- the request path ------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The data in force (one attribute read; the slow path once per process)."""
        fast = self._fast
        if fast is not None:
            return fast
        return self._slow_snapshot()

    def settled(self) -> bool:
        """Whether :meth:`snapshot` answers from the attribute alone (no wait for the first
        load, no open local transaction to look at): what the middleware checks before it
        resolves on an event loop thread."""
        return self._fast is not None

    def current(self) -> Mapping[str, Override]:
        return self.snapshot().overrides

    def site_defaults(self) -> SiteDefaults:
        """The site-wide row in force."""
        return self.snapshot().site

    @property
    def generation(self) -> int:
        """Goes up whenever the data in force changes."""
        return self._snapshot.generation

    def policy_for(
        self, keys: tuple[str, ...], base: UploadPolicy
    ) -> tuple[UploadPolicy, Override | None]:
        """The policy in force for a route named by ``keys`` whose code policy is ``base``."""
        snapshot = self.snapshot()
        overrides = snapshot.overrides
        if overrides:
            for key in keys:
                override = overrides.get(key)
                if override is not None:
                    return _merged(snapshot, override, base), override
        return base, None

    def merged(self, override: Override, base: UploadPolicy) -> UploadPolicy:
        """``apply_override(base, override)``, memoised until the data in force changes."""
        return _merged(self.snapshot(), override, base)

    def _slow_snapshot(self) -> Snapshot:
        if self._pid != os.getpid():  # pragma: no cover - forked without os.register_at_fork
            self._new_process()
        if self.background:
            self._ensure_thread()
            if not self._first.is_set() and not self._waited:
                if not self._first.wait(FIRST_LOAD_WAIT):
                    logger.warning(
                        "django-expect: the upload policy overrides were not loaded within %g s; "
                        "serving with the code's policies until they are",
                        FIRST_LOAD_WAIT,
                    )
                self._waited = True
        with self._lock:
            self._settle(same_thread=True)
            snapshot = self._snapshot
            if not any(change.committed is None for change in self._local):
                self._fast = snapshot
        return snapshot

    # -- local changes (the post_save/post_delete receiver) ---------------------------------

    def record_change(
        self, key: Any, value: Override | SiteDefaults | None, using: str = "default"
    ) -> None:
        """Apply a change saved in this process at once; undo it if its transaction rolls back."""
        from django.db import transaction

        change = _LocalChange(key, value)
        change.connection = transaction.get_connection(using)

        def committed() -> None:
            with self._lock:
                self._commits += 1
                change.committed = self._commits
                self._fast = None
            self._wake.set()

        change.callback = committed
        with self._lock:
            self._local.append(change)
            self._rebuild()
            self._fast = None
        transaction.on_commit(committed, using=using)  # runs now outside a transaction

    def _settle(self, *, same_thread: bool) -> None:
        """Drop local changes whose transaction rolled back (under the lock)."""
        me = threading.get_ident()
        kept = [
            change
            for change in self._local
            if not change.rolled_back(same_thread=same_thread and change.thread == me)
        ]
        if len(kept) != len(self._local):
            self._local = kept
            self._rebuild()

    def _rebuild(self) -> None:
        """A new snapshot from the rows loaded and the local changes (under the lock)."""
        rows = self._rows
        site = self._site
        if self._local:
            rows = dict(rows)
            for change in self._local:
                if change.key == _SITE:
                    assert not isinstance(change.value, Override)
                    site = change.value if change.value is not None else SiteDefaults()
                elif change.value is None:
                    rows.pop(change.key, None)
                else:
                    assert isinstance(change.value, Override)
                    rows[change.key] = change.value
        self._generation += 1
        self._snapshot = Snapshot(
            {override.route: override for override in rows.values()}, site, self._generation
        )

    # -- the refresh (the background thread, or by hand) -------------------------------------

    def refresh(self) -> bool:
        """One refresh: read the counter, reload the rows if it changed. Returns whether the
        rows were reloaded. Never raises: a failure keeps the last data (logged once)."""
        with self._refresh_lock:
            try:
                return self._refresh()
            finally:
                self._first.set()

    def _refresh(self) -> bool:
        started = self._commits  # local changes committed before now are in what we read
        try:
            version = self._read_version()
            reload = not self._loaded or version is None or version != self._version
            if reload:
                rows, site = dict(self._loader()), self._site_loader()
        except Exception as error:
            if not self._failing:
                self._failing = True
                logger.warning(
                    "django-expect: cannot refresh the upload policy overrides (%s: %s); "
                    "keeping the last known %d override(s), the last known Upload settings "
                    "and the code's policies",
                    type(error).__name__,
                    error,
                    len(self._rows),
                )
            with self._lock:
                self._settle(same_thread=False)
            return False
        if self._failing:
            self._failing = False
            logger.info("django-expect: upload policy overrides refreshed again")
        me = threading.get_ident()
        with self._lock:
            before = len(self._local)
            # In what was just read: changes committed before it began, and changes made
            # through this thread's own connection (a refresh by hand, inside a transaction).
            self._local = [
                change
                for change in self._local
                if (change.committed is None or change.committed > started) and change.thread != me
            ]
            self._settle(same_thread=False)
            if reload:
                self._rows, self._site = rows, site
                self._version, self._loaded = version, True
                self.loads += 1
            if reload or len(self._local) != before:
                self._rebuild()
                self._fast = None  # the next request takes the new snapshot (and settles)
        return reload

    def wake(self) -> None:
        """Refresh soon (a change committed in this process)."""
        self._wake.set()

    def _ensure_thread(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._stop.is_set():
                self._first.set()
                return
            self._thread = threading.Thread(
                target=_refresh_forever,
                args=(weakref.ref(self), self._wake, self._stop),
                name="django-expect-overrides",
                daemon=True,
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the refresher thread (at exit; tests). The copy stays in force."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


def _merged(snapshot: Snapshot, override: Override, base: UploadPolicy) -> UploadPolicy:
    memo_key = (override.route, id(base))
    memoised = snapshot.merged.get(memo_key)
    if memoised is None or memoised[0] is not base:
        memoised = (base, apply_override(base, override))
        snapshot.merged[memo_key] = memoised
    return memoised[1]


def _refresh_forever(
    ref: weakref.ref[OverrideRegistry], wake: threading.Event, stop: threading.Event
) -> None:
    """The refresher thread: refresh, then wait for the interval or a wake-up. Holds the
    registry weakly: a registry nobody uses any more (a test's) ends its thread."""
    from django.db import close_old_connections

    while not stop.is_set():
        registry_ = ref()
        if registry_ is None:
            return
        try:
            registry_.refresh()
        finally:
            close_old_connections()  # this thread's own connection, by CONN_MAX_AGE
        del registry_
        try:
            interval = max(conf.EXPECT_OVERRIDES_REFRESH, MIN_REFRESH_INTERVAL)
        except Exception:  # settings gone at interpreter exit
            return
        wake.wait(interval)
        wake.clear()


_registries: weakref.WeakSet[OverrideRegistry] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for each in list(_registries):
        each._new_process()


def _stop_all() -> None:  # pragma: no cover - runs at interpreter exit
    for each in list(_registries):
        each.stop(timeout=1.0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_all)

registry = OverrideRegistry()


def app_installed() -> bool:
    """Overrides need the app's model: without the app in INSTALLED_APPS they are off."""
    if not apps.ready:
        return False
    return derived("app_installed", lambda: apps.is_installed("django_expect"))


def override_changed(
    *, sender: Any, instance: Any, using: str = "default", signal: Any = None, **kwargs: Any
) -> None:
    """post_save/post_delete receiver (overrides, upload settings): bump the change counter
    (for every other process) and apply the change to this process's copy at once."""
    from django.db.models.signals import post_delete

    bump_version(using)
    deleted = signal is post_delete
    if sender._meta.model_name == "grouplimit":
        # A group row is part of its parent's value: re-read the parent (the saver's query).
        model: Any
        if instance.settings_id is not None:
            model, key = apps.get_model("django_expect", "UploadSettings"), instance.settings_id
        else:
            model, key = apps.get_model("django_expect", "PolicyOverride"), instance.override_id
        parent = model.objects.using(using).filter(pk=key).first()
        if parent is None:
            return  # deleted with its parent, whose own signal records the change
        if instance.settings_id is not None:
            registry.record_change(_SITE, site_defaults_of(parent), using)
        else:
            registry.record_change(parent.pk, override_of(parent), using)
        return
    if sender._meta.model_name == "uploadsettings":
        registry.record_change(_SITE, None if deleted else site_defaults_of(instance), using)
    else:
        registry.record_change(instance.pk, None if deleted else override_of(instance), using)
