"""Shared fixtures, and the marker of each test group.

The tests are grouped by what they prove, one folder each (docs/contributing.md): ``unit``
(no server process), ``wire`` (real servers over sockets), ``clients`` (real HTTP clients,
proxies, TLS), ``browsers``, ``operations`` (exports, PostgreSQL, the admin across processes),
``tooling`` (the demo, the install steps, the bench and stress reports). Every test gets its
folder's marker here (``pytest -m wire``); the fixtures: a migrated demo database and the server
pools (gunicorn per worker class, the ASGI servers, the other WSGI servers).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from harness.asgi_servers import ASGIServerPool
from harness.process import prepare_database, project_env
from harness.server import WORKERS, Server
from harness.wsgi_servers import WSGIServerPool
from tests.servers import PROFILES, WireServer, known_failure, select

TESTS = Path(__file__).resolve().parent
#: The test groups: a folder of tests/ each, and the marker that selects it.
GROUPS = ("unit", "wire", "clients", "browsers", "operations", "tooling")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its group (its folder under tests/); ``e2e`` on every group that
    starts servers or other programs (all but ``unit``)."""
    for item in items:
        parts = item.path.relative_to(TESTS).parts
        if len(parts) > 1 and parts[0] in GROUPS:
            item.add_marker(parts[0])
            if parts[0] != "unit":
                item.add_marker("e2e")
        server = getattr(item, "callspec", None) and item.callspec.params.get("wire_server")
        xfail = server and known_failure(server, item.originalname, item.name)
        if xfail:
            item.add_marker(xfail)


@pytest.fixture(scope="session", autouse=True)
def _no_background_stats_writes() -> None:
    """Rejection counts are flushed by hand in tests (no thread writing into the test DB)."""
    from django_expect.stats import buffer

    buffer.autoflush = False


@pytest.fixture(autouse=True)
def _fresh_operators_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with a fresh per-process copy of the overrides and upload settings:
    rows a test wrote are rolled back, but a copy loaded from them would outlive the test. No
    refresher thread (it would read the test database beside the test): tests that need the
    rows loaded call ``overrides.registry.refresh()``; changes saved in a test apply at once."""
    from django_expect import overrides

    monkeypatch.setattr(overrides, "registry", overrides.OverrideRegistry(background=False))


@pytest.fixture(scope="session")
def project_env_vars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("project")
    env = project_env(base / "db.sqlite3", base / "media")
    prepare_database(env)
    return env


class ServerPool:
    """Starts each (worker, hook) server once per session and stops them all at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.servers: dict[tuple[str, bool], Server] = {}

    def get(self, worker: str, hook: bool = True) -> Server:
        key = (worker, hook)
        if key not in self.servers:
            name = f"{worker}-{'hook' if hook else 'stock'}.log"
            server = Server(worker, hook, self.logs / name, self.env).start()
            self.servers[key] = server
        return self.servers[key]

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()


_Pool = TypeVar("_Pool", ServerPool, ASGIServerPool, WSGIServerPool)


def _running(pool: _Pool) -> Iterator[_Pool]:
    """A session fixture's pool, every server it started stopped at the end of the session."""
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="session")
def server_pool(project_env_vars: dict[str, str], logs: Path) -> Iterator[ServerPool]:
    """gunicorn servers (harness/server.py), one per (worker class, hook), each started once."""
    yield from _running(ServerPool(project_env_vars, logs / "gunicorn"))


@pytest.fixture(params=WORKERS)
def server(request: pytest.FixtureRequest, server_pool: ServerPool) -> Server:
    """A gunicorn server with django-expect's hooks, once per worker class."""
    return server_pool.get(request.param)


@pytest.fixture(scope="session")
def asgi_pool(project_env_vars: dict[str, str], logs: Path) -> Iterator[ASGIServerPool]:
    """ASGI servers (harness/asgi_servers.py), each started once."""
    yield from _running(ASGIServerPool(project_env_vars, logs / "asgi"))


@pytest.fixture(scope="session")
def wsgi_pool(project_env_vars: dict[str, str], logs: Path) -> Iterator[WSGIServerPool]:
    """WSGI servers other than gunicorn (harness/wsgi_servers.py), each started once."""
    yield from _running(WSGIServerPool(project_env_vars, logs / "wsgi"))


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the pools' servers write their logs (a folder per pool)."""
    base = tmp_path_factory.mktemp("logs")
    for pool in ("gunicorn", "asgi", "wsgi"):
        (base / pool).mkdir()
    return base


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test asking for ``wire_server`` runs once per server ``@servers`` selects (default:
    every server that keeps the promise; tests/servers.py)."""
    if "wire_server" in metafunc.fixturenames:
        names = select(metafunc.definition.get_closest_marker("servers"))
        metafunc.parametrize("wire_server", names, indirect=True, ids=names)


@pytest.fixture
def wire_server(
    request: pytest.FixtureRequest,
    server_pool: ServerPool,
    asgi_pool: ASGIServerPool,
    wsgi_pool: WSGIServerPool,
) -> WireServer:
    """The server named by the test's parameter (tests/servers.py), started once a session."""
    profile = PROFILES[request.param]
    process: object
    if profile.family == "gunicorn":
        process = server_pool.get(profile.kind, profile.hook)
    elif profile.family == "asgi":
        process = asgi_pool.get(profile.kind, profile.app)
    else:
        process = wsgi_pool.get(profile.kind)
    return WireServer(profile, process)
