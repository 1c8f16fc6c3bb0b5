"""Operators' promises on real gunicorn processes, on SQLite and on PostgreSQL, with Django's
default cache (the test project configures no CACHES: a LocMemCache per process).

* An override saved in the admin of one server, or from another process (``manage.py shell``,
  as another host would), reaches every worker of two gunicorn servers (two arbiters, two
  workers each), and so does its deletion; so does a site-wide limit set on the admin's
  "Upload settings" page, for a view without a decorator. Each wait is a bounded poll that
  fails only on a hang; the delays seen are printed (``pytest -rP``).
* Rejections on several processes end up as daily counts in the database (written in batches by
  each process), with a structured log line per rejection.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.postgres import Postgres
from harness.process import manage, prepare_database, project_env
from harness.raw import Exchange
from harness.server import Server
from harness.tools import poll, require_module

REFRESH = 1.0  # EXPECT_OVERRIDES_REFRESH of the servers under test
FLUSH = 0.5  # EXPECT_STATS_FLUSH_INTERVAL


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp(f"ops-{request.param}")
    extra = {
        "TEST_EXPECT_REFRESH": str(REFRESH),
        "TEST_EXPECT_FLUSH": str(FLUSH),
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
            server = Server(worker, True, logs / f"{worker}.log", backend_env, ["--workers", "2"])
            servers.append(server.start())
            server.warm_up(requests=6)  # both workers, most likely: first requests are slow
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def decision(
    server: Server,
    length: int = 800,
    path: str = "/lab/small",
    content_type: str = "application/octet-stream",
    timeout: float = 30,
) -> int:
    """The status an upload head gets: 100 (invited) or the rejection's status."""
    with Exchange(server.address, timeout=timeout) as conn:
        conn.request_head(
            "PUT",
            path,
            {
                "Content-Length": str(length),
                "Expect": "100-continue",
                "Content-Type": content_type,
            },
        )
        return conn.read_response().status


class Admin:
    """A logged-in admin user on one server, speaking plain HTTP with a cookie jar."""

    def __init__(self, server: Server, username: str = "demo", password: str = "demo") -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.get("/admin/login/?next=/admin/")
        self.post(
            "/admin/login/?next=/admin/",
            page,
            {"username": username, "password": password, "next": "/admin/"},
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.server.url + path, timeout=10) as response:
            return str(response.read().decode())

    def post(self, path: str, form_page: str, fields: dict[str, str]) -> str:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_page)
        assert token, form_page[:500]
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), **fields}).encode()
        with self.opener.open(self.server.url + path, data=data, timeout=10) as response:
            return str(response.read().decode())


SAME_ANSWERS = 10  # consecutive answers that must agree: each server has two workers
HANG = 60.0  # a poll gives up only after this long: it detects a hang, it measures nothing


def wait_for(
    servers: tuple[Server, ...], status: int, since: float, path: str = "/lab/small"
) -> list[float]:
    """Seconds after ``since`` at which each server answered ``status`` SAME_ANSWERS times in a
    row (new connections, so both workers answer)."""
    delays = []
    for server in servers:
        streak = [0]
        answers: dict[int, int] = {}

        def agreed(
            server: Server = server, streak: list[int] = streak, answers: dict[int, int] = answers
        ) -> bool | None:
            answer = decision(server, path=path)
            answers[answer] = answers.get(answer, 0) + 1
            streak[0] = streak[0] + 1 if answer == status else 0
            return True if streak[0] >= SAME_ANSWERS else None

        seen = poll(agreed, timeout=HANG, interval=0.02)
        assert seen, (
            f"{server.worker} still does not answer {status} (answers: {answers}):\n"
            f"{server.log()[-3000:]}"
        )
        delays.append(round(time.monotonic() - since, 2))
    return delays


def record(name: str, delays: list[float]) -> None:
    """Show the delays seen (``pytest -rP``): figures for the report, not assertions."""
    print(f"{name}: {delays} s after the change (sync, gthread)")


def shell(env: dict[str, str], script: str) -> str:
    """Run Python in another process (``manage.py shell -c``), as another host would."""
    return manage(env, "shell", "-c", script)


def test_the_servers_run_with_djangos_default_cache(backend_env: dict[str, str]) -> None:
    out = shell(backend_env, "from django.conf import settings; print(settings.CACHES)")
    assert "django.core.cache.backends.locmem.LocMemCache" in out


def test_an_admin_change_reaches_every_process(two_servers: tuple[Server, Server]) -> None:
    first, second = two_servers
    assert decision(first) == decision(second) == 100  # the code's limit: 1000 bytes

    admin = Admin(first)
    form = admin.get("/admin/django_expect/policyoverride/add/")
    admin.post(
        "/admin/django_expect/policyoverride/add/",
        form,
        {
            "route": "lab-small",
            "max_size": "500",
            "content_types": "",
            "expect": "",
            "login_required": "unknown",
            "permission": "",
            "body_timeout": "",
            "note": "e2e",
        },
    )
    saved = time.monotonic()
    listing = admin.get("/admin/django_expect/policyoverride/")
    match = re.search(r"/admin/django_expect/policyoverride/(\d+)/change/", listing)
    assert match, "the override was not saved"
    assert 'title="500 bytes">500 bytes<br>' in listing  # the effective policy is shown

    record("admin_save_delays", wait_for(two_servers, 413, saved))

    page = admin.get(f"/admin/django_expect/policyoverride/{match.group(1)}/delete/")
    admin.post(
        f"/admin/django_expect/policyoverride/{match.group(1)}/delete/", page, {"post": "yes"}
    )
    deleted = time.monotonic()
    record("admin_delete_delays", wait_for(two_servers, 100, deleted))


def test_an_override_saved_by_another_process_reaches_every_process(
    two_servers: tuple[Server, Server], backend_env: dict[str, str]
) -> None:
    assert decision(two_servers[0]) == decision(two_servers[1]) == 100
    models = "from django_expect.models import PolicyOverride as P; "
    shell(backend_env, models + "P.objects.create(route='lab-small', max_size=500)")
    saved = time.monotonic()
    record("shell_save_delays", wait_for(two_servers, 413, saved))

    shell(backend_env, models + "P.objects.filter(route='lab-small').get().delete()")
    deleted = time.monotonic()
    record("shell_delete_delays", wait_for(two_servers, 100, deleted))


def test_a_site_wide_limit_set_in_the_admin_reaches_every_process(
    two_servers: tuple[Server, Server],
) -> None:
    """The "Upload settings" page (one row) limits every view without a decorator."""
    first, _ = two_servers
    for server in two_servers:  # EXPECT_DEFAULT_POLICY: 100 MiB; lab-small's decorator: 1000
        assert decision(server, path="/lab/echo") == 100
    admin = Admin(first)
    page = admin.get("/admin/django_expect/uploadsettings/")  # the list leads to the one row
    assert "Change upload settings" in page
    fields = {
        "max_size": "500",
        "content_types": "",
        "login_required": "unknown",
        "permission": "",
        "body_timeout": "",
        "chunked": "",
        "drain_seconds": "",
        "note": "e2e",
    }
    admin.post("/admin/django_expect/uploadsettings/1/change/", page, fields)
    saved = time.monotonic()
    record("site_wide_delays", wait_for(two_servers, 413, saved, "/lab/echo"))
    for server in two_servers:
        assert decision(server) == 100  # a decorated view keeps its own limit

    page = admin.get("/admin/django_expect/uploadsettings/1/change/")
    admin.post("/admin/django_expect/uploadsettings/1/change/", page, dict(fields, max_size=""))
    cleared = time.monotonic()
    record("site_wide_clear_delays", wait_for(two_servers, 100, cleared, "/lab/echo"))


def counts_in_database(env: dict[str, str]) -> dict[str, int]:
    script = (
        "import json; from django_expect.models import RejectionCount as R; "
        "print(json.dumps({f'{r.route} {r.reason} {r.status}': r.count for r in R.objects.all()}))"
    )
    return dict(json.loads(shell(env, script).strip().splitlines()[-1]))


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
    output = manage(backend_env, "expect_policies", "--format", "json")
    routes = {entry["route"]: entry for entry in json.loads(output)}
    assert routes["lab-small"]["max_size"] == 1000


def test_a_database_outage_keeps_serving_with_the_known_policies(
    backend_env: dict[str, str], tmp_path: Path
) -> None:
    """A server whose database disappears keeps deciding and logs the outage once."""
    env = dict(
        backend_env,
        TEST_DB=str(tmp_path / "missing" / "db.sqlite3"),
        TEST_PG_PORT="1" if "TEST_PG_PORT" in backend_env else "",
    )
    server = Server("sync", True, tmp_path / "outage.log", env).start()
    try:
        assert decision(server) == 100
        assert decision(server, length=5000) == 413
        assert server.log().count("cannot refresh the upload policy overrides") == 1
    finally:
        server.stop()
