"""The test project's WSGI application without ``django_expect.uwsgi.lazy_continue`` (the
control: what uWSGI does on its own)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
application = get_wsgi_application()
