"""Helpers shared by the tus wire tests (tests/wire/test_tus_wire.py, test_tus_node.py,
test_browser_tus.py): bounded polling, the upload's row in the server's SQLite file, raw
requests on a socket."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def until(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``condition`` until it is truthy (bounded); its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def row(env: dict[str, str], upload_id: str) -> dict[str, Any] | None:
    """The upload's row in the server's database, read as another host would."""
    with sqlite3.connect(env["TEST_DB"], timeout=20) as db:
        db.row_factory = sqlite3.Row
        found = db.execute(
            "SELECT * FROM django_expect_tusupload WHERE id = ?", (upload_id,)
        ).fetchone()
        return dict(found) if found is not None else None


def file_on_disk(env: dict[str, str], upload_id: str) -> Path:
    state = row(env, upload_id)
    assert state is not None and state["completed"] is not None, state
    return Path(env["TEST_MEDIA_ROOT"]) / state["file_name"]


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def random_file(folder: Path, size: int, name: str = "wire.bin") -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


def exchange(address: tuple[str, int], head: str, body: bytes = b"") -> bytes:
    """Send a request head (and ``body`` straight after it); the server's whole answer."""
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(head.encode() + body)
        return read_response(sock)


def read_response(sock: socket.socket) -> bytes:
    received = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return received
        received += data
        end = received.find(b"\r\n\r\n")
        if end >= 0 and not received.startswith(b"HTTP/1.1 100"):
            head = received[:end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(received) >= end + 4 + length:
                return received
        if received.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
            return received


def create(address: tuple[str, int], path: str, length: int, *extra: str) -> str:
    head = "\r\n".join(
        [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            "Tus-Resumable: 1.0.0",
            f"Upload-Length: {length}",
            # filetype application/octet-stream
            "Upload-Metadata: filetype YXBwbGljYXRpb24vb2N0ZXQtc3RyZWFt",
            "Content-Length: 0",
            *extra,
            "Connection: close",
            "",
            "",
        ]
    )
    answer = exchange(address, head).decode("latin-1")
    assert answer.startswith("HTTP/1.1 201"), answer
    location = next(line for line in answer.split("\r\n") if line.lower().startswith("location:"))
    return location.split(":", 1)[1].strip().rsplit("/", 1)[1]


def patch_head(path: str, offset: int, length: int, *extra: str) -> str:
    return "\r\n".join(
        [
            f"PATCH {path} HTTP/1.1",
            "Host: 127.0.0.1",
            "Tus-Resumable: 1.0.0",
            "Content-Type: application/offset+octet-stream",
            f"Upload-Offset: {offset}",
            f"Content-Length: {length}",
            *extra,
            "",
            "",
        ]
    )
