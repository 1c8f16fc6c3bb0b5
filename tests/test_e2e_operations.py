"""Operators' promises on real gunicorn processes, on SQLite and on PostgreSQL.

* An override saved in the admin of one server reaches another gunicorn process (its own
  arbiter, its own worker) within the refresh interval, and so does its deletion.
* Rejections on several processes end up as daily counts in the database (written in batches by
  each process), with a structured log line per rejection.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import Postgres
from tests.support.raw import Exchange
from tests.support.server import PROJECT, Server, prepare_database, project_env
from tests.support.tools import poll, require_module

pytestmark = pytest.mark.e2e

REFRESH = 1.0  # EXPECT_OVERRIDES_REFRESH of the servers under test
FLUSH = 0.5  # EXPECT_STATS_FLUSH_INTERVAL


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp(f"ops-{request.param}")
    extra = {
        "DEMO_CACHE_DIR": str(base / "cache"),
        "DEMO_EXPECT_REFRESH": str(REFRESH),
        "DEMO_EXPECT_FLUSH": str(FLUSH),
    }
    postgres = None
    if request.param == "postgresql":
        require_module("psycopg", "psycopg[binary]")
        postgres = Postgres().start()
        extra.update(postgres.env)
    try:
        env = project_env(base / "db.sqlite3", base / "media", **extra)
        prepare_database(env)
        yield env
    finally:
        if postgres is not None:
            postgres.stop()


@pytest.fixture(scope="module")
def two_servers(
    backend_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    logs = tmp_path_factory.mktemp("ops-logs")
    servers = []
    try:
        for worker in ("sync", "gthread"):
            servers.append(Server(worker, True, logs / f"{worker}.log", backend_env).start())
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def decision(
    server: Server,
    length: int = 800,
    path: str = "/lab/small",
    content_type: str = "application/octet-stream",
) -> int:
    """The status an upload head gets: 100 (invited) or the rejection's status."""
    with Exchange(server.address, timeout=5) as conn:
        conn.request_head("PUT", path, {
            "Content-Length": str(length), "Expect": "100-continue",
            "Content-Type": content_type,
        })
        return conn.read_response().status


class Admin:
    """A logged-in admin user on one server, speaking plain HTTP with a cookie jar."""

    def __init__(self, server: Server, username: str = "demo", password: str = "demo") -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.get("/admin/login/?next=/admin/")
        self.post("/admin/login/?next=/admin/", page, {
            "username": username, "password": password, "next": "/admin/"})

    def get(self, path: str) -> str:
        with self.opener.open(self.server.url + path, timeout=10) as response:
            return str(response.read().decode())

    def post(self, path: str, form_page: str, fields: dict[str, str]) -> str:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_page)
        assert token, form_page[:500]
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), **fields}).encode()
        with self.opener.open(self.server.url + path, data=data, timeout=10) as response:
            return str(response.read().decode())


# How long a process may take to pick up a change before the test calls it stuck: a hang bound
# (each process revalidates every REFRESH seconds), never a figure asserted about the interval.
HANG_BOUND = REFRESH + 30


def wait_for(servers: tuple[Server, ...], status: int, since: float) -> list[float]:
    """Seconds after ``since`` at which each server first answered ``status`` (printed only)."""
    delays = []
    for server in servers:
        seen = poll(lambda s=server: True if decision(s) == status else None,
                    timeout=HANG_BOUND, interval=0.05)
        assert seen, f"{server.worker} still does not answer {status}:\n{server.log()[-2000:]}"
        delays.append(time.monotonic() - since)
    print(f"answered {status} after {[round(d, 2) for d in delays]} s (refresh {REFRESH} s)")
    return delays


def test_an_admin_change_reaches_every_process_without_a_restart(
    two_servers: tuple[Server, Server],
) -> None:
    first, second = two_servers
    assert decision(first) == decision(second) == 100  # the code's limit: 1000 bytes

    admin = Admin(first)
    form = admin.get("/admin/django_expect/policyoverride/add/")
    admin.post("/admin/django_expect/policyoverride/add/", form, {
        "route": "lab-small", "max_size": "500", "content_types": "", "expect": "",
        "note": "e2e",
    })
    saved = time.monotonic()
    listing = admin.get("/admin/django_expect/policyoverride/")
    match = re.search(r"/admin/django_expect/policyoverride/(\d+)/change/", listing)
    assert match, "the override was not saved"
    assert 'title="500 bytes">500 bytes</td>' in listing  # the effective policy is shown

    # Every process picks the change up, with no restart and no signal between processes (the
    # delay is printed, not asserted: on a shared 2-CPU machine only a hang is a failure).
    wait_for(two_servers, 413, saved)

    page = admin.get(f"/admin/django_expect/policyoverride/{match.group(1)}/delete/")
    admin.post(f"/admin/django_expect/policyoverride/{match.group(1)}/delete/", page,
               {"post": "yes"})
    deleted = time.monotonic()
    wait_for(two_servers, 100, deleted)


def counts_in_database(env: dict[str, str]) -> dict[str, int]:
    script = (
        "import json; from django_expect.models import RejectionCount as R; "
        "print(json.dumps({f'{r.route} {r.reason} {r.status}': r.count for r in R.objects.all()}))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=PROJECT, env=env,
        capture_output=True, text=True, timeout=60, check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_rejections_from_several_processes_are_counted_in_the_database(
    two_servers: tuple[Server, Server], backend_env: dict[str, str]
) -> None:
    # A route and reason no other test rejects: counts other tests left pending in the servers'
    # buffers cannot land in the middle of this count.
    key = "lab-types unsupported_media_type 415"
    first, second = two_servers
    before = counts_in_database(backend_env).get(key, 0)
    for server, times in ((first, 12), (second, 5)):
        for _ in range(times):
            assert decision(server, 5000, "/lab/types", "text/plain") == 415
    expected = before + 17

    def counted() -> int | None:
        now = counts_in_database(backend_env).get(key, 0)
        return now if now == expected else None

    assert poll(counted, timeout=FLUSH * 4 + 15, interval=0.3) == expected
    line = "upload rejected: route=lab-types reason=unsupported_media_type status=415"
    assert f"{line} declared_length=5000 client=127.0.0.1" in first.log()
    assert line in second.log()


def test_admin_lists_the_counts(two_servers: tuple[Server, Server]) -> None:
    first, _ = two_servers
    assert decision(first, length=5000) == 413
    page = Admin(first).get("/admin/django_expect/rejectioncount/")
    assert "lab-small" in page and "content_too_large" in page


def test_expect_policies_runs_against_the_backend(backend_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "expect_policies", "--format", "json"], cwd=PROJECT,
        env=backend_env, capture_output=True, text=True, timeout=60, check=True,
    )
    routes = {entry["route"]: entry for entry in json.loads(result.stdout)}
    assert routes["lab-small"]["max_size"] == 1000


def test_a_database_outage_keeps_serving_with_the_known_policies(
    backend_env: dict[str, str], tmp_path: Path
) -> None:
    """A server whose database disappears keeps deciding and logs the outage once."""
    env = dict(backend_env, DEMO_DB=str(tmp_path / "missing" / "db.sqlite3"),
               DEMO_PG_PORT="1" if "DEMO_PG_PORT" in backend_env else "")
    server = Server("sync", True, tmp_path / "outage.log", env).start()
    try:
        assert decision(server) == 100
        assert decision(server, length=5000) == 413
        assert server.log().count("cannot refresh the upload policy overrides") == 1
    finally:
        server.stop()
