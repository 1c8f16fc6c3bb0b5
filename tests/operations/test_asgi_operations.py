"""Operators' promises under ASGI (django_expect.asgi on uvicorn and gunicorn's ``-k asgi``):
rejections are counted in the database, and overrides saved in the database -- from another
process, or in the admin served by the ASGI server itself -- change the server's answer.

Each server runs the test project's asgi.py on its own SQLite database with
``EXPECT_OVERRIDES_REFRESH`` of 1 s and ``EXPECT_STATS_FLUSH_INTERVAL`` of 0.5 s. Each wait is a
bounded poll that fails only on a hang; the delays seen are printed (``pytest -rP``).
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from harness.asgi_servers import EXPECT_APP, ASGIServer, require_server
from harness.process import manage, prepare_database, project_env
from harness.raw import Exchange
from harness.tools import poll

REFRESH = 1.0  # EXPECT_OVERRIDES_REFRESH of the servers under test
FLUSH = 0.5  # EXPECT_STATS_FLUSH_INTERVAL
HANG = 60.0  # a poll gives up only after this long: it detects a hang, it measures nothing
SAME_ANSWERS = 5  # consecutive answers (new connections) that must agree


@pytest.fixture(scope="module")
def ops_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("asgi-ops")
    env = project_env(
        base / "db.sqlite3",
        base / "media",
        TEST_EXPECT_REFRESH=str(REFRESH),
        TEST_EXPECT_FLUSH=str(FLUSH),
    )
    prepare_database(env)
    return env


@pytest.fixture(scope="module", params=["uvicorn-h11", "gunicorn-asgi"])
def asgi_server(
    request: pytest.FixtureRequest,
    ops_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ASGIServer]:
    require_server(request.param)
    log = tmp_path_factory.mktemp("asgi-ops-logs") / f"{request.param}.log"
    server = ASGIServer(request.param, EXPECT_APP, log, ops_env).start()
    try:
        yield server
    finally:
        server.stop()


def decision(
    server: ASGIServer,
    length: int = 800,
    path: str = "/lab/small",
    content_type: str = "application/octet-stream",
) -> int:
    """The status an upload head gets: 100 (invited) or the rejection's status."""
    with Exchange(server.address, timeout=30) as conn:
        conn.request_head("PUT", path, {
            "Content-Length": str(length), "Expect": "100-continue",
            "Content-Type": content_type,
        })  # fmt: skip
        return conn.read_response().status


def wait_for(server: ASGIServer, status: int, since: float, path: str = "/lab/small") -> float:
    """Seconds after ``since`` at which ``server`` answered ``status`` SAME_ANSWERS times in a
    row; fails only if it never does within HANG seconds."""
    streak = [0]
    answers: dict[int, int] = {}

    def agreed() -> bool | None:
        answer = decision(server, path=path)
        answers[answer] = answers.get(answer, 0) + 1
        streak[0] = streak[0] + 1 if answer == status else 0
        return True if streak[0] >= SAME_ANSWERS else None

    assert poll(agreed, timeout=HANG, interval=0.02), (
        f"{server.kind} still does not answer {status} (answers: {answers}):\n"
        f"{server.log()[-3000:]}"
    )
    return round(time.monotonic() - since, 2)


def shell(env: dict[str, str], script: str) -> str:
    """Run Python in another process (``manage.py shell -c``), as another host would."""
    return manage(env, "shell", "-c", script)


def counts_in_database(env: dict[str, str]) -> dict[str, int]:
    script = (
        "import json; from django_expect.models import RejectionCount as R; "
        "print(json.dumps({f'{r.route} {r.reason} {r.status}': r.count for r in R.objects.all()}))"
    )
    return dict(json.loads(shell(env, script).strip().splitlines()[-1]))


# -- rejection statistics ----------------------------------------------------------------------


def test_rejections_are_counted_in_the_database(
    asgi_server: ASGIServer, ops_env: dict[str, str]
) -> None:
    # A route and reason no other test of this module rejects (and the servers of this module
    # share one database): nothing else can land in the middle of this count.
    key = "lab-types unsupported_media_type 415"
    before = counts_in_database(ops_env).get(key, 0)
    for _ in range(7):
        assert decision(asgi_server, 5000, "/lab/types", "text/plain") == 415
    expected = before + 7

    def counted() -> int | None:
        now = counts_in_database(ops_env).get(key, 0)
        return now if now == expected else None

    assert poll(counted, timeout=HANG, interval=0.3) == expected, asgi_server.log()[-3000:]
    line = "upload rejected: route=lab-types reason=unsupported_media_type status=415"
    assert f"{line} declared_length=5000 client=127.0.0.1" in asgi_server.log()


# -- overrides -----------------------------------------------------------------------------------


def test_an_override_saved_by_another_process_changes_the_answer(
    asgi_server: ASGIServer, ops_env: dict[str, str]
) -> None:
    assert decision(asgi_server) == 100  # the code's limit: 1000 bytes
    models = "from django_expect.models import PolicyOverride as P; "
    shell(ops_env, models + "P.objects.create(route='lab-small', max_size=500)")
    saved = time.monotonic()
    try:
        print(f"{asgi_server.kind} shell_save_delay: {wait_for(asgi_server, 413, saved)} s")
    finally:
        shell(ops_env, models + "P.objects.filter(route='lab-small').delete()")
    deleted = time.monotonic()
    print(f"{asgi_server.kind} shell_delete_delay: {wait_for(asgi_server, 100, deleted)} s")


class Admin:
    """A logged-in admin user (the test project's superuser) on one server, with a cookie jar."""

    def __init__(self, server: ASGIServer) -> None:
        self.server = server
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = self.get("/admin/login/?next=/admin/")
        self.post("/admin/login/?next=/admin/", page, {
            "username": "demo", "password": "demo", "next": "/admin/"})  # fmt: skip

    def get(self, path: str) -> str:
        with self.opener.open(self.server.url + path, timeout=30) as response:
            return str(response.read().decode())

    def post(self, path: str, form_page: str, fields: dict[str, str]) -> str:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_page)
        assert token, form_page[:500]
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), **fields}).encode()
        with self.opener.open(self.server.url + path, data=data, timeout=30) as response:
            return str(response.read().decode())


def test_an_override_saved_in_the_admin_served_over_asgi_changes_the_answer(
    asgi_server: ASGIServer,
) -> None:
    """The admin's own forms go through the ASGI handler too (a urlencoded POST read by
    CsrfViewMiddleware after ExpectMiddleware); the override then reaches the policy."""
    assert decision(asgi_server) == 100
    admin = Admin(asgi_server)
    form = admin.get("/admin/django_expect/policyoverride/add/")
    admin.post("/admin/django_expect/policyoverride/add/", form, {
        "route": "lab-small", "max_size": "500", "content_types": "", "expect": "",
        "login_required": "unknown", "permission": "", "body_timeout": "", "note": "asgi e2e",
    })  # fmt: skip
    saved = time.monotonic()
    listing = admin.get("/admin/django_expect/policyoverride/")
    match = re.search(r"/admin/django_expect/policyoverride/(\d+)/change/", listing)
    assert match, "the override was not saved:\n" + asgi_server.log()[-3000:]
    print(f"{asgi_server.kind} admin_save_delay: {wait_for(asgi_server, 413, saved)} s")

    page = admin.get(f"/admin/django_expect/policyoverride/{match.group(1)}/delete/")
    admin.post(
        f"/admin/django_expect/policyoverride/{match.group(1)}/delete/", page, {"post": "yes"}
    )
    deleted = time.monotonic()
    print(f"{asgi_server.kind} admin_delete_delay: {wait_for(asgi_server, 100, deleted)} s")
