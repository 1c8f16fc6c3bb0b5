"""django_expect.W008: ``django.contrib.staticfiles`` listed before ``django_expect`` makes
``manage.py runserver`` staticfiles' command (Django's eager 100), silently."""

from __future__ import annotations

import pytest
from django.core.checks import Warning, run_checks
from django.core.management import get_commands
from django.test import override_settings

from django_expect.checks import check_app_order

BASE = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
GOOD = [*BASE, "django_expect", "django.contrib.staticfiles"]
WRONG = [*BASE, "django.contrib.staticfiles", "django_expect"]


def ids(installed: list[str]) -> list[str]:
    with override_settings(INSTALLED_APPS=installed):
        return [message.id or "" for message in check_app_order()]


def test_django_expect_above_staticfiles_is_clean() -> None:
    assert ids(GOOD) == []
    assert ids([*BASE, "django_expect"]) == []  # no staticfiles: django-expect's own command


def test_staticfiles_first_warns_with_the_fix() -> None:
    with override_settings(INSTALLED_APPS=WRONG):
        assert get_commands()["runserver"] == "django.contrib.staticfiles"  # what it warns of
        (message,) = check_app_order()
    assert isinstance(message, Warning)
    assert message.id == "django_expect.W008"
    assert "right above 'django.contrib.staticfiles'" in (message.hint or "")


def test_app_config_paths_count_as_the_apps() -> None:
    wrong = [
        *BASE,
        "django.contrib.staticfiles.apps.StaticFilesConfig",
        "django_expect.apps.DjangoExpectConfig",
    ]
    assert ids(wrong) == ["django_expect.W008"]


@pytest.mark.parametrize("installed", [GOOD, WRONG])
def test_the_check_is_registered(installed: list[str]) -> None:
    with override_settings(INSTALLED_APPS=installed):
        found = [m.id for m in run_checks() if m.id == "django_expect.W008"]
    assert found == ([] if installed is GOOD else ["django_expect.W008"])


def test_runserver_command_is_staticfiles_command_with_the_expect_server() -> None:
    """django_expect listed before django.contrib.staticfiles: its command is the one Django
    runs, and it is staticfiles' command with django-expect's server (static files served on the
    wire: tests/wire/test_server_specific.py)."""
    from django.contrib.staticfiles.management.commands.runserver import (
        Command as StaticfilesRunserver,
    )
    from django.core.management import get_commands, load_command_class

    from django_expect.runserver import ExpectWSGIServer

    assert get_commands()["runserver"] == "django_expect"
    command = load_command_class("django_expect", "runserver")
    assert isinstance(command, StaticfilesRunserver)
    assert command.server_cls is ExpectWSGIServer
