"""gunicorn configuration of the demo: django-expect's hooks plus ordinary settings."""

import os

from django_expect.gunicorn import post_request, pre_request  # noqa: F401  (gunicorn reads them)

bind = os.environ.get("DEMO_BIND", "127.0.0.1:8000")
worker_class = os.environ.get("DEMO_WORKER", "gthread")
workers = int(os.environ.get("DEMO_WORKERS", "2"))
threads = 4
wsgi_app = "testproject.wsgi:application"
accesslog = "-"
