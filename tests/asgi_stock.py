"""Django's own ASGI handler, without django-expect's (for comparisons in tests and bench/)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
application = get_asgi_application()
