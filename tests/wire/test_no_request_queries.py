"""A request makes exactly the queries its view makes: the overrides and the site-wide upload
settings are kept current by a refresher thread with its own connection, and a change saved in
this process applies at once through the ``post_save``/``post_delete`` receiver.

Covers what a user's test suite sees (``assertNumQueries`` around ``client.post``, a
``TestCase`` that creates an override inside its transaction, a rolled-back savepoint), the
refresher thread itself (another process's change, a committed local change, stop), and, on the
wire, gunicorn workers forked from a ``--preload`` arbiter. Waits are bounded polls that fail
only on a hang; nothing here is timed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.db.models import F
from django.test import Client, TestCase

from django_expect import overrides
from django_expect.models import ChangeCounter, PolicyOverride, UploadSettings
from django_expect.overrides import Override, OverrideRegistry, SiteDefaults
from harness.process import manage, prepare_database, project_env
from harness.raw import Exchange
from harness.server import Server
from harness.tools import poll

HANG = 60.0  # a poll gives up only after this long: it detects a hang, it measures nothing


def post(client: Client, length: int, path: str = "/lab/small") -> int:
    response = client.post(path, data=b"x" * length, content_type="application/octet-stream")
    return int(response.status_code)


@pytest.fixture
def threaded(monkeypatch: pytest.MonkeyPatch) -> Iterator[OverrideRegistry]:
    """This process's copy as in production: with its refresher thread."""
    fresh = OverrideRegistry()
    monkeypatch.setattr(overrides, "registry", fresh)
    yield fresh
    fresh.stop()


def until(condition: Callable[[], bool]) -> None:
    assert poll(lambda: True if condition() else None, timeout=HANG, interval=0.01)


# -- what a test suite sees ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_post_makes_only_the_queries_of_its_view(
    threaded: OverrideRegistry, django_assert_num_queries: Any
) -> None:
    client = Client()
    # The first request of the process: it waits for the refresher's first load (on the
    # refresher's own connection) and runs no query itself.
    with django_assert_num_queries(0):
        assert post(client, 800) == 200
    assert threaded.loads == 1
    # A change saved in the test's transaction: seen at once, no query on the request.
    PolicyOverride.objects.create(route="lab-small", max_size=500)
    with django_assert_num_queries(0):
        assert post(client, 800) == 413
        assert post(client, 400) == 200
    UploadSettings(max_size=10).save()  # the site-wide row, for views without a decorator
    with django_assert_num_queries(0):
        assert post(client, 20, "/lab/echo") == 413


class NumQueriesInATestCase(TestCase):
    """The same in a plain ``django.test.TestCase`` (its transaction is never committed)."""

    def setUp(self) -> None:
        fresh, before = OverrideRegistry(), overrides.registry
        overrides.registry = fresh
        self.addCleanup(setattr, overrides, "registry", before)
        self.addCleanup(fresh.stop)

    def test_an_override_created_in_the_test_applies_without_a_query(self) -> None:
        client = Client()
        with self.assertNumQueries(0):
            self.assertEqual(post(client, 800), 200)
        PolicyOverride.objects.create(route="lab-small", max_size=500)
        with self.assertNumQueries(0):
            self.assertEqual(post(client, 800), 413)


@pytest.mark.django_db
def test_a_change_rolled_back_is_undone() -> None:
    client = Client()
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint
                PolicyOverride.objects.create(route="lab-small", max_size=500)
                assert post(client, 800) == 413
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        assert post(client, 800) == 200  # the override went with the savepoint
        row = PolicyOverride.objects.create(route="lab-small", max_size=500)
        assert post(client, 800) == 413
        row.max_size = 5000
        row.route = "tests.testapp.views.lab_small"  # renamed: the same row, by pk
        row.save()
        assert post(client, 800) == 200
        row.max_size = 5
        row.save()
        assert post(client, 800) == 413
        row.delete()
        assert post(client, 800) == 200


# -- the refresher thread -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_refresher_brings_another_processs_change_and_drops_committed_local_ones(
    threaded: OverrideRegistry,
) -> None:
    client = Client()
    assert post(client, 800) == 200  # starts the refresher; first load done
    assert threaded._thread is not None and threaded._thread.is_alive()

    PolicyOverride.objects.create(route="lab-small", max_size=500)  # committed at once
    assert post(client, 800) == 413  # this process: at once
    # Woken by the commit, the refresher reloads; the local change is then in the rows.
    until(lambda: threaded.loads >= 2 and not threaded._local)
    assert post(client, 800) == 413

    # Another process's change: rows written without a signal, then the counter bumped.
    PolicyOverride.objects.filter(route="lab-small").update(max_size=5000)
    ChangeCounter.objects.filter(pk=1).update(value=F("value") + 1)
    threaded.wake()  # instead of waiting EXPECT_OVERRIDES_REFRESH seconds
    until(lambda: post(client, 800) == 200)

    threaded.stop()
    assert not threaded._thread.is_alive()
    assert post(client, 800) == 200  # the copy stays in force


def test_requests_never_wait_for_a_refresh() -> None:
    """A refresh stuck in the database holds no request up (no query, no lock on the path)."""
    release = threading.Event()
    entered = threading.Event()
    calls = [0]

    def slow_loader() -> dict[str, Override]:
        calls[0] += 1
        if calls[0] > 1:
            entered.set()
            release.wait(HANG)
        return {"r": Override("r", max_size=1)}

    versions = iter(range(1, 1000))
    registry = OverrideRegistry(
        loader=slow_loader, site_loader=SiteDefaults, version_reader=lambda: next(versions)
    )
    try:
        assert registry.current()["r"].max_size == 1  # the first load, by the thread
        registry.wake()
        assert entered.wait(HANG)  # the second refresh is stuck in its loader
        for _ in range(1000):
            assert registry.current()["r"].max_size == 1
    finally:
        release.set()
        registry.stop()


# -- on the wire: workers forked from a --preload arbiter --------------------------------------


@pytest.mark.e2e
def test_preloaded_workers_get_another_processs_change(tmp_path: Path) -> None:
    env = project_env(tmp_path / "db.sqlite3", tmp_path / "media", TEST_EXPECT_REFRESH="0.5")
    prepare_database(env)
    server = Server(
        "gthread", True, tmp_path / "preload.log", env, ["--workers", "2", "--preload"]
    ).start()
    try:

        def status() -> int:
            with Exchange(server.address, timeout=30) as conn:
                conn.request_head(
                    "PUT", "/lab/small", {"Content-Length": "800", "Expect": "100-continue"}
                )
                return conn.read_response().status

        assert status() == 100
        script = "from django_expect.models import PolicyOverride as P; "
        manage(env, "shell", "-c", script + "P.objects.create(route='lab-small', max_size=500)")
        streak = [0]

        def agreed() -> bool | None:  # ten new connections in a row: both workers answered
            streak[0] = streak[0] + 1 if status() == 413 else 0
            return True if streak[0] >= 10 else None

        assert poll(agreed, timeout=HANG, interval=0.02), server.log()[-3000:]
    finally:
        server.stop()
