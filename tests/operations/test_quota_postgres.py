"""The quota lock on PostgreSQL (issue 22): the wire suite of tests/wire/test_quota_wire.py
(two concurrent uploads from one user on a 2-worker gunicorn and on django_expect.asgi share
one quota, the second refused before its 100 while the first is in flight; a release when the
client vanishes; a SIGKILLed worker's reservation expiring), run against a throw-away
PostgreSQL server (harness/postgres.py) instead of SQLite: the ``QuotaLock`` row update must
serialise the workers' decisions there too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.postgres import Postgres
from harness.process import manage, prepare_database, project_env
from harness.server import Server
from harness.tools import require_module
from tests.wire.conftest import gunicorn, uvicorn
from tests.wire.test_quota_wire import (
    test_a_bad_quota_value_is_a_503,
    test_a_killed_workers_reservation_expires,
    test_a_request_that_ends_badly_releases_its_reservation,
    test_two_concurrent_uploads_share_one_quota,
)

pytestmark = pytest.mark.e2e

__all__ = [  # collected here again, on PostgreSQL
    "gunicorn",
    "test_a_bad_quota_value_is_a_503",
    "test_a_killed_workers_reservation_expires",
    "test_a_request_that_ends_badly_releases_its_reservation",
    "test_two_concurrent_uploads_share_one_quota",
    "uvicorn",
]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    require_module("psycopg", "psycopg[binary]")
    server = Postgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def env(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("quota-pg")
    env = project_env(base / "unused.sqlite3", base / "media", **postgres.env)
    prepare_database(env)
    return env


@pytest.fixture
def short_lived(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server of its own, on a database of its own, whose reservations expire after 2 s."""
    postgres.execute("CREATE DATABASE expiry")
    base = tmp_path_factory.mktemp("quota-pg-expiry")
    env = project_env(
        base / "unused.sqlite3",
        base / "media",
        **(postgres.env | {"TEST_PG_NAME": "expiry"}),
        TEST_QUOTA_SECONDS="2",
    )
    prepare_database(env)
    server = Server("sync", True, base / "sync.log", env, ["--workers", "2"]).start()
    try:
        yield server, env
    finally:
        server.stop()


def test_the_servers_database_is_postgresql(env: dict[str, str]) -> None:
    script = "from django.db import connection; print(connection.vendor)"
    assert manage(env, "shell", "-c", script).strip().splitlines()[-1] == "postgresql"
