"""The three install steps of docs/howto/install.md, on a ``django-admin startproject`` project.

1. ``pip install django-expect`` (here: the package under test is installed in the venv);
2. ``"django_expect"`` in INSTALLED_APPS, anywhere (above ``django.contrib.staticfiles`` or
   appended with ``INSTALLED_APPS += [...]``);
3. ``"django_expect.middleware.ExpectMiddleware"`` on the line right above
   ``"django.middleware.csrf.CsrfViewMiddleware"`` in Django's default MIDDLEWARE;

then ``manage.py migrate``: ``manage.py check`` has nothing to say about django_expect, and a
login-required policy sees the logged-in user although ExpectMiddleware sits above
AuthenticationMiddleware (every middleware's request phase runs before any ``process_view``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from django_expect.checks import check_settings

CSRF = "'django.middleware.csrf.CsrfViewMiddleware',"
EXPECT = "'django_expect.middleware.ExpectMiddleware',"

#: MIDDLEWARE of Django's project template, with the one line of step 3.
DJANGO_DEFAULT_WITH_EXPECT = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django_expect.middleware.ExpectMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def run(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


#: Which ``runserver`` Django runs, and with which server class.
RUNSERVER = (
    "from django.core.management import get_commands, load_command_class; "
    "app = get_commands()['runserver']; "
    "print(app, load_command_class(app, 'runserver').server_cls.__qualname__)"
)


@pytest.mark.parametrize(
    ("placement", "runserver_app"),
    [("above-staticfiles", "django_expect"), ("appended", "django.contrib.staticfiles")],
)
def test_a_startproject_with_the_three_steps_checks_clean(
    tmp_path: Path, placement: str, runserver_app: str
) -> None:
    run(["-m", "django", "startproject", "site_under_test"], tmp_path)
    project = tmp_path / "site_under_test"
    settings = project / "site_under_test" / "settings.py"
    text = settings.read_text()
    assert text.count(CSRF) == 1, "Django's project template changed"
    apps_line = "'django.contrib.staticfiles',"
    assert text.count(apps_line) == 1, "Django's project template changed"
    if placement == "appended":
        text += '\nINSTALLED_APPS += ["django_expect"]\n'
    else:
        text = text.replace(apps_line, f"'django_expect',\n    {apps_line}", 1)
    text = text.replace(f"    {CSRF}", f"    {EXPECT}\n    {CSRF}", 1)
    settings.write_text(text)

    before_migrate = run(["manage.py", "check"], project)
    assert "django_expect" not in before_migrate, before_migrate
    assert "no issues" in before_migrate
    # manage.py runserver holds the 100 back too, wherever the app is listed.
    served_by = run(["manage.py", "shell", "-c", RUNSERVER], project).split()
    assert served_by[-2:] == [runserver_app, "ExpectWSGIServer"]
    run(["manage.py", "migrate", "--noinput", "-v0"], project)
    after = run(["manage.py", "check", "--database", "default"], project)
    assert "django_expect" not in after, after
    listing = run(
        [
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.MIDDLEWARE)",
        ],
        project,
    )
    assert str(DJANGO_DEFAULT_WITH_EXPECT) in listing  # the order the other tests rely on


def test_the_checks_want_expect_above_csrf_only() -> None:
    def ids(middleware: list[str]) -> list[str]:
        with override_settings(MIDDLEWARE=middleware):
            return [m.id or "" for m in check_settings() if m.id and "W00" in m.id]

    assert ids(DJANGO_DEFAULT_WITH_EXPECT) == []
    auth_first = list(DJANGO_DEFAULT_WITH_EXPECT)
    auth_first.remove("django.contrib.auth.middleware.AuthenticationMiddleware")
    auth_first.insert(2, "django.contrib.auth.middleware.AuthenticationMiddleware")
    assert ids(auth_first) == []
    below_csrf = list(DJANGO_DEFAULT_WITH_EXPECT)
    below_csrf.remove("django_expect.middleware.ExpectMiddleware")
    below_csrf.append("django_expect.middleware.ExpectMiddleware")
    assert ids(below_csrf) == ["django_expect.W002"]
    without = [m for m in DJANGO_DEFAULT_WITH_EXPECT if "ExpectMiddleware" not in m]
    assert ids(without) == ["django_expect.W001"]


@pytest.mark.django_db
@pytest.mark.parametrize("logged_in", [True, False])
def test_login_policies_see_the_user_with_expect_above_authentication(
    django_user_model: Any, logged_in: bool
) -> None:
    """Expect above AuthenticationMiddleware (Django's default list + step 3): /lab/login
    (login_required) lets the logged-in user's upload through and refuses the anonymous one."""
    client = Client()
    if logged_in:
        client.force_login(django_user_model.objects.create_user("uploader", password="x"))
    with override_settings(MIDDLEWARE=DJANGO_DEFAULT_WITH_EXPECT):
        response = client.post(
            "/lab/login", data=b"x" * 10, content_type="application/octet-stream"
        )
    assert response.status_code == (200 if logged_in else 401), response.content[:300]
