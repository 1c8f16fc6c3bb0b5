"""Uppy + tus in Chromium (Debian's, through Playwright) against gunicorn with the hooks, through
the byte-counting relay: the demo's /upload/tus page (templates/demo/tus.html, 10 MB for the
whole file).

* a 20 MB file is refused when the upload is created: the page shows the server's reason, no
  PATCH was sent and the browser put only page loads and the creation request on the wire;
* a 3 MB file goes up in 1 MB chunks and is byte-identical on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.browsers import NODE_MODULES, require_vendored, run_steps
from harness.process import error_lines
from harness.relay import Relay
from harness.server import Server
from tests.tus_helpers import sha1, until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    require_vendored("uppy")
    env = dict(project_env_vars, TEST_VENDOR_DIR=str(NODE_MODULES))
    log = tmp_path_factory.mktemp("tus-browser-logs") / "gthread-hook.log"
    server = Server("gthread", True, log, env).start()
    yield server
    server.stop()
    assert not error_lines(server.log())  # no 500, no traceback, no worker timeout


def pick(relay: Relay, path: Path) -> str:
    results = run_steps(
        "chromium",
        [
            {"goto": f"{relay.url}/upload/tus"},
            {"setFiles": ["#tus-file", str(path)]},
            {"waitFor": "#tus-status"},
            {"text": "#tus-status"},
        ],
    )
    return str(results[3])


def test_an_oversized_file_is_refused_at_creation_with_the_reason(
    server: Server, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(20_000_000)
    with Relay(server.address) as relay:
        text = pick(relay, big)
        relay.wait_quiet()
        prefixes = [bytes(c.client_prefix) for c in relay.connections]
        sent = relay.from_client()
    assert text == (
        "Not uploaded: the file is 20000000 bytes; the limit is 10000000 bytes (10 MB)."
    )
    assert any(b"POST /uploads/tus/ " in p for p in prefixes)  # the creation request
    assert not any(b"PATCH " in p for p in prefixes)
    assert sent < 100_000  # page, script, Uppy and one bodiless POST: no file byte


def test_an_accepted_file_goes_up_in_chunks(
    server: Server, project_env_vars: dict[str, str], tmp_path: Path
) -> None:
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(3_000_000))
    with Relay(server.address) as relay:
        text = pick(relay, small)
        prefixes = b"".join(bytes(c.client_prefix) for c in relay.connections)
    assert text == "Uploaded small.bin."
    assert prefixes.count(b"PATCH /uploads/tus/") >= 1
    import sqlite3

    def finished() -> str | None:
        with sqlite3.connect(project_env_vars["TEST_DB"], timeout=20) as db:
            found = db.execute(
                "SELECT file_name FROM django_expect_tusupload WHERE completed IS NOT NULL "
                "AND file_name LIKE '%small.bin' ORDER BY completed DESC"
            ).fetchone()
        return None if found is None else str(found[0])

    name = until(finished, "the finished upload")
    assert sha1(Path(project_env_vars["TEST_MEDIA_ROOT"]) / name) == sha1(small)
