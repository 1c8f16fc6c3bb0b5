"""Quotas with reservations on the wire (issue 22): two uploads from one user on two gunicorn
workers share a 1000-byte quota (tests/testapp/uploader_views.py, ``/uploader/quota``). While
the first is in flight (600 bytes reserved) the second (600) is refused 413 ``quota_exceeded``
before its 100; once the first ends, the second is accepted. Also under django_expect.asgi."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from harness.process import manage, prepare_database, project_env
from harness.raw import Exchange
from harness.server import Server
from harness.tools import poll
from tests.fakes import upload_head

pytestmark = pytest.mark.e2e

TOKEN = {"Authorization": "Token plain-token"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("quota")
    env = project_env(base / "db.sqlite3", base / "media")
    prepare_database(env)
    return env


def _reservations(env: dict[str, str]) -> int:
    script = "from django_expect.models import QuotaReservation as Q; print(Q.objects.count())"
    return int(manage(env, "shell", "-c", script).strip().splitlines()[-1])


@pytest.mark.parametrize("server_kind", ["gunicorn", "uvicorn"])
def test_two_concurrent_uploads_share_one_quota(
    request: pytest.FixtureRequest, env: dict[str, str], server_kind: str
) -> None:
    address = request.getfixturevalue(server_kind).address
    body = b"z" * 600
    with Exchange(address) as first:
        first.request_head("POST", "/uploader/quota", upload_head(600) | TOKEN)
        assert first.read_response().status == 100
        first.send(body[:100])  # in flight: the view is reading
        assert _reservations(env) == 1

        with Exchange(address) as second:
            second.request_head("POST", "/uploader/quota", upload_head(600) | TOKEN)
            interim, final = second.read_final()
            assert interim == []  # refused before its 100
            assert final.status == 413
            error = final.json()["error"]
            assert (error["code"], error["limit"]) == ("quota_exceeded", 400)
            assert final.header("Connection") == "close"
            assert second.closed_by_server()

        first.send(body[100:])
        more, done = first.read_final()
        assert more == [] and done.status == 200 and done.json()["size"] == 600
    assert _reservations(env) == 0  # released when the request ended

    with Exchange(address) as again:
        again.request_head("POST", "/uploader/quota", upload_head(600) | TOKEN)
        assert again.read_response().status == 100
        again.send_body(body)
        assert again.read_final()[1].status == 200


def test_a_request_that_ends_badly_releases_its_reservation(
    gunicorn: Server, env: dict[str, str]
) -> None:
    with Exchange(gunicorn.address) as conn:
        conn.request_head("POST", "/uploader/quota", upload_head(600) | TOKEN)
        assert conn.read_response().status == 100
        conn.send(b"z" * 10)
    # the client went away mid-body: the view's read fails, the request ends, the row goes
    for _ in range(600):
        if _reservations(env) == 0:
            break
    assert _reservations(env) == 0


def test_a_bad_quota_value_is_a_503(gunicorn: Server) -> None:
    with Exchange(gunicorn.address) as conn:
        conn.request_head("POST", "/uploader/bad-quota", upload_head(10))
        interim, final = conn.read_final()
        assert interim == [] and final.status == 503


@pytest.fixture
def short_lived(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server of its own whose reservations expire after 2 s (the other tests' last 1 h, so a
    slow machine cannot expire a reservation they rely on)."""
    base = tmp_path_factory.mktemp("quota-expiry")
    env = project_env(base / "db.sqlite3", base / "media", TEST_QUOTA_SECONDS="2")
    prepare_database(env)
    server = Server("sync", True, base / "sync.log", env, ["--workers", "2"]).start()
    try:
        yield server, env
    finally:
        server.stop()


def test_a_killed_workers_reservation_expires(short_lived: tuple[Server, dict[str, str]]) -> None:
    """The worker serving an upload is killed mid-body (SIGKILL: no cleanup runs): its
    reservation stays until EXPECT_QUOTA_RESERVATION_SECONDS (2 s here), then the quota is whole
    again."""
    gunicorn, env = short_lived

    def full_upload_accepted() -> bool | None:
        with Exchange(gunicorn.address) as conn:
            conn.request_head("POST", "/uploader/quota", upload_head(1000) | TOKEN)
            if conn.read_response().status != 100:
                return None
            conn.send_body(b"z" * 1000)
            return True if conn.read_final()[1].status == 200 else None

    with Exchange(gunicorn.address) as conn:
        conn.request_head("POST", "/uploader/quota", upload_head(600) | TOKEN)
        assert conn.read_response().status == 100
        conn.send(b"z" * 10)
        for pid in gunicorn.worker_pids():  # workers of the server this test module started
            os.kill(pid, signal.SIGKILL)
    assert _reservations(env) == 1  # nothing released it
    assert poll(full_upload_accepted, timeout=90, interval=0.5) is True
