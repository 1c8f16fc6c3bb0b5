"""django-expect's settings: every setting's default (written once, in :data:`DEFAULTS`) and one
typed property per setting (docs/howto/operations.md and the README's Settings section).

This is the only module that reads ``django.conf.settings`` for an ``EXPECT_*`` value; the
system checks read the raw values through :func:`raw`. Values are read on first access, not at
import, and remembered until Django's ``setting_changed`` signal says otherwise, so
``override_settings`` works in tests and an absent setting does not cost a failed attribute
lookup on every request.

One invalidation for everything derived from settings: values other modules build from settings
(the default policy, whether the app is installed, the site-wide upload settings) are memoised
with :func:`derived`, and the same ``setting_changed`` receiver forgets them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import global_settings
from django.conf import settings as django_settings
from django.core.signals import setting_changed

from django_expect.closing import DEFAULT_DRAIN_MAX_CONNECTIONS, DEFAULT_DRAIN_SECONDS

__all__ = [
    "CHUNKED_MODES",
    "DEFAULTS",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MIN_RATE",
    "DEFAULT_MIN_RATE_GRACE",
    "conf",
    "derived",
    "is_set",
    "raw",
]

CHUNKED_MODES = ("stream", "refuse")
DEFAULT_BODY_TIMEOUT = 20.0
#: Kestrel's MinRequestBodyDataRate defaults (docs/reference/settings.md says why).
DEFAULT_MIN_RATE = 240.0
DEFAULT_MIN_RATE_GRACE = 5.0

#: Every setting with its default, once.
DEFAULTS: dict[str, Any] = {
    "EXPECT_DEFAULT_POLICY": {},
    "EXPECT_REJECTION_HANDLER": None,
    "EXPECT_REJECTION_TEMPLATE": "django_expect/rejected.html",
    "EXPECT_CHUNKED": "stream",
    "EXPECT_WWW_AUTHENTICATE": 'Session realm="django"',
    "EXPECT_BODY_TIMEOUT": DEFAULT_BODY_TIMEOUT,
    "EXPECT_MIN_RATE": DEFAULT_MIN_RATE,
    "EXPECT_MIN_RATE_GRACE": DEFAULT_MIN_RATE_GRACE,
    "EXPECT_DRAIN_SECONDS": DEFAULT_DRAIN_SECONDS,
    "EXPECT_DRAIN_MAX_CONNECTIONS": DEFAULT_DRAIN_MAX_CONNECTIONS,
    "EXPECT_OVERRIDES_REFRESH": 5.0,
    "EXPECT_STATS": True,
    "EXPECT_STATS_FLUSH_INTERVAL": 10.0,
    "EXPECT_DISCOVERY": True,
    # The tus endpoint (django_expect.tus; docs/howto/tus.md).
    "EXPECT_TUS_EXPIRES": 86400.0,
    "EXPECT_TUS_UPLOAD_TO": "tus",
    "EXPECT_TUS_STORAGE": None,
    "EXPECT_TUS_LOCK_TIMEOUT": 60.0,
    "EXPECT_QUOTA_RESERVATION_SECONDS": 3600.0,
    # Django's own body caps, read for routes whose policy sets no max_size (bodylimit.py).
    "DATA_UPLOAD_MAX_MEMORY_SIZE": global_settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    "DATA_UPLOAD_MAX_NUMBER_FIELDS": global_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
    "DATA_UPLOAD_MAX_NUMBER_FILES": global_settings.DATA_UPLOAD_MAX_NUMBER_FILES,
}

_MISSING = object()
_remembered: dict[Any, Any] = {}

_T = TypeVar("_T")


def raw(name: str) -> Any:
    """The setting as written in settings.py (or its default), remembered; for checks."""
    value = _remembered.get(name, _MISSING)
    if value is _MISSING:
        value = _remembered[name] = getattr(django_settings, name, DEFAULTS[name])
    return value


def is_set(name: str) -> bool:
    """Whether settings.py sets ``name`` (the admin's sources say "setting", not "default")."""
    return bool(derived(f"is_set:{name}", lambda: hasattr(django_settings, name)))


def derived(key: str, build: Callable[[], _T]) -> _T:
    """``build()``, remembered under ``key`` until any setting changes."""
    memo_key = ("derived", key)
    value = _remembered.get(memo_key, _MISSING)
    if value is _MISSING:
        value = _remembered[memo_key] = build()
    return value  # type: ignore[no-any-return]


def _forget(**kwargs: Any) -> None:
    _remembered.clear()


setting_changed.connect(_forget, dispatch_uid="django_expect.conf")


class Settings:
    @property
    def EXPECT_DEFAULT_POLICY(self) -> dict[str, Any]:
        """upload_policy() arguments for views without a decorator. Default: {} (no limits)."""
        return dict(raw("EXPECT_DEFAULT_POLICY") or {})

    @property
    def EXPECT_REJECTION_HANDLER(self) -> str | None:
        """Dotted path to ``handler(request, decision) -> HttpResponse``. Default: None."""
        value = raw("EXPECT_REJECTION_HANDLER")
        return None if value is None else str(value)

    @property
    def EXPECT_REJECTION_TEMPLATE(self) -> str:
        """Template for HTML rejections. Default: 'django_expect/rejected.html'."""
        return str(raw("EXPECT_REJECTION_TEMPLATE"))

    @property
    def EXPECT_CHUNKED(self) -> str:
        """'stream' (read bodies of undeclared length up to max_size) or 'refuse' (411)."""
        return str(raw("EXPECT_CHUNKED"))

    @property
    def EXPECT_WWW_AUTHENTICATE(self) -> str:
        """The WWW-Authenticate value sent with 401. Default: 'Session realm="django"'."""
        return str(raw("EXPECT_WWW_AUTHENTICATE"))

    @property
    def EXPECT_BODY_TIMEOUT(self) -> float | None:
        """Seconds a body may stop arriving before 408, for views without ``body_timeout``.

        Default: 20.0. None turns the limit off (a stalled client then holds a worker until
        gunicorn's own ``--timeout``).
        """
        value = raw("EXPECT_BODY_TIMEOUT")
        return None if value is None else float(value)

    @property
    def EXPECT_MIN_RATE(self) -> float | None:
        """Bytes per second a body must average once ``EXPECT_MIN_RATE_GRACE`` has passed, for
        views without ``min_rate`` (else 408). Default: 240.0 (Kestrel's). None: no rate."""
        value = raw("EXPECT_MIN_RATE")
        return None if value is None else float(value)

    @property
    def EXPECT_MIN_RATE_GRACE(self) -> float:
        """Seconds after the body is invited before the minimum rate applies. Default: 5.0."""
        return float(raw("EXPECT_MIN_RATE_GRACE"))

    @property
    def EXPECT_DISCOVERY(self) -> bool:
        """Answer OPTIONS on upload routes with their limit (docs/howto/browsers.md). Default:
        True."""
        return bool(raw("EXPECT_DISCOVERY"))

    # -- the close after a rejected body was sent anyway (docs/howto/browsers-sent-anyway.md) --

    @property
    def EXPECT_DRAIN_SECONDS(self) -> float:
        """Seconds a rejected connection may drain a body sent anyway, when the rest of the
        declared body can arrive within them (the drain policy reads it through
        ``sitewide.upload_settings()``: the admin may override it). Default: 10.0 (a
        one-connection worker: at most 2)."""
        return float(raw("EXPECT_DRAIN_SECONDS"))

    @property
    def EXPECT_DRAIN_MAX_CONNECTIONS(self) -> int:
        """Connections draining at once per worker process; beyond it, close at once.
        Default: 4 (never more than half the worker's threads/connections)."""
        return int(raw("EXPECT_DRAIN_MAX_CONNECTIONS"))

    # -- the tus endpoint (django_expect.tus; docs/howto/tus.md) ---------------------------------

    @property
    def EXPECT_TUS_EXPIRES(self) -> float | None:
        """Seconds an unfinished tus upload lives after its creation (Upload-Expires); None:
        never expires. Default: 86400 (a day)."""
        value = raw("EXPECT_TUS_EXPIRES")
        return None if value is None else float(value)

    @property
    def EXPECT_TUS_UPLOAD_TO(self) -> str:
        """Storage folder for tus uploads' parts and finished files. Default: 'tus'."""
        return str(raw("EXPECT_TUS_UPLOAD_TO")).strip("/") or "tus"

    @property
    def EXPECT_TUS_STORAGE(self) -> str | None:
        """The ``STORAGES`` alias tus uploads are written to; None: default_storage."""
        value = raw("EXPECT_TUS_STORAGE")
        return None if value is None else str(value)

    @property
    def EXPECT_TUS_LOCK_TIMEOUT(self) -> float:
        """Seconds after which a PATCH's lock on an upload whose holder stopped renewing it
        (its worker died on another host) may be taken over. Default: 60."""
        return float(raw("EXPECT_TUS_LOCK_TIMEOUT"))

    # -- operations (overrides, upload settings, statistics): docs/howto/operations.md -----

    @property
    def EXPECT_OVERRIDES_REFRESH(self) -> float:
        """Seconds between a process's checks of the database's change counter (by its
        background refresher thread; 0: every 0.1 s). Default: 5."""
        return float(raw("EXPECT_OVERRIDES_REFRESH"))

    @property
    def EXPECT_STATS(self) -> bool:
        """Count rejections per route, reason and day in the database. Default: True."""
        return bool(raw("EXPECT_STATS"))

    @property
    def EXPECT_QUOTA_RESERVATION_SECONDS(self) -> float:
        """Seconds a quota reservation outlives a request that never released it (a killed
        worker). Default: 3600."""
        return float(raw("EXPECT_QUOTA_RESERVATION_SECONDS"))

    @property
    def EXPECT_STATS_FLUSH_INTERVAL(self) -> float:
        """Seconds between a process's writes of its rejection counts. Default: 10."""
        return float(raw("EXPECT_STATS_FLUSH_INTERVAL"))

    # -- Django's own body caps (django_expect.bodylimit; docs/howto/body-limits.md) ------------

    @property
    def DATA_UPLOAD_MAX_MEMORY_SIZE(self) -> int | None:
        """Django's cap on what request.body / request.POST read into memory, for routes
        whose policy has no max_size. Default: Django's (2.5 MiB)."""
        value = raw("DATA_UPLOAD_MAX_MEMORY_SIZE")
        return None if value is None else int(value)

    @property
    def DATA_UPLOAD_MAX_NUMBER_FIELDS(self) -> int | None:
        """Django's cap on the number of form fields. Default: Django's (1000)."""
        value = raw("DATA_UPLOAD_MAX_NUMBER_FIELDS")
        return None if value is None else int(value)

    @property
    def DATA_UPLOAD_MAX_NUMBER_FILES(self) -> int | None:
        """Django's cap on the number of files in a multipart form. Default: Django's (100)."""
        value = raw("DATA_UPLOAD_MAX_NUMBER_FILES")
        return None if value is None else int(value)


conf = Settings()
