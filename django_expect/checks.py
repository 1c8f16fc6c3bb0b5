"""System checks (``manage.py check``) with stable IDs, documented in docs/howto/install.md and
docs/howto/operations.md. Settings are read through :mod:`django_expect.conf`.

* ``django_expect.W001``: ExpectMiddleware is not in MIDDLEWARE (policies are not enforced).
* ``django_expect.W002``: ExpectMiddleware comes after CsrfViewMiddleware, whose
  ``process_view`` reads ``request.POST`` (the body) before the upload policy is checked.
* ``django_expect.E001``: EXPECT_DEFAULT_POLICY is not a valid set of upload_policy arguments.
* ``django_expect.E002``: EXPECT_CHUNKED is not 'stream' or 'refuse'.
* ``django_expect.E003``: EXPECT_REJECTION_HANDLER cannot be imported or is not callable.
* ``django_expect.E004``: EXPECT_REJECTION_TEMPLATE or EXPECT_WWW_AUTHENTICATE is not a string.
* ``django_expect.E007``: EXPECT_BODY_TIMEOUT is not a positive number of seconds or None.
* ``django_expect.E008``: EXPECT_MIN_RATE is not a positive number or None, or
  EXPECT_MIN_RATE_GRACE is not 0 or more seconds.
* ``django_expect.W008``: ``manage.py runserver`` is another app's command (one listed before
  ``django_expect`` that ships its own, such as daphne), whose server sends the
  ``100 Continue`` before Django decides. Where ``django_expect`` sits relative to
  ``django.contrib.staticfiles`` does not matter.
* ``django_expect.W006``: DATA_UPLOAD_MAX_MEMORY_SIZE is None and some routes' policies set no
  ``max_size``: ``request.body`` and ``request.POST`` read any body into memory there (the check
  names them; ``expect_policies`` shows every route's body limit).

Where ExpectMiddleware goes: Django runs every middleware's request phase (``__call__`` up to
``get_response``, ``process_request``) before any ``process_view``, then the ``process_view``
methods in MIDDLEWARE order. The policy is checked in ExpectMiddleware's ``process_view``, so
``request.user`` (AuthenticationMiddleware) is always set by then, wherever the two are; the
only order that matters is before CsrfViewMiddleware (and any other middleware whose
``process_view`` reads the body). W005 ("before AuthenticationMiddleware") was retired: it could
not be true.

Operations (overrides, upload settings, statistics; docs/howto/operations.md):

* ``django_expect.W003``: a policy override names no URL pattern (database check: run
  ``manage.py check --database default``; ``expect_policies`` and the admin show it too).
* ``django_expect.E005``: an operations setting is invalid (EXPECT_OVERRIDES_REFRESH,
  EXPECT_STATS, EXPECT_STATS_FLUSH_INTERVAL, EXPECT_DRAIN_SECONDS, EXPECT_DRAIN_MAX_CONNECTIONS,
  EXPECT_QUOTA_RESERVATION_SECONDS: a finite number of seconds greater than 0).
* ``django_expect.W007``: an ``@upload_policy`` no URL pattern enforces (a decorated function,
  method or class that is not a routed view, a handler method, a DRF ViewSet action or a
  django-ninja operation the policy lookup reaches). The message names its dotted path. See
  docs/howto/api-frameworks.md.
* ``django_expect.E006``: ExpectMiddleware is in MIDDLEWARE but ``django_expect`` is not in
  INSTALLED_APPS. Django runs no check of an app that is not installed, so this one is logged
  (logger ``django_expect``, level ERROR) when the middleware starts; overrides and statistics
  are off until the app is installed.

W004 (a per-process cache for the overrides' version) was retired with the cache: the change
counter lives in the database every process already uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from django_expect.conf import CHUNKED_MODES, raw
from django_expect.core import (
    PolicyError,
    UploadPolicy,
    validate_grace,
    validate_rate,
    validate_timeout,
)

__all__ = ["check_unreachable_policies"]

MIDDLEWARE_PATH = "django_expect.middleware.ExpectMiddleware"
#: Middleware known to read the request body in ``process_view``, before the view runs.
BODY_READING_MIDDLEWARE = ("django.middleware.csrf.CsrfViewMiddleware",)


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        messages.append(
            Warning(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: upload policies are not enforced.",
                hint="Insert it on the line right above "
                "'django.middleware.csrf.CsrfViewMiddleware' (docs/howto/install.md).",
                id="django_expect.W001",
            )
        )
    else:
        position = middleware.index(MIDDLEWARE_PATH)
        for reader in BODY_READING_MIDDLEWARE:
            if reader in middleware[:position]:
                messages.append(
                    Warning(
                        f"{MIDDLEWARE_PATH} comes after {reader}, whose process_view reads the "
                        "request body before the upload policy is checked.",
                        hint=f"Move {MIDDLEWARE_PATH} to the line right above {reader}.",
                        id="django_expect.W002",
                    )
                )

    default = raw("EXPECT_DEFAULT_POLICY")
    if not isinstance(default, dict):
        messages.append(
            Error(
                f"EXPECT_DEFAULT_POLICY must be a dict, not {default!r}.", id="django_expect.E001"
            )
        )
    else:
        try:
            UploadPolicy.build(**default)
        except (PolicyError, TypeError) as error:
            messages.append(Error(f"EXPECT_DEFAULT_POLICY: {error}", id="django_expect.E001"))

    chunked = raw("EXPECT_CHUNKED")
    if chunked not in CHUNKED_MODES:
        messages.append(
            Error(
                f"EXPECT_CHUNKED must be one of {CHUNKED_MODES}, not {chunked!r}.",
                id="django_expect.E002",
            )
        )

    handler = raw("EXPECT_REJECTION_HANDLER")
    if handler is not None:
        try:
            target = import_string(handler)
        except ImportError as error:
            messages.append(
                Error(
                    f"EXPECT_REJECTION_HANDLER {handler!r} cannot be imported: {error}",
                    id="django_expect.E003",
                )
            )
        else:
            if not callable(target):
                messages.append(
                    Error(
                        f"EXPECT_REJECTION_HANDLER {handler!r} is not callable.",
                        id="django_expect.E003",
                    )
                )

    for name in ("EXPECT_REJECTION_TEMPLATE", "EXPECT_WWW_AUTHENTICATE"):
        value = raw(name)
        if not isinstance(value, str):
            messages.append(
                Error(f"{name} must be a string, not {value!r}.", id="django_expect.E004")
            )
    try:
        validate_timeout(raw("EXPECT_BODY_TIMEOUT"), "EXPECT_BODY_TIMEOUT")
    except PolicyError as error:
        messages.append(Error(str(error), id="django_expect.E007"))
    try:
        validate_rate(raw("EXPECT_MIN_RATE"), "EXPECT_MIN_RATE")
        if validate_grace(raw("EXPECT_MIN_RATE_GRACE"), "EXPECT_MIN_RATE_GRACE") is None:
            raise PolicyError("EXPECT_MIN_RATE_GRACE must be 0 or more seconds, not None")
    except PolicyError as error:
        messages.append(Error(str(error), id="django_expect.E008"))
    return messages


STATICFILES_APP = "django.contrib.staticfiles"


def check_app_order(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """W008: ``manage.py runserver`` is another app's command, which sends the 100 eagerly.

    With ``django_expect`` anywhere in ``INSTALLED_APPS`` the command Django runs is either
    django-expect's or staticfiles' given django-expect's server class
    (:func:`django_expect.runserver.serve_staticfiles_runserver_lazily`); an app listed before
    both that ships its own ``runserver`` (daphne, for example) is warned of.
    """
    from django.apps import apps
    from django.core.management import get_commands, load_command_class

    if not apps.is_installed("django_expect"):
        return []
    app = get_commands().get("runserver")
    if app is None or _serves_lazily(load_command_class(app, "runserver")):
        return []
    return [
        Warning(
            f"`manage.py runserver` is the command of {app!r} (Django runs the command of the "
            "app listed first in INSTALLED_APPS), whose server sends 100 Continue before the "
            "upload policy is checked.",
            hint=f"List 'django_expect' before {app!r} in INSTALLED_APPS to serve "
            "`manage.py runserver` with django-expect's server, or serve with gunicorn and the "
            "hooks. See docs/howto/servers.md.",
            id="django_expect.W008",
        )
    ]


#: The runserver commands that serve with django-expect's server class.
_LAZY_RUNSERVER_MODULES = frozenset(
    {
        "django_expect.management.commands.runserver",
        f"{STATICFILES_APP}.management.commands.runserver",
    }
)


def _serves_lazily(command: Any) -> bool:
    from django_expect.runserver import ExpectWSGIServer

    server_cls = getattr(command, "server_cls", None)
    return (
        type(command).__module__ in _LAZY_RUNSERVER_MODULES
        and isinstance(server_cls, type)
        and issubclass(server_cls, ExpectWSGIServer)
    )


def check_body_limits(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Routes whose body limit is none at all (no max_size, DATA_UPLOAD_MAX_MEMORY_SIZE=None)."""
    from django_expect.conf import conf
    from django_expect.routes import describe_routes

    if conf.DATA_UPLOAD_MAX_MEMORY_SIZE is not None:
        return []
    unlimited = [
        e.route.name
        for e in describe_routes({})
        if e.body_limit is None and "max_size" not in e.per_request
    ]
    if not unlimited:
        return []
    shown = ", ".join(unlimited[:10]) + (
        f" and {len(unlimited) - 10} more" if unlimited[10:] else ""
    )
    return [
        Warning(
            f"DATA_UPLOAD_MAX_MEMORY_SIZE is None and {len(unlimited)} route(s) set no max_size "
            f"({shown}): request.body and request.POST read any body into memory there.",
            hint="Set DATA_UPLOAD_MAX_MEMORY_SIZE, or max_size in EXPECT_DEFAULT_POLICY or on "
            "the views that take bodies (`manage.py expect_policies` lists each route's limit).",
            id="django_expect.W006",
        )
    ]


def _number_error(name: str, value: object, minimum: float, strict: bool) -> Error | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problem = "a number of seconds"
    elif (value <= minimum) if strict else (value < minimum):
        problem = f"{'greater than' if strict else 'at least'} {minimum}"
    else:
        return None
    return Error(f"{name} must be {problem}, not {value!r}.", id="django_expect.E005")


def check_operations(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Settings of the overrides, the drain budget and the statistics."""
    messages: list[CheckMessage] = []
    for name, minimum, strict in (
        ("EXPECT_OVERRIDES_REFRESH", 0.0, False),
        ("EXPECT_STATS_FLUSH_INTERVAL", 0.0, True),
        ("EXPECT_DRAIN_SECONDS", 0.0, False),
        ("EXPECT_QUOTA_RESERVATION_SECONDS", 0.0, True),
    ):
        error = _number_error(name, raw(name), minimum, strict)
        if error is not None:
            messages.append(error)
    reservation = raw("EXPECT_QUOTA_RESERVATION_SECONDS")
    if isinstance(reservation, float) and not math.isfinite(reservation):
        # inf would keep a killed worker's reservation for ever; nan compares false to all
        messages.append(
            Error(
                "EXPECT_QUOTA_RESERVATION_SECONDS must be a finite number of seconds greater "
                f"than 0, not {reservation!r}.",
                id="django_expect.E005",
            )
        )
    connections = raw("EXPECT_DRAIN_MAX_CONNECTIONS")
    if isinstance(connections, bool) or not isinstance(connections, int) or connections < 0:
        messages.append(
            Error(
                "EXPECT_DRAIN_MAX_CONNECTIONS must be a whole number of connections (0 or more), "
                f"not {connections!r}.",
                id="django_expect.E005",
            )
        )
    stats = raw("EXPECT_STATS")
    if not isinstance(stats, bool):
        messages.append(
            Error(f"EXPECT_STATS must be True or False, not {stats!r}.", id="django_expect.E005")
        )
    return messages


def check_overrides(
    app_configs: Sequence[Any] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    """Overrides that name no URL pattern (reads the database: tagged ``database``)."""
    if not databases:
        return []
    from django.db import DatabaseError

    from django_expect.overrides import load_overrides
    from django_expect.routes import unknown_override_routes

    try:
        overrides = load_overrides()
    except DatabaseError:
        return []  # not migrated yet: nothing to check
    return [
        Warning(
            f"The upload policy override for {route!r} names no URL pattern: it has no effect.",
            hint="Fix or delete it in the admin (django-expect > upload policy overrides); "
            "`manage.py expect_policies` lists the route names.",
            id="django_expect.W003",
        )
        for route in unknown_override_routes(overrides)
    ]


def check_unreachable_policies(
    app_configs: Sequence[Any] | None = None, urlconf: str | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Every ``@upload_policy`` that no route of ``urlconf`` (default ROOT_URLCONF) enforces."""
    from django_expect.policies import declarations

    reached = reached_policies(urlconf)
    return [
        Warning(
            f"@upload_policy on {declared.path} is not enforced: no URL pattern reaches it.",
            hint=UNREACHABLE_HINTS[declared.kind] + UNREACHABLE_SEE,
            obj=declared.path,
            id="django_expect.W007",
        )
        for declared in sorted(declarations(), key=lambda d: d.path)
        if id(declared.policy) not in reached
    ]


def reached_policies(urlconf: str | None = None) -> set[int]:
    """ids of the declared policies the lookup returns for some route and method."""
    from django_expect.frameworks import served_methods
    from django_expect.policies import declared_policy
    from django_expect.routes import ANY_OTHER_METHOD, iter_routes

    reached: set[int] = set()
    for route in iter_routes(urlconf):
        for method in (*served_methods(route.callback), ANY_OTHER_METHOD):
            policy = declared_policy(route.callback, method)
            if policy is not None:
                reached.add(id(policy))
    return reached


UNREACHABLE_HINTS = {
    "method": "It is not a method any route dispatches to: decorate the handler named after the "
    "HTTP method (post, put, patch...), the DRF ViewSet action a router maps (create, update, "
    "partial_update, an @action), or the class. Helpers, perform_create and serializer hooks "
    "cannot carry a policy.",
    "class": "No URL pattern routes this class (or a subclass that keeps its policy): route it, "
    "or remove the decorator.",
    "function": "No URL pattern routes this decorated function: route the object the decorator "
    "returned (not the undecorated function), or decorate a django-ninja operation (above or "
    "below @api.post).",
}
UNREACHABLE_SEE = (
    " `manage.py expect_policies` shows what each route enforces (docs/howto/api-frameworks.md)."
)
