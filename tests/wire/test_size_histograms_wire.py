"""Size histograms on the wire (issue 22): the declared sizes a 2-worker gunicorn (sync, the
hooks) decides land in the database (``SizeHistogram``, what the admin page shows), written by
the server's processes with their rejection counts: every upload, and the refused ones by
reason."""

from __future__ import annotations

import json

import pytest

from harness.process import manage, prepare_database, project_env
from harness.raw import Exchange
from harness.server import Server
from harness.tools import poll
from tests.fakes import upload_head

pytestmark = pytest.mark.e2e

HANG = 60.0  # a poll gives up only after this long: it detects a hang, it measures nothing

READ_ROWS = (
    "import json; from django_expect.models import SizeHistogram as H; "
    "print(json.dumps({r.reason or 'all': [r.count, r.total_bytes] + [n for _, n in r.buckets()] "
    "for r in H.objects.filter(route='lab-small')}))"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("size-histograms")
    env = project_env(base / "db.sqlite3", base / "media", TEST_EXPECT_FLUSH="0.3")
    prepare_database(env)
    return env


def _rows(env: dict[str, str]) -> dict[str, list[int]]:
    return dict(json.loads(manage(env, "shell", "-c", READ_ROWS).strip().splitlines()[-1]))


def _status(server: Server, size: int) -> int:
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(size))
        first = conn.read_response()
        if first.status != 100:
            return first.status
        conn.send_body(b"z" * size)
        _more, final = conn.read_final()
        return final.status


def test_declared_sizes_from_the_server_land_in_the_database(
    gunicorn: Server, env: dict[str, str]
) -> None:
    sizes = [10, 500, 1000, 3000, 5000, 70_000]
    statuses = [_status(gunicorn, size) for size in sizes]
    assert statuses == [200, 200, 200, 413, 413, 413]
    # buckets: up to 1 KiB, 4 KiB, 16 KiB, 64 KiB, 256 KiB, ... (core.SIZE_BUCKETS)
    wanted = {
        "all": [len(sizes), sum(sizes), 3, 1, 1, 0, 1, *([0] * 8)],
        "content_too_large": [3, 78_000, 0, 1, 1, 0, 1, *([0] * 8)],
    }
    assert poll(lambda: True if _rows(env) == wanted else None, timeout=HANG, interval=0.5), (
        _rows(env),
        wanted,
    )
