"""The supported-versions matrix and the built-artifact check (`make matrix`, `make wheel-check`).

* ``matrix``: one session per Django version (4.2, 5.1, 5.2) on this interpreter, one virtualenv
  each; inside it, for gunicorn 25, 26 and 27 in turn (installed over the previous one), the
  unit suite and the end-to-end core suite on the sync, gthread and gevent workers. Then, once per
  Django version: every test that starts no server (``-m "not e2e"``: admin, checks, install,
  agreement, frameworks, ...), the ``manage.py runserver`` wire tests (django-expect's command
  relies on Django's private code) and, on 4.2 and 5.1, the ASGI end-to-end suites (5.2 runs them
  in ``make test``). The whole suite (clients, proxies, TLS, browsers, ...) runs on the newest
  pair through ``make test``. One virtualenv per Django version, not per cell: creating one
  (``requirements-dev.txt``) costs minutes, a gunicorn swap seconds.
* ``wheel``: builds the sdist and wheel, ``twine check``s them, fails if a file the repository
  tracks under ``django_expect/`` is missing from the wheel, installs the wheel (not the checkout)
  into a clean virtualenv and runs the end-to-end smoke and the demo's setup against that install.

Virtualenvs live in ``.nox/``; ``nox -r`` reuses them between runs. One Django version:
``nox -r -s "matrix(django='4.2')"``; extra pytest arguments go to every run after ``--``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nox

nox.options.sessions = ["matrix"]
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
DJANGO = ["4.2", "5.1", "5.2"]
GUNICORN = ["25", "26", "27"]
UNIT = [
    "tests/test_core.py",
    "tests/test_continuation.py",
    "tests/test_django.py",
    "tests/test_properties.py",
    "tests/test_body_timeout_settings.py",
    "tests/test_bodylimit.py",  # relies on Django's own code: docs/howto/body-limits.md
    "tests/test_asgi_handler.py",  # relies on Django's ASGIHandler: docs/howto/asgi.md
    "tests/test_checks_app_order.py",  # relies on Django running the first app's command
]
E2E_CORE = ["tests/test_e2e_core.py", "tests/test_e2e_bodylimit.py", "tests/test_demo.py"]
#: django_expect/runserver.py relies on Django's private runserver code (4.2 through 5.2): its
#: wire tests (without the six-client slice, which needs the Go and Node builds) run in every cell.
RUNSERVER = ["tests/test_wsgi_servers.py", "tests/test_runserver_drain.py"]
RUNSERVER_SELECTION = "runserver and not client"
#: Depend on Django's ASGIHandler, not on gunicorn: once per older Django (5.2 runs in make test).
ASGI = ["tests/test_asgi.py", "tests/test_asgi_bodylimit.py", "tests/test_asgi_operations.py"]


def _install(session: nox.Session, django: str, gunicorn: str, *package: str) -> None:
    session.install("-r", "requirements-dev.txt", *package)
    session.install(f"Django=={django}.*", f"gunicorn[gevent]=={gunicorn}.*")
    _show_versions(session)


def _show_versions(session: nox.Session) -> None:
    session.run(
        "python",
        "-c",
        "import django, gunicorn; print('Django', django.get_version(), "
        "'gunicorn', gunicorn.__version__)",
    )


def _pytest(session: nox.Session, *args: str) -> None:
    session.run("pytest", "-q", "-p", "no:cacheprovider", *args, *session.posargs)


@nox.session(python=PYTHON)
@nox.parametrize("django", DJANGO)
def matrix(session: nox.Session, django: str) -> None:
    """Every gunicorn version's cell on one Django, then the Django-only suites."""
    _install(session, django, GUNICORN[0], "-e", ".")
    for gunicorn in GUNICORN:
        if gunicorn != GUNICORN[0]:
            session.install(f"gunicorn[gevent]=={gunicorn}.*")
            _show_versions(session)
        session.log(f"cell: Django {django} x gunicorn {gunicorn}")
        _pytest(session, *UNIT, *E2E_CORE)
    session.log(f"Django {django}: the tests that start no server, runserver, ASGI")
    _pytest(session, "-m", "not e2e")
    _pytest(session, *RUNSERVER, "-k", RUNSERVER_SELECTION)
    if django != DJANGO[-1]:
        _pytest(session, *ASGI)


@nox.session(python=PYTHON)
def wheel(session: nox.Session) -> None:
    """Build, check and test the artifacts users install (not the checkout)."""
    dist = Path(tempfile.mkdtemp(prefix="django-expect-dist-"))
    session.install("build", "twine")
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    artifacts = sorted(str(p) for p in dist.iterdir())
    session.run("twine", "check", "--strict", *artifacts)
    (built,) = dist.glob("*.whl")
    _check_wheel_contents(session, built)

    # The tests, their harness and the demo, without the package: imports must come from the wheel.
    work = Path(tempfile.mkdtemp(prefix="django-expect-wheel-"))
    for folder in ("tests", "testproject", "harness"):
        shutil.copytree(
            ROOT / folder,
            work / folder,
            ignore=shutil.ignore_patterns(
                "__pycache__", "db.sqlite3", ".db.sqlite3", "media", ".media", ".cache"
            ),
        )
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    _install(session, "5.2", "27", str(built))
    session.chdir(work)
    location = session.run(
        "python", "-c", "import django_expect; print(django_expect.__file__)", silent=True
    )
    assert location is not None and "site-packages" in location, location
    session.log(f"django_expect imported from {location.strip()}")
    env = {
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "PYTHONPATH": f"{work}:{work / 'testproject'}",
    }
    session.run("python", "testproject/manage.py", "check", "--fail-level", "WARNING", env=env)
    session.run("python", "testproject/manage.py", "migrate", "--noinput", "-v0", env=env)
    session.run("python", "testproject/manage.py", "demo_setup", env=env)
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *E2E_CORE,
        "tests/test_django.py",
        *session.posargs,
    )


def _check_wheel_contents(session: nox.Session, wheel_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "django_expect"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    with zipfile.ZipFile(wheel_path) as archive:
        shipped = set(archive.namelist())
    missing = [path for path in tracked if path not in shipped]
    if missing:
        session.error(f"files tracked under django_expect/ are missing from the wheel: {missing}")
    session.log(f"{wheel_path.name}: all {len(tracked)} tracked package files are in the wheel")
