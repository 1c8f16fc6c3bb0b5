"""ASGI entry point of the test project: Django's ASGI handler as django-expect provides it."""

import os

from django_expect.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
application = get_asgi_application()
