"""The tus endpoint on the wire: tuspy (PyPI) and raw sockets against gunicorn with the hooks,
through the byte-counting relay.

* a file over the route's policy is refused at creation: 413, and 0 body bytes crossed the wire;
* a file within it, sent in several checksummed chunks by a tuspy process killed (by PID) in the
  middle of a chunk, is resumed by a new tuspy process and is byte-identical (sha1) on disk;
* a PATCH from another user is refused from its head (403, no 100, 0 body bytes);
* two PATCHes to one upload at once: the second is refused (423) while the first holds the
  upload; the file holds only the first's bytes;
* a worker killed (SIGKILL) in the middle of a PATCH leaves the committed offset, and the
  upload resumes on the next worker;
* ``Expect: 100-continue`` on PATCH: the 100 goes out only after the tus checks passed.

Nothing waits on a clock: each step polls a state (the relay's byte count, the upload's row in
the server's SQLite file) in a bounded loop.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.process import ROOT, error_lines
from harness.relay import Relay
from harness.server import Server
from tests.tus_helpers import (
    create,
    exchange,
    file_on_disk,
    patch_head,
    random_file,
    read_response,
    row,
    sha1,
    until,
)

pytestmark = pytest.mark.e2e

CLIENT = ROOT / "tests" / "clients" / "tuspy_upload.py"
TOKEN = {"Authorization": "Token demo-token"}  # user "demo" (demo_setup)
OTHER_TOKEN = "Token plain-token"  # user "plain"


@pytest.fixture(scope="module")
def server(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("tus-logs") / "gthread-hook.log"
    server = Server("gthread", True, log, project_env_vars).start()
    yield server
    server.stop()
    assert not error_lines(server.log())  # no 500, no traceback, no worker timeout


@pytest.fixture
def relay(server: Server) -> Iterator[Relay]:
    with Relay(server.address) as relay:
        yield relay


def run_tuspy(
    endpoint: str, path: Path, chunk: int, store: Path, *headers: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CLIENT), endpoint, str(path), str(chunk), str(store), *headers],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def events(process: subprocess.Popen[str], timeout: float = 120) -> list[dict[str, Any]]:
    stdout, stderr = process.communicate(timeout=timeout)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert lines, stderr
    return lines


# -- refusal at creation -----------------------------------------------------------------------


def test_tuspy_over_the_policy_is_refused_at_creation_with_0_body_bytes(
    relay: Relay, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(9_000_000)  # the route allows 8 MB
    process = run_tuspy(f"{relay.url}/lab/tus/", big, 1_000_000, tmp_path / "urls.json")
    result = events(process)
    assert process.returncode == 1
    assert result[-1]["status"] == 413
    relay.wait_quiet()
    assert relay.body_bytes() == 0
    assert all(b"PATCH " not in bytes(c.client_prefix) for c in relay.connections)


# -- resumption after the client is killed mid-chunk ---------------------------------------------


def test_tuspy_killed_mid_chunk_resumes_byte_identical(
    server: Server, project_env_vars: dict[str, str], tmp_path: Path
) -> None:
    size, chunk = 6_000_000, 2_000_000
    data = random_file(tmp_path, size)
    store = tmp_path / "urls.json"
    # 4 MB/s: the 6 MB take about 1.5 s, so the kill can land inside the second chunk.
    with Relay(server.address, rate=4_000_000) as slow:
        first = run_tuspy(f"{slow.url}/lab/tus/", data, chunk, store)
        try:
            assert first.stdout is not None
            created = json.loads(first.stdout.readline())
            upload_id = created["url"].rsplit("/", 1)[1]
            until(lambda: slow.from_client() > chunk + chunk // 2, "the second chunk to flow")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(timeout=30)
        # The server noticed the client went away and released the upload.
        state = until(
            lambda: (r := row(project_env_vars, upload_id)) is not None and r["lock"] == "" and r,
            "the interrupted PATCH to end on the server",
        )
        assert state["offset"] < size  # interrupted: not complete
        assert state["completed"] is None
        # A new process finds the URL in tuspy's store and asks the server where to go on.
        second = run_tuspy(f"{slow.url}/lab/tus/", data, chunk, store)
        result = events(second)
    assert result[-1].get("done"), result
    assert result[0]["url"] == created["url"]  # the same upload, resumed (tuspy's HEAD)
    assert result[0]["offset"] == state["offset"]
    assert sha1(file_on_disk(project_env_vars, upload_id)) == sha1(data)


# -- ownership ---------------------------------------------------------------------------------


def test_a_patch_from_another_user_is_refused_from_its_head(
    relay: Relay, project_env_vars: dict[str, str]
) -> None:
    upload_id = create(relay.address, "/lab/tus-login/", 1000, "Authorization: Token demo-token")
    relay.reset()
    answer = exchange(
        relay.address,
        patch_head(
            f"/lab/tus-login/{upload_id}",
            0,
            1000,
            f"Authorization: {OTHER_TOKEN}",
            "Expect: 100-continue",
        ),
    )
    assert answer.startswith(b"HTTP/1.1 403"), answer
    assert b"100 Continue" not in answer
    assert b"another user" in answer
    relay.wait_quiet()
    assert relay.body_bytes() == 0
    state = row(project_env_vars, upload_id)
    assert state is not None and state["offset"] == 0
    # The owner's own PATCH, with Expect: the 100 comes, then 204.
    with socket.create_connection(relay.address, timeout=30) as sock:
        sock.sendall(
            patch_head(
                f"/lab/tus-login/{upload_id}",
                0,
                1000,
                "Authorization: Token demo-token",
                "Expect: 100-continue",
            ).encode()
        )
        assert read_response(sock).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"x" * 1000)
        assert read_response(sock).startswith(b"HTTP/1.1 204")


# -- concurrency -------------------------------------------------------------------------------


def test_concurrent_patches_to_one_upload_are_never_interleaved(
    server: Server, project_env_vars: dict[str, str]
) -> None:
    size = 2_000_000
    upload_id = create(server.address, "/lab/tus/", size)
    path = f"/lab/tus/{upload_id}"
    first_body = b"a" * size
    with socket.create_connection(server.address, timeout=30) as first:
        first.sendall(patch_head(path, 0, size).encode() + first_body[:500_000])
        until(
            lambda: (r := row(project_env_vars, upload_id)) is not None and r["lock"] != "",
            "the first PATCH to hold the upload",
        )
        answer = exchange(server.address, patch_head(path, 0, size, "Expect: 100-continue"), b"")
        assert answer.startswith(b"HTTP/1.1 423"), answer
        assert b"100 Continue" not in answer
        first.sendall(first_body[500_000:])
        assert read_response(first).startswith(b"HTTP/1.1 204")
    assert file_on_disk(project_env_vars, upload_id).read_bytes() == first_body
    # A late PATCH at the old offset: 409, with the offset to resume from.
    answer = exchange(server.address, patch_head(path, 0, 10, "Expect: 100-continue"))
    assert answer.startswith(b"HTTP/1.1 409") and f"Upload-Offset: {size}".encode() in answer


# -- a worker killed mid-PATCH -----------------------------------------------------------------


def test_a_worker_killed_mid_patch_leaves_a_resumable_offset(
    project_env_vars: dict[str, str], tmp_path: Path
) -> None:
    server = Server("sync", True, tmp_path / "sync.log", project_env_vars).start()
    try:
        size = 3_000_000
        data = random_file(tmp_path, size)
        store = tmp_path / "urls.json"
        upload_id = create(server.address, "/lab/tus/", size)
        path = f"/lab/tus/{upload_id}"
        content = data.read_bytes()
        # A first chunk, committed.
        answer = exchange(server.address, patch_head(path, 0, 1_000_000), content[:1_000_000])
        assert answer.startswith(b"HTTP/1.1 204"), answer
        # A second one, cut off by the worker's death half-way.
        worker = server.worker_pids()
        with socket.create_connection(server.address, timeout=30) as sock:
            sock.sendall(
                patch_head(path, 1_000_000, 2_000_000).encode() + content[1_000_000:1_500_000]
            )
            until(
                lambda: (r := row(project_env_vars, upload_id)) is not None and r["lock"] != "",
                "the PATCH to hold the upload",
            )
            for pid in worker:
                os.kill(pid, signal.SIGKILL)
            assert read_response(sock) == b""  # the connection died with the worker
        until(lambda: (pids := server.worker_pids()) and pids != worker, "a new worker")
        state = row(project_env_vars, upload_id)
        assert state is not None
        assert state["offset"] == 1_000_000  # what was committed, nothing from the torn PATCH
        assert len(json.loads(state["parts"])) == 1
        # tuspy resumes it (HEAD on the URL it is given), on the new worker.
        from tusclient.fingerprint.fingerprint import Fingerprint
        from tusclient.storage.filestorage import FileStorage

        with open(data, "rb") as handle:
            key = Fingerprint().get_fingerprint(handle)
        FileStorage(str(store)).set_item(key, f"{server.url}{path}")
        result = events(run_tuspy(f"{server.url}/lab/tus/", data, 1_000_000, store))
        assert result[0]["offset"] == 1_000_000 and result[-1].get("done"), result
        assert sha1(file_on_disk(project_env_vars, upload_id)) == sha1(data)
    finally:
        server.stop()
