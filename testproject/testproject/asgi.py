"""ASGI entry point of the demo project: Django's ASGI handler as django-expect provides it.

``django_expect.asgi.get_asgi_application`` (instead of ``django.core.asgi``'s) decides each
upload policy before the server is asked for the body (docs/howto/asgi.md). Serve it with
``make demo-asgi`` (uvicorn).
"""

import os

from django_expect.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
application = get_asgi_application()
