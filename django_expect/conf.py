"""django-expect's settings: one typed property per documented setting (README: Settings).

Values are read from ``django.conf.settings`` on first access, not at import, and remembered until
Django's ``setting_changed`` signal says otherwise, so ``override_settings`` works in tests and an
absent setting does not cost a failed attribute lookup on every request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed

from django_expect.closing import DEFAULT_DRAIN_MAX_CONNECTIONS, DEFAULT_DRAIN_SECONDS

_MISSING = object()
_remembered: dict[str, Any] = {}


def _setting(name: str, default: Any) -> Any:
    value = _remembered.get(name, _MISSING)
    if value is _MISSING:
        value = _remembered[name] = getattr(django_settings, name, default)
    return value


def _forget(**kwargs: Any) -> None:
    _remembered.clear()


setting_changed.connect(_forget, dispatch_uid="django_expect.conf")

__all__ = [
    "CHUNKED_MODES",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_DRAIN_MAX_CONNECTIONS",
    "DEFAULT_DRAIN_SECONDS",
    "conf",
]

CHUNKED_MODES = ("stream", "refuse")
DEFAULT_BODY_TIMEOUT = 20.0


class Settings:
    @property
    def EXPECT_DEFAULT_POLICY(self) -> dict[str, Any]:
        """upload_policy() arguments for views without a decorator. Default: {} (no limits)."""
        return dict(_setting("EXPECT_DEFAULT_POLICY", {}) or {})

    @property
    def EXPECT_REJECTION_HANDLER(self) -> str | None:
        """Dotted path to ``handler(request, decision) -> HttpResponse``. Default: None."""
        value = _setting("EXPECT_REJECTION_HANDLER", None)
        return None if value is None else str(value)

    @property
    def EXPECT_REJECTION_TEMPLATE(self) -> str:
        """Template for HTML rejections. Default: 'django_expect/rejected.html'."""
        return str(_setting("EXPECT_REJECTION_TEMPLATE", "django_expect/rejected.html"))

    @property
    def EXPECT_CHUNKED(self) -> str:
        """'stream' (read bodies of undeclared length up to max_size) or 'refuse' (411)."""
        return str(_setting("EXPECT_CHUNKED", "stream"))

    @property
    def EXPECT_WWW_AUTHENTICATE(self) -> str:
        """The WWW-Authenticate value sent with 401. Default: 'Session realm="django"'."""
        return str(_setting("EXPECT_WWW_AUTHENTICATE", 'Session realm="django"'))

    @property
    def EXPECT_BODY_TIMEOUT(self) -> float | None:
        """Seconds a body may stop arriving before 408, for views without ``body_timeout``.

        Default: 20.0. None turns the limit off (a stalled client then holds a worker until
        gunicorn's own ``--timeout``).
        """
        value = _setting("EXPECT_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT)
        return None if value is None else float(value)

    # -- the close after a rejected body was sent anyway (docs/browsers-sent-anyway.md) -------

    @property
    def EXPECT_DRAIN_SECONDS(self) -> float:
        """Seconds a rejected connection may drain a body sent anyway, when the rest of the
        declared body can arrive within them. Default: 10.0 (a one-connection worker: at most 2)."""
        return float(_setting("EXPECT_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS))

    @property
    def EXPECT_DRAIN_MAX_CONNECTIONS(self) -> int:
        """Connections draining at once per worker process; beyond it, close at once.
        Default: 4 (never more than half the worker's threads/connections)."""
        return int(_setting("EXPECT_DRAIN_MAX_CONNECTIONS", DEFAULT_DRAIN_MAX_CONNECTIONS))

    # -- operations (overrides, statistics): see the README's Operations section -----

    @property
    def EXPECT_OVERRIDES_REFRESH(self) -> float:
        """Seconds between a process's checks for changed overrides. Default: 5."""
        return float(_setting("EXPECT_OVERRIDES_REFRESH", 5.0))

    @property
    def EXPECT_OVERRIDES_CACHE(self) -> str:
        """The cache alias (in CACHES) holding the overrides' version. Default: 'default'."""
        return str(_setting("EXPECT_OVERRIDES_CACHE", "default"))

    @property
    def EXPECT_STATS(self) -> bool:
        """Count rejections per route, reason and day in the database. Default: True."""
        return bool(_setting("EXPECT_STATS", True))

    @property
    def EXPECT_STATS_FLUSH_INTERVAL(self) -> float:
        """Seconds between a process's writes of its rejection counts. Default: 10."""
        return float(_setting("EXPECT_STATS_FLUSH_INTERVAL", 10.0))


conf = Settings()
