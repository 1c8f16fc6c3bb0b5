"""tus-js-client (npm, under Node) against gunicorn with the hooks, through the byte-counting
relay: the browser uploader's own library, run as a Node program (tests/browsers/tus_node.mjs).

* a file over the route's limit fails at creation with the 413 and its JSON reason, 0 body
  bytes sent;
* a file within it, sent in chunks by a Node process killed (by PID) in the middle of a chunk,
  is resumed by a new process from the library's URL storage (``findPreviousUploads``): what
  the server kept of the torn chunk is not sent again, and the file is byte-identical;
* an upload URL of another user's upload: the PATCH is refused (403).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.browsers import NODE_DIR, require_vendored
from harness.process import error_lines
from harness.relay import Relay
from harness.server import Server
from harness.tools import require
from tests.tus_helpers import create, file_on_disk, random_file, row, sha1, until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    require("node", "nodejs")
    require_vendored("tus-js-client")
    log = tmp_path_factory.mktemp("tus-node-logs") / "gthread-hook.log"
    server = Server("gthread", True, log, project_env_vars).start()
    yield server
    server.stop()
    assert not error_lines(server.log())  # no 500, no traceback, no worker timeout


def start(plan: dict[str, Any], folder: Path) -> subprocess.Popen[str]:
    plan_path = folder / f"plan-{os.urandom(4).hex()}.json"
    plan_path.write_text(json.dumps(plan))
    return subprocess.Popen(
        [require("node", "nodejs"), str(NODE_DIR / "tus_node.mjs"), str(plan_path)],
        cwd=NODE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 120) -> list[dict[str, Any]]:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert lines, stderr
    return lines


def test_over_the_limit_fails_at_creation_with_0_body_bytes(server: Server, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(9_000_000)  # /lab/tus/ allows 8 MB
    with Relay(server.address) as relay:
        result = finish(start({"endpoint": f"{relay.url}/lab/tus/", "file": str(big)}, tmp_path))
        relay.wait_quiet()
        assert relay.body_bytes() == 0
    assert result[-1]["status"] == 413
    error = json.loads(result[-1]["body"])["error"]
    assert error["code"] == "content_too_large" and error["limit"] == 8_000_000


def test_killed_mid_chunk_then_resumed_from_url_storage(
    server: Server, project_env_vars: dict[str, str], tmp_path: Path
) -> None:
    size, chunk = 6_000_000, 2_000_000
    data = random_file(tmp_path, size)
    store = tmp_path / "tus-urls.json"
    with Relay(server.address, rate=4_000_000) as slow:
        plan = {
            "endpoint": f"{slow.url}/lab/tus/",
            "file": str(data),
            "chunkSize": chunk,
            "store": str(store),
        }
        first = start(plan, tmp_path)
        try:
            assert first.stdout is not None
            created = json.loads(first.stdout.readline())
            upload_id = created["url"].rsplit("/", 1)[1]
            until(lambda: slow.from_client() > chunk + chunk // 2, "the second chunk to flow")
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGKILL)
                first.wait(timeout=30)
        state = until(
            lambda: (r := row(project_env_vars, upload_id)) is not None and r["lock"] == "" and r,
            "the torn PATCH to end on the server",
        )
        assert 0 < state["offset"] < size and state["completed"] is None
        result = finish(start(plan, tmp_path))
    assert result[0] == {"resuming": created["url"]}
    assert result[-1].get("success"), result
    offsets = [event["offset"] for event in result if "offset" in event]
    assert offsets[-1] == size
    assert sha1(file_on_disk(project_env_vars, upload_id)) == sha1(data)


def test_another_users_upload_url_is_refused(
    server: Server, project_env_vars: dict[str, str], tmp_path: Path
) -> None:
    """tus-js-client asks with HEAD first: refused (403), it starts an upload of its own (the
    library's behaviour for an upload URL it may not resume), and the owner's is untouched."""
    upload_id = create(server.address, "/lab/tus-login/", 1000, "Authorization: Token demo-token")
    data = random_file(tmp_path, 1000)
    foreign = f"{server.url}/lab/tus-login/{upload_id}"
    plan = {
        "endpoint": f"{server.url}/lab/tus-login/",
        "uploadUrl": foreign,
        "file": str(data),
        "headers": {"Authorization": "Token plain-token"},
    }
    result = finish(start(plan, tmp_path))
    assert result[-1].get("success"), result
    assert result[-1]["url"] != foreign
    owned = row(project_env_vars, upload_id)
    assert owned is not None and owned["offset"] == 0
    mine = row(project_env_vars, result[-1]["url"].rsplit("/", 1)[1])
    assert mine is not None and mine["offset"] == 1000 and mine["owner"] != owned["owner"]
    # Without an endpoint to fall back to, the refusal is the client's error.
    del plan["endpoint"]
    result = finish(start(plan, tmp_path))
    assert result[-1]["status"] == 403, result
    assert row(project_env_vars, upload_id)["offset"] == 0  # type: ignore[index]
