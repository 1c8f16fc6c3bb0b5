"""Django's own ``runserver`` (the control): ``python -m harness.stock_runserver ADDR:PORT``.

Runs ``django.core.management.commands.runserver`` directly, whichever app's ``runserver``
``manage.py`` would pick, so the tests can show what django-expect's command changes.
"""

from __future__ import annotations

import sys

import django
from django.core.management import call_command
from django.core.management.commands.runserver import Command

if __name__ == "__main__":
    django.setup()
    call_command(Command(), sys.argv[1], use_reloader=False)
