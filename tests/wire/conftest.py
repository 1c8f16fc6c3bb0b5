"""Fixtures the feature suites in tests/wire share: a 2-worker gunicorn (sync, the hooks) and a
uvicorn (django_expect.asgi), each on the requesting module's own ``env`` (its database)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.asgi_servers import ASGIServerPool, require_server
from harness.server import Server


@pytest.fixture(scope="module")
def gunicorn(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    logs = tmp_path_factory.mktemp("gunicorn-logs")
    server = Server("sync", True, logs / "sync.log", env, ["--workers", "2"]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def uvicorn(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    require_server("uvicorn-h11")
    pool = ASGIServerPool(env, tmp_path_factory.mktemp("uvicorn"))
    try:
        yield pool.get("uvicorn-h11")
    finally:
        pool.stop_all()
