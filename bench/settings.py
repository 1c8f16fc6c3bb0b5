"""Bench settings: the test project, with or without django-expect (``BENCH_MODE``).

``BENCH_MODE=expect`` (default): ``ExpectMiddleware`` is installed and the bench views carry
``@upload_policy``. ``BENCH_MODE=stock``: no middleware, no decorator; the views check sizes the
everyday Django way (see ``bench/views.py``). ``BENCH_MIDDLEWARE=none``: no middleware at all
(bench/breakdown.py's bare column). Everything else is the test project's settings.
"""

import os

from tests.settings import *  # noqa: F403

BENCH_MODE = os.environ.get("BENCH_MODE", "expect")
if BENCH_MODE not in ("stock", "expect"):
    raise RuntimeError(f"BENCH_MODE must be 'stock' or 'expect', not {BENCH_MODE!r}")

ROOT_URLCONF = "bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False}  # quiet: logging costs CPU too

if BENCH_MODE == "stock":
    INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "django_expect"]  # noqa: F405
    MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("django_expect.")]  # noqa: F405

if os.environ.get("BENCH_MIDDLEWARE") == "none":  # bench/breakdown.py: Django's core path alone
    MIDDLEWARE = []
