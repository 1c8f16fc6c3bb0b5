"""Settings for the django-expect demo project (SQLite, served by gunicorn with the hook).

The tests have their own project: tests/settings.py.
"""

import os
from pathlib import Path
from typing import Any

import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before django.contrib.staticfiles: the first app's runserver wins (django-expect's holds
    # the 100 back and still serves static files).
    "django_expect",
    "django.contrib.staticfiles",
    "demo",
]

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

ROOT_URLCONF = "testproject.urls"
WSGI_APPLICATION = "testproject.wsgi.application"

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
        "NAME": os.environ.get("DEMO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
# Concurrent writers (the demo's views, the rejection counts, the change counter) under gevent and
# gthread: take the write lock when a transaction starts (Django >= 5.1), so SQLite never has to
# fail a shared-to-write lock upgrade with "database is locked", and wait for a busy lock.
DATABASES["default"]["OPTIONS"] = {"timeout": 20}
if django.VERSION >= (5, 1):
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

USE_TZ = True
STATIC_URL = "static/"
# Uppy and FilePond for /upload/uploaders: DEMO_VENDOR_DIR=tests/browsers/node_modules (npm ci).
if os.environ.get("DEMO_VENDOR_DIR"):
    STATICFILES_DIRS = [("vendor", os.environ["DEMO_VENDOR_DIR"])]
MEDIA_ROOT = Path(os.environ.get("DEMO_MEDIA_ROOT", str(BASE_DIR / "media")))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Bodies are streamed by the views; Django's own in-memory cap stays at its default.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# django-expect: views without a decorator get this policy.
EXPECT_DEFAULT_POLICY = {"max_size": "100MiB"}
# Operations: how fast overrides spread and counts are written.
EXPECT_OVERRIDES_REFRESH = 5
EXPECT_STATS_FLUSH_INTERVAL = 10
# Seconds a body may stop arriving before 408 (views without their own body_timeout).
EXPECT_BODY_TIMEOUT = 20

# django_expect's records, and every error Django logs while answering (django.request: each 5xx
# with its traceback), go to the console: gunicorn's error log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "[%(levelname)s] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_expect": {"handlers": ["console"], "level": "INFO"},
        "demo": {"handlers": ["console"], "level": "INFO"},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
