"""``manage.py runserver`` that holds ``100 Continue`` back until the upload policy passed.

Django picks the ``runserver`` of the app listed FIRST in ``INSTALLED_APPS``: list
``django_expect`` before ``django.contrib.staticfiles`` (an app listed before it with its own
``runserver``, such as daphne for ASGI, still wins). When ``django.contrib.staticfiles`` is
installed this command is its command (static files are still served), otherwise Django's; only
the server class differs (:class:`django_expect.runserver.ExpectWSGIServer`). See
docs/howto/servers.md.
"""

from __future__ import annotations

from django.apps import apps

from django_expect.runserver import ExpectWSGIServer

if apps.is_installed("django.contrib.staticfiles"):
    from django.contrib.staticfiles.management.commands.runserver import (
        Command as BaseRunserver,
    )
else:
    from django.core.management.commands.runserver import (  # type: ignore[assignment]
        Command as BaseRunserver,
    )


class Command(BaseRunserver):
    help = (
        f"{BaseRunserver.help} With django-expect: 100 Continue is sent only once the view's "
        "upload policy passed and the view reads the body."
    )
    server_cls = ExpectWSGIServer
