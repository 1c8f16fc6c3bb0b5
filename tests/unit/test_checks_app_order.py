"""Where ``django_expect`` sits in ``INSTALLED_APPS`` does not matter: ``manage.py runserver``
serves with django-expect's server either way, and django_expect.W008 warns only of another
app's ``runserver`` (one that sends the 100 eagerly)."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest
from django.contrib.staticfiles.management.commands import runserver as staticfiles_runserver
from django.core.checks import Warning
from django.core.checks.registry import registry
from django.core.management import get_commands, load_command_class
from django.core.management.commands import runserver as core_runserver
from django.core.servers.basehttp import WSGIServer
from django.test import override_settings

from django_expect.checks import check_app_order
from django_expect.runserver import ExpectWSGIServer

BASE = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
FIRST = [*BASE, "django_expect", "django.contrib.staticfiles"]
APPENDED = [*BASE, "django.contrib.staticfiles", "django_expect"]  # INSTALLED_APPS += [...]


def ids(installed: list[str]) -> list[str]:
    with override_settings(INSTALLED_APPS=installed):
        return [message.id or "" for message in check_app_order()]


@pytest.mark.parametrize(
    "installed",
    [
        FIRST,
        APPENDED,
        [*BASE, "django_expect"],  # no staticfiles: django-expect's own command
        [
            *BASE,
            "django.contrib.staticfiles.apps.StaticFilesConfig",
            "django_expect.apps.DjangoExpectConfig",
        ],
    ],
    ids=["first", "appended", "no-staticfiles", "app-config-paths"],
)
def test_runserver_serves_lazily_wherever_the_app_is_listed(installed: list[str]) -> None:
    with override_settings(INSTALLED_APPS=installed):
        command = load_command_class(get_commands()["runserver"], "runserver")
        assert issubclass(command.server_cls, ExpectWSGIServer)
        assert check_app_order() == []


def test_the_check_is_registered() -> None:
    assert check_app_order in registry.get_checks()


def test_appended_runs_staticfiles_command_with_the_lazy_server() -> None:
    with override_settings(INSTALLED_APPS=APPENDED):
        assert get_commands()["runserver"] == "django.contrib.staticfiles"
        assert staticfiles_runserver.Command.server_cls is ExpectWSGIServer
    # Django's own command (the control servers of the tests, projects without staticfiles) is
    # left as Django ships it.
    assert core_runserver.Command.server_cls is WSGIServer


@pytest.fixture
def eager_app() -> Iterator[str]:
    """An app's own ``runserver`` command module (as daphne ships), importable for the test."""
    name = "eager_runserver_app"
    package = types.ModuleType(name)
    package.__path__ = []  # a package, so Django looks for management commands in it
    commands = types.ModuleType(f"{name}.management.commands.runserver")

    class Command(core_runserver.Command):
        server_cls = WSGIServer

    Command.__module__ = commands.__name__
    commands.Command = Command  # type: ignore[attr-defined]
    modules = {
        name: package,
        f"{name}.management": types.ModuleType(f"{name}.management"),
        f"{name}.management.commands": types.ModuleType(f"{name}.management.commands"),
        commands.__name__: commands,
    }
    sys.modules.update(modules)
    try:
        yield name
    finally:
        for module in modules:
            sys.modules.pop(module, None)


def test_another_apps_runserver_listed_first_warns(
    eager_app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Django maps each command to the first app listed that ships it (get_commands()).
    monkeypatch.setitem(get_commands(), "runserver", eager_app)
    (message,) = check_app_order()
    assert isinstance(message, Warning)
    assert message.id == "django_expect.W008"
    assert repr(eager_app) in message.msg
    assert f"before {eager_app!r}" in (message.hint or "")


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
