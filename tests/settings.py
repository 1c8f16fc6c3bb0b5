"""Settings of the test project (pytest-django's DJANGO_SETTINGS_MODULE, and every server the tests
start): SQLite at ``TEST_DB`` (or PostgreSQL when ``TEST_PG_PORT`` is set), the test app, the
demo's app (its pages are tested as they are), the ``TEST_*`` knobs the end-to-end tests turn per
server."""

import os
import sys
from pathlib import Path
from typing import Any

import django

BASE_DIR = Path(__file__).resolve().parent
# The demo's app (testproject/demo) is importable as ``demo`` in every process these settings load
# in: pytest, the servers the tests start, manage.py, mypy's Django plugin.
DEMO_DIR = str(BASE_DIR.parent / "testproject")
if DEMO_DIR not in sys.path:
    sys.path.append(DEMO_DIR)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "tests-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_expect",
    "django.contrib.staticfiles",
    "demo",
    "tests.testapp",
]
if os.environ.get("DJANGO_EXPECT_TEST_APP_APPENDED"):
    # As a user appends it (INSTALLED_APPS += ["django_expect"]): runserver is then staticfiles'
    # command, served by django-expect's server all the same (harness kind runserver-appended).
    INSTALLED_APPS.remove("django_expect")
    INSTALLED_APPS.append("django_expect")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "demo.middleware.TokenAuthMiddleware",
    # Before CsrfViewMiddleware, which reads request.POST in process_view.
    "django_expect.middleware.ExpectMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tests.urls"
WSGI_APPLICATION = "tests.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TEST_DB", str(BASE_DIR / ".db.sqlite3")),
    }
}
# Concurrent writers (the views, the rejection counts, the change counter) under gevent and
# gthread: take the write lock when a transaction starts (Django >= 5.1), so SQLite never has to
# fail a shared-to-write lock upgrade with "database is locked", and wait for a busy lock.
DATABASES["default"]["OPTIONS"] = {"timeout": 20}
if django.VERSION >= (5, 1):
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

# PostgreSQL too (TEST_PG_PORT set by the test that starts it).
if os.environ.get("TEST_PG_PORT"):
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("TEST_PG_NAME", "demo"),
        "USER": os.environ.get("TEST_PG_USER", "postgres"),
        "HOST": os.environ.get("TEST_PG_HOST", "127.0.0.1"),
        "PORT": os.environ["TEST_PG_PORT"],
    }

USE_TZ = True
STATIC_URL = "static/"
# The browser tests serve uploaders' npm packages (tests/browsers/node_modules) as static/vendor/.
if os.environ.get("TEST_VENDOR_DIR"):
    STATICFILES_DIRS = [("vendor", os.environ["TEST_VENDOR_DIR"])]
MEDIA_ROOT = Path(os.environ.get("TEST_MEDIA_ROOT", str(BASE_DIR / ".media")))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Bodies are streamed by the views; Django's own in-memory cap stays at its default.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# django-expect: views without a decorator get this policy.
EXPECT_DEFAULT_POLICY = {"max_size": "100MiB"}
# Operations: how fast overrides spread and counts are written (the tests shorten both).
EXPECT_OVERRIDES_REFRESH = float(os.environ.get("TEST_EXPECT_REFRESH", "5"))
EXPECT_STATS_FLUSH_INTERVAL = float(os.environ.get("TEST_EXPECT_FLUSH", "10"))
# Seconds a body may stop arriving before 408 (views without their own body_timeout).
EXPECT_BODY_TIMEOUT = float(os.environ.get("TEST_BODY_TIMEOUT", "20"))
# How long a quota reservation counts when nobody released it (tests/wire/test_quota_wire.py).
EXPECT_QUOTA_RESERVATION_SECONDS = float(os.environ.get("TEST_QUOTA_SECONDS", "3600"))
# The close after a rejected body was sent anyway (docs/howto/browsers-sent-anyway.md).
EXPECT_DRAIN_SECONDS = float(os.environ.get("TEST_DRAIN_SECONDS", "10"))
EXPECT_DRAIN_MAX_CONNECTIONS = int(os.environ.get("TEST_DRAIN_MAX_CONNECTIONS", "4"))
# Bodies of undeclared length: "stream" (default) or "refuse" (411; tests/clients/test_proxies.py).
EXPECT_CHUNKED = os.environ.get("TEST_EXPECT_CHUNKED", "stream")

# django_expect's records, and every error Django logs while answering (django.request: each 5xx
# with its traceback), go to the console -- gunicorn's error log -- where the tests and
# ``make stress`` look for "[ERROR]" lines (``error_lines`` in the process harness).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "[%(levelname)s] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_expect": {"handlers": ["console"], "level": "INFO"},
        "testapp": {"handlers": ["console"], "level": "INFO"},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
