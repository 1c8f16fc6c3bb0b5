"""Counts a process still holds when its ASGI server stops are written, not lost.

``django_expect.asgi``'s handler serves the ASGI lifespan protocol: at ``lifespan.shutdown`` it
sends ``server_stopping``, on which the statistics write their pending counts (uvicorn ends
with the SIGTERM it was sent, so ``atexit`` never runs there). With a flush interval far longer
than the test, the only write is the one at shutdown.
"""

from __future__ import annotations

import pytest

from harness.asgi_servers import EXPECT_APP, ASGIServer, require_server
from harness.process import prepare_database, project_env
from tests.operations.test_asgi_operations import counts_in_database, decision

pytestmark = pytest.mark.e2e

REFUSALS = 3


@pytest.mark.parametrize("kind", ["uvicorn-h11", "gunicorn-asgi", "granian"])
def test_pending_counts_are_written_when_the_server_stops(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    require_server(kind)
    base = tmp_path_factory.mktemp(f"shutdown-{kind}")
    env = project_env(base / "db.sqlite3", base / "media", TEST_EXPECT_FLUSH="3600")
    prepare_database(env)
    server = ASGIServer(kind, EXPECT_APP, base / "server.log", env).start()
    try:
        for _ in range(REFUSALS):
            assert decision(server, length=5000) == 413  # /lab/small takes 1000 bytes
        assert counts_in_database(env) == {}  # still pending in the server process
    finally:
        server.stop()
    # and the one refusal of the harness's warm-up (harness/asgi_servers.py)
    wanted = {"lab-small content_too_large 413": REFUSALS + 1}
    assert counts_in_database(env) == wanted, server.log()
