"""ASGI entry point of the demo project (used by the uvicorn comparison in bench/)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
application = get_asgi_application()
