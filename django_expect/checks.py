"""System checks (``manage.py check``) with stable IDs, documented in the README.

* ``django_expect.W001``: ExpectMiddleware is not in MIDDLEWARE (policies are not enforced).
* ``django_expect.W002``: ExpectMiddleware comes after a middleware that reads the body.
* ``django_expect.E001``: EXPECT_DEFAULT_POLICY is not a valid set of upload_policy arguments.
* ``django_expect.E002``: EXPECT_CHUNKED is not 'stream' or 'refuse'.
* ``django_expect.E003``: EXPECT_REJECTION_HANDLER cannot be imported or is not callable.
* ``django_expect.E004``: EXPECT_REJECTION_TEMPLATE or EXPECT_WWW_AUTHENTICATE is not a string.
* ``django_expect.E005``: EXPECT_BODY_TIMEOUT is not a positive number of seconds or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from django_expect.conf import CHUNKED_MODES
from django_expect.core import PolicyError, UploadPolicy, validate_timeout

MIDDLEWARE_PATH = "django_expect.middleware.ExpectMiddleware"
#: Middleware known to read the request body before the view runs.
BODY_READING_MIDDLEWARE = ("django.middleware.csrf.CsrfViewMiddleware",)


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        messages.append(
            Warning(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: upload policies are not enforced.",
                hint="Add it before CsrfViewMiddleware and anything else that reads the body.",
                id="django_expect.W001",
            )
        )
    else:
        position = middleware.index(MIDDLEWARE_PATH)
        for reader in BODY_READING_MIDDLEWARE:
            if reader in middleware[:position]:
                messages.append(
                    Warning(
                        f"{MIDDLEWARE_PATH} comes after {reader}, which may read the request "
                        "body before the upload policy is checked.",
                        hint=f"Move {MIDDLEWARE_PATH} above {reader} in MIDDLEWARE.",
                        id="django_expect.W002",
                    )
                )

    default = getattr(settings, "EXPECT_DEFAULT_POLICY", {})
    if not isinstance(default, dict):
        messages.append(Error(f"EXPECT_DEFAULT_POLICY must be a dict, not {default!r}.",
                              id="django_expect.E001"))
    else:
        try:
            UploadPolicy.build(**default)
        except (PolicyError, TypeError) as error:
            messages.append(Error(f"EXPECT_DEFAULT_POLICY: {error}", id="django_expect.E001"))

    chunked = getattr(settings, "EXPECT_CHUNKED", "stream")
    if chunked not in CHUNKED_MODES:
        messages.append(Error(f"EXPECT_CHUNKED must be one of {CHUNKED_MODES}, not {chunked!r}.",
                              id="django_expect.E002"))

    handler = getattr(settings, "EXPECT_REJECTION_HANDLER", None)
    if handler is not None:
        try:
            target = import_string(handler)
        except ImportError as error:
            messages.append(Error(f"EXPECT_REJECTION_HANDLER {handler!r} cannot be imported: "
                                  f"{error}", id="django_expect.E003"))
        else:
            if not callable(target):
                messages.append(Error(f"EXPECT_REJECTION_HANDLER {handler!r} is not callable.",
                                      id="django_expect.E003"))

    for name in ("EXPECT_REJECTION_TEMPLATE", "EXPECT_WWW_AUTHENTICATE"):
        value = getattr(settings, name, "")
        if not isinstance(value, str):
            messages.append(Error(f"{name} must be a string, not {value!r}.",
                                  id="django_expect.E004"))
    try:
        validate_timeout(getattr(settings, "EXPECT_BODY_TIMEOUT", None), "EXPECT_BODY_TIMEOUT")
    except PolicyError as error:
        messages.append(Error(str(error), id="django_expect.E005"))
    return messages
