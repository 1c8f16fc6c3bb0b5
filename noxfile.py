"""The supported-versions matrix and the built-artifact check (`make matrix`, `make wheel-check`).

* ``matrix``: one session per supported (Python, Django) cell (``CELLS``: Django 5.2 on Python
  3.11-3.13, 6.0 and 6.1 on 3.12-3.13), one virtualenv each. Every cell runs, under gunicorn
  27: the wire suite on gunicorn (sync, gthread, gevent, with and without the hooks), the
  gunicorn adapter's units and the demo; tests/unit (no server) with a quarter of the property
  examples (``make test`` runs them all); the ``manage.py runserver`` wire cases
  (django-expect's command relies on Django's private code); the wire suite on the ASGI
  servers with the ASGI operations. Python 3.13 x Django 5.2 also runs gunicorn 25 and 26 (the
  shared wire cases and the adapter's units, each installed over the previous one). On each
  Django's newest Python every ASGI server runs, and the API frameworks over the wire (their
  dependence is on Django's version); on the other Pythons, uvicorn h11 and gunicorn ``-k
  asgi``. Python 3.13 x Django 6.1 (what a fresh install picks) runs the whole suite through
  ``make test`` instead, so it is 6.1's newest Python.
* ``prerelease``: the newest Django pre-release on PyPI, when one is newer than the newest
  release; CI prints its result and does not fail on it.
* ``wheel``: builds the sdist and wheel, ``twine check``s them, fails if a file the repository
  tracks under ``django_expect/`` is missing from the wheel, installs the wheel (not the checkout)
  into a clean virtualenv and runs the end-to-end smoke and the demo's setup against that install.

Cells install requirements-matrix.txt (the servers these slices start; no clients, browsers,
uWSGI or Go), with uv when it is installed (requirements-dev.txt has it). Virtualenvs live in
``.nox/``; ``nox -r`` reuses them between runs. One cell: ``nox -r -s "matrix(3.12-6.0)"``;
extra pytest arguments go to every run after ``--``. ``make matrix`` runs ``python noxfile.py
2``: the cells in two nox processes side by side (``lanes``: about equal minutes each), every
line prefixed with its lane.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

import nox

nox.options.sessions = ["matrix"]
#: uv makes each cell's virtualenv and installs in seconds (pip took about 90 s a cell); plain
#: venv + pip where uv is missing.
nox.options.default_venv_backend = "uv|venv"
#: uv does not compile bytecode by default (pip does): with PYTHONDONTWRITEBYTECODE set, every
#: server a test starts would compile Django from source again.
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")

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
#: The pair ``make test`` runs the whole suite on.
MAKE_TEST_CELL = ("3.13", "6.1")
#: gunicorn 25-27 in one cell (what gunicorn's version changes is gunicorn's, whatever the
#: Django: the LTS on the newest Python); every other cell runs the newest gunicorn.
GUNICORN = ["25", "26", "27"]
OLDER_GUNICORNS_CELL = ("3.13", "5.2")
#: Each Django's newest Python (6.1's is make test's): every ASGI server and the frameworks.
NEWEST_PYTHON = {
    django: max(p for p, d in [*CELLS, MAKE_TEST_CELL] if d == django) for _, django in CELLS
}
#: The wire suite's servers are test ids (tests/servers.py): ``-k`` selects them.
WIRE = ["tests/wire/test_conformance.py", "tests/wire/test_bodylimit_wire.py"]
#: What gunicorn's version can change: its servers on the wire, the adapter's units, the demo.
GUNICORN_CELL = [*WIRE, "tests/unit/test_drain.py", "tests/tooling/test_demo.py"]
OLDER_GUNICORN_CELL = ["tests/wire/test_conformance.py", "tests/unit/test_drain.py"]
GUNICORN_SELECTION = "gunicorn-sync or gunicorn-gthread or gunicorn-gevent or test_drain or demo"
#: django_expect/runserver.py relies on Django's private runserver code: its wire tests run in
#: every cell (the real-clients slice, which needs the Go and Node builds, does not).
RUNSERVER = ["tests/wire"]
RUNSERVER_SELECTION = "runserver"
#: The ASGI servers depend on Django's ASGIHandler: every cell. All of them on each Django's
#: newest Python; on the other Pythons the lazy servers django-expect's handler serves most
#: (uvicorn h11, gunicorn -k asgi) and the ASGI operations (the event loop is Python's).
ASGI = [*WIRE, "tests/operations/test_asgi_operations.py"]
ASGI_SELECTION = (
    "uvicorn or granian or gunicorn-asgi or hypercorn or daphne or django-asgi or asgi_operations"
)
ASGI_OTHER_PYTHONS = "uvicorn-h11 or gunicorn-asgi or asgi_operations"
#: API frameworks over the wire (DRF, django-ninja parse through request.body / FILES): what
#: they depend on is Django's version, so on each Django's newest Python.
FRAMEWORKS = ["tests/wire/test_frameworks_wire.py"]


def _install(session: nox.Session, django: str, gunicorn: str, *package: str) -> None:
    session.install("-r", "requirements-matrix.txt", *package)
    session.install(f"Django=={django}.*", f"gunicorn[gevent]=={gunicorn}.*")
    _show_versions(session)


def _show_versions(session: nox.Session) -> None:
    session.run(
        "python",
        "-c",
        "import sys, django, gunicorn; print('Python', sys.version.split()[0], 'Django', "
        "django.get_version(), 'gunicorn', gunicorn.__version__)",
    )


def _pytest(session: nox.Session, *args: str, quick: bool = False) -> None:
    # quick: a quarter of the property tests' examples (tests/fakes.py examples); make test
    # runs them all on the newest pair.
    env = {"DJANGO_EXPECT_QUICK": "1"} if quick else None
    session.run("pytest", "-q", "-p", "no:cacheprovider", *args, *session.posargs, env=env)


@nox.session
@nox.parametrize(("python", "django"), CELLS, ids=[f"{p}-{d}" for p, d in CELLS])
def matrix(session: nox.Session, django: str) -> None:
    """One (Python, Django) cell: the unit and wire slices, gunicorn 25-27 where it is due."""
    python = str(session.python)
    gunicorns = GUNICORN if (python, django) == OLDER_GUNICORNS_CELL else GUNICORN[-1:]
    _install(session, django, gunicorns[0], "-e", ".")
    for gunicorn in gunicorns:
        if gunicorn != gunicorns[0]:
            session.install(f"gunicorn[gevent]=={gunicorn}.*")
            _show_versions(session)
        session.log(f"cell: Python {python} x Django {django} x gunicorn {gunicorn}")
        # The older gunicorns: the shared wire cases and the adapter's units (the body-limit
        # cases and the demo are gunicorn-version-neutral: they run on gunicorn 27).
        files = GUNICORN_CELL if gunicorn == GUNICORN[-1] else OLDER_GUNICORN_CELL
        _pytest(session, *files, "-k", GUNICORN_SELECTION)
    newest = NEWEST_PYTHON[django] == python
    session.log(f"Python {python} x Django {django}: unit, runserver, ASGI, frameworks")
    _pytest(session, "tests/unit", quick=True)
    _pytest(session, *RUNSERVER, "-k", RUNSERVER_SELECTION)
    _pytest(session, *ASGI, "-k", ASGI_SELECTION if newest else ASGI_OTHER_PYTHONS)
    if newest:
        _pytest(session, *FRAMEWORKS)


@nox.session(python="3.13")
def prerelease(session: nox.Session) -> None:
    """The newest Django pre-release on PyPI, if there is one newer than the newest release:
    unit and wire core. CI reports it and lets it fail (the next break is seen at its alpha)."""
    session.install("-r", "requirements-matrix.txt", "-e", ".")
    session.install("--pre", "--upgrade", "Django")
    version = session.run("python", "-c", "import django; print(django.get_version())", silent=True)
    assert version is not None
    version = version.strip()
    if not any(tag in version for tag in ("a", "b", "rc")):
        session.log(f"no Django pre-release newer than {version} on PyPI: nothing to run")
        return
    _show_versions(session)
    _pytest(session, "tests/unit")
    _pytest(session, *GUNICORN_CELL, "-k", GUNICORN_SELECTION)
    _pytest(session, *ASGI, "-k", ASGI_SELECTION)


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
        *GUNICORN_CELL,
        "tests/unit/test_django.py",
        "-k",
        f"{GUNICORN_SELECTION} or test_django",
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


# -- make matrix: the cells in lanes side by side ---------------------------------------------


def _cell_cost(cell: tuple[str, str]) -> int:
    """A cell's rough minutes under uv (measured 2026-12-07: an other-Python cell takes 4)."""
    python, django = cell
    return 4 + 2 * (cell == OLDER_GUNICORNS_CELL) + 2 * (NEWEST_PYTHON[django] == python)


def lanes(count: int) -> list[list[str]]:
    """``CELLS`` as ``count`` lists of session names of about equal cost (longest first)."""
    plan: list[list[str]] = [[] for _ in range(count)]
    load = [0] * count
    for cell in sorted(CELLS, key=_cell_cost, reverse=True):
        lane = load.index(min(load))
        plan[lane].append(f"matrix({cell[0]}-{cell[1]})")
        load[lane] += _cell_cost(cell)
    return plan


def run_lanes(count: int, posargs: list[str]) -> int:
    """Run the matrix in ``count`` nox processes at once, each line prefixed with its lane;
    each lane's pytest runs get their own ``--basetemp``. The exit status is the worst lane's."""

    temp = Path(tempfile.mkdtemp(prefix="django-expect-matrix-"))
    processes: list[tuple[int, subprocess.Popen[str]]] = []
    for number, sessions in enumerate(lanes(count), 1):
        print(f"[lane {number}] {' '.join(sessions)}", flush=True)
        addopts = f"{os.environ.get('PYTEST_ADDOPTS', '')} --basetemp={temp / f'lane-{number}'}"
        command = [sys.executable, "-m", "nox", "-r", "-s", *sessions]
        process = subprocess.Popen(
            [*command, "--", *posargs] if posargs else command,
            cwd=ROOT,
            env={**os.environ, "PYTEST_ADDOPTS": addopts.strip()},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append((number, process))

    def relay(number: int, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            print(f"[lane {number}] {line}", end="", flush=True)

    relays = [threading.Thread(target=relay, args=pair) for pair in processes]
    for thread in relays:
        thread.start()
    for thread in relays:
        thread.join()
    codes = [process.wait() for _, process in processes]
    shutil.rmtree(temp, ignore_errors=True)
    for (number, _), code in zip(processes, codes, strict=True):
        print(f"[lane {number}] {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return max(codes)


if __name__ == "__main__":
    # make matrix: python noxfile.py [LANES] [-- pytest arguments]
    arguments = sys.argv[1:]
    extra = arguments[arguments.index("--") + 1 :] if "--" in arguments else []
    given = arguments[: arguments.index("--")] if "--" in arguments else arguments
    raise SystemExit(run_lanes(int(given[0]) if given else 2, extra))
