"""The supported-versions matrix and the built-artifact check (`make matrix`, `make wheel-check`).

* ``matrix``: one session per supported (Python, Django) cell (``CELLS``: Django 5.2 on Python
  3.11-3.13, 6.0 and 6.1 on 3.12-3.13), one virtualenv each. On each Django's newest Python the
  unit suite and the end-to-end core suite (gunicorn sync, gthread, gevent) run under gunicorn
  25, 26 and 27 in turn (installed over the previous one); on the other Pythons under gunicorn
  27. Then, once per cell: every test that starts no server (``-m "not e2e"``), the
  ``manage.py runserver`` wire tests (django-expect's command relies on Django's private code),
  the ASGI wire suites and the API frameworks over the wire. Python 3.13 x Django 6.1 (what a
  fresh install picks) runs the whole suite through ``make test`` instead.
* ``prerelease``: the newest Django pre-release on PyPI, when one is newer than the newest
  release; CI prints its result and does not fail on it.
* ``wheel``: builds the sdist and wheel, ``twine check``s them, fails if a file the repository
  tracks under ``django_expect/`` is missing from the wheel, installs the wheel (not the checkout)
  into a clean virtualenv and runs the end-to-end smoke and the demo's setup against that install.

Virtualenvs live in ``.nox/``; ``nox -r`` reuses them between runs. One cell:
``nox -r -s "matrix(3.12-6.0)"``; extra pytest arguments go to every run after ``--``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import nox

nox.options.sessions = ["matrix"]
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
#: The supported set: the Django series upstream supports today, on the Pythons each supports
#: that this machine has (Django 6.x needs Python 3.12+). Python 3.13 x Django 6.1, the pair a
#: fresh install picks, is not here: ``make test`` runs the whole suite on it.
CELLS = [
    ("3.11", "5.2"),
    ("3.12", "5.2"),
    ("3.13", "5.2"),
    ("3.12", "6.0"),
    ("3.13", "6.0"),
    ("3.12", "6.1"),
]
#: gunicorn 25-27 run on each Django's newest Python; the other Pythons run the newest gunicorn.
GUNICORN = ["25", "26", "27"]
NEWEST_PYTHON = {django: max(p for p, d in CELLS if d == django) for _, django in CELLS}
UNIT = [
    "tests/test_core.py",
    "tests/test_continuation.py",
    "tests/test_django.py",
    "tests/test_properties.py",
    "tests/test_body_timeout_settings.py",
    "tests/test_bodylimit.py",  # relies on Django's own code: docs/howto/body-limits.md
    "tests/test_streams.py",  # the file-object contract Django 6.0.4+ relies on
    "tests/test_asgi_handler.py",  # relies on Django's ASGIHandler: docs/howto/asgi.md
    "tests/test_checks_app_order.py",  # relies on Django running the first app's command
]
E2E_CORE = ["tests/test_e2e_core.py", "tests/test_e2e_bodylimit.py", "tests/test_demo.py"]
#: django_expect/runserver.py relies on Django's private runserver code: its wire tests (without
#: the six-client slice, which needs the Go and Node builds) run in every cell.
RUNSERVER = ["tests/test_wsgi_servers.py", "tests/test_runserver_drain.py"]
RUNSERVER_SELECTION = "runserver and not client"
#: The ASGI wire suites depend on Django's ASGIHandler: every cell.
ASGI = ["tests/test_asgi.py", "tests/test_asgi_bodylimit.py", "tests/test_asgi_operations.py"]
#: API frameworks over the wire (DRF, django-ninja parse through request.body / FILES).
FRAMEWORKS = ["tests/test_e2e_frameworks.py"]


def _install(session: nox.Session, django: str, gunicorn: str, *package: str) -> None:
    session.install("-r", "requirements-dev.txt", *package)
    session.install(f"Django=={django}.*", f"gunicorn[gevent]=={gunicorn}.*")
    _show_versions(session)


def _show_versions(session: nox.Session) -> None:
    session.run(
        "python",
        "-c",
        "import sys, django, gunicorn; print('Python', sys.version.split()[0], 'Django', "
        "django.get_version(), 'gunicorn', gunicorn.__version__)",
    )


def _pytest(session: nox.Session, *args: str) -> None:
    session.run("pytest", "-q", "-p", "no:cacheprovider", *args, *session.posargs)


@nox.session
@nox.parametrize(("python", "django"), CELLS, ids=[f"{p}-{d}" for p, d in CELLS])
def matrix(session: nox.Session, django: str) -> None:
    """One (Python, Django) cell: the unit and wire slices, gunicorn 25-27 where it is due."""
    python = str(session.python)
    gunicorns = GUNICORN if NEWEST_PYTHON[django] == python else GUNICORN[-1:]
    _install(session, django, gunicorns[0], "-e", ".")
    for gunicorn in gunicorns:
        if gunicorn != gunicorns[0]:
            session.install(f"gunicorn[gevent]=={gunicorn}.*")
            _show_versions(session)
        session.log(f"cell: Python {python} x Django {django} x gunicorn {gunicorn}")
        _pytest(session, *UNIT, *E2E_CORE)
    session.log(f"Python {python} x Django {django}: no-server tests, runserver, ASGI, frameworks")
    _pytest(session, "-m", "not e2e")
    _pytest(session, *RUNSERVER, "-k", RUNSERVER_SELECTION)
    _pytest(session, *ASGI, *FRAMEWORKS)


@nox.session(python="3.13")
def prerelease(session: nox.Session) -> None:
    """The newest Django pre-release on PyPI, if there is one newer than the newest release:
    unit and wire core. CI reports it and lets it fail (the next break is seen at its alpha)."""
    session.install("-r", "requirements-dev.txt", "-e", ".")
    session.install("--pre", "--upgrade", "Django")
    version = session.run("python", "-c", "import django; print(django.get_version())", silent=True)
    assert version is not None
    version = version.strip()
    if not any(tag in version for tag in ("a", "b", "rc")):
        session.log(f"no Django pre-release newer than {version} on PyPI: nothing to run")
        return
    _show_versions(session)
    _pytest(session, *UNIT, *E2E_CORE, *ASGI)


@nox.session(python="3.13")
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
    _install(session, "6.1", "27", str(built))
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
