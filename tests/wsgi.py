"""WSGI entry point of the test project (every WSGI server the tests start serves it).

``lazy_continue`` gives uWSGI the 100 Continue on first body read (docs/howto/servers.md); under any
other server it returns the application unchanged.
"""

import os

from django.core.wsgi import get_wsgi_application

from django_expect.uwsgi import lazy_continue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
application = lazy_continue(get_wsgi_application())
