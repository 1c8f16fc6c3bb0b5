"""``manage.py runserver`` that holds ``100 Continue`` back until the upload policy passed.

Django picks the ``runserver`` of the app listed first in ``INSTALLED_APPS``: this command when
``django_expect`` is listed before ``django.contrib.staticfiles`` (or staticfiles is not
installed); listed after it, staticfiles' own command runs, given the same server class by
:func:`django_expect.runserver.serve_staticfiles_runserver_lazily`. When staticfiles is
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
