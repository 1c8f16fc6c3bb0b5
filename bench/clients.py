"""The clients: curl and botocore as users run them, and raw-socket clients for exact timings.

Every client is bounded by timeouts and reports ``(status, seconds)``; "seconds" runs from the
request head leaving the client to the final status (or, for the raw clients, the event named).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import zlib
from functools import cache
from pathlib import Path

_MiB = 1024 * 1024
_ZEROS = memoryview(bytes(_MiB))


# -- curl ------------------------------------------------------------------------------------------


def _curl(args: list[str], timeout: float) -> tuple[int, float]:
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "--max-time",
            str(int(timeout)),
            "-w",
            "%{http_code} %{time_pretransfer} %{time_total}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout + 10,
    ).stdout.split()
    status, pretransfer, total = int(out[0]), float(out[1]), float(out[2])
    return status, total - pretransfer


def curl_put(url: str, file: Path, timeout: float = 300) -> tuple[int, float]:
    """``curl -T file`` (curl 7.88 sends ``Expect: 100-continue`` with every PUT)."""
    return _curl(["-T", str(file), url], timeout)


def curl_form(url: str, file: Path, timeout: float = 300) -> tuple[int, float]:
    """``curl -F document=@file`` (multipart/form-data; curl adds Expect for large bodies)."""
    return _curl(
        ["-F", f"document=@{file};type=application/pdf", "-F", "title=bench", url], timeout
    )


# -- botocore (S3 PutObject, path-style: PUT /objects/<key>) ---------------------------------------


@cache
def _s3(endpoint: str):  # type: ignore[no-untyped-def]
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            retries={"mode": "standard", "max_attempts": 1},
            request_checksum_calculation="when_required",
            connect_timeout=5,
            read_timeout=300,
            tcp_keepalive=False,
        ),
    )
    marks: dict[str, float] = {}

    def before_send(**kwargs):  # type: ignore[no-untyped-def]
        marks["sent"] = time.perf_counter()

    client.meta.events.register("before-send.s3.PutObject", before_send)
    return client, marks


def botocore_put(
    endpoint: str, file: Path, bucket: str = "objects", key: str = "bench"
) -> tuple[int, float]:
    """S3 PutObject with a file body (botocore sends ``Expect: 100-continue``); one attempt."""
    from botocore.exceptions import BotoCoreError, ClientError

    client, marks = _s3(endpoint)
    marks.clear()
    with open(file, "rb") as body:
        try:
            reply = client.put_object(Bucket=bucket, Key=key, Body=body)
            status = reply["ResponseMetadata"]["HTTPStatusCode"]
        except ClientError as error:
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        except BotoCoreError:
            status = 0  # the connection failed before a status arrived
    return status, time.perf_counter() - marks.get("sent", time.perf_counter())


# -- raw sockets -----------------------------------------------------------------------------------


class _Conn:
    def __init__(self, address: tuple[str, int], timeout: float = 60) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def response(self) -> tuple[int, bytes]:
        """Read one response (interim or final); returns (status, body)."""
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed before a response")
            self.buffer += data
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status = int(head[9:12])
        if status < 200:
            return status, b""
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed inside a response body")
            self.buffer += data
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body


def _head(method: str, path: str, length: int | None, expect: bool = False) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
        lines.append("Content-Type: application/octet-stream")
    if expect:
        lines.append("Expect: 100-continue")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def zeros_adler32(size: int) -> int:
    """The adler32 of ``size`` zero bytes (what streaming_put sends)."""
    checksum, left = zlib.adler32(b""), size
    while left:
        n = min(left, _MiB)
        checksum = zlib.adler32(_ZEROS[:n], checksum)
        left -= n
    return checksum


def streaming_put(address: tuple[str, int], path: str, size: int) -> tuple[int, float, bytes]:
    """PUT ``size`` zero bytes with Expect: wait for the 100, stream the body, read the final
    response. Returns (status, seconds, response body) -- the caller checks what was received."""
    conn = _Conn(address, timeout=300)
    try:
        started = time.perf_counter()
        conn.sock.sendall(_head("PUT", path, size, expect=True))
        status, body = conn.response()
        if status != 100:
            return status, time.perf_counter() - started, body
        left = size
        while left:
            n = min(left, _MiB)
            conn.sock.sendall(_ZEROS[:n])
            left -= n
        status, body = conn.response()
        return status, time.perf_counter() - started, body
    finally:
        conn.close()


def keepalive_requests(
    address: tuple[str, int], method: str, path: str, count: int, body: bytes = b""
) -> tuple[float, int]:
    """``count`` requests on one keep-alive connection. Returns (wall seconds, responses that
    were not 200 with the expected body: "ok" for a GET, the body's length for a POST)."""
    request = _head(method, path, len(body) if method == "POST" else None) + body
    wanted = str(len(body)).encode() if method == "POST" else b"ok"
    conn = _Conn(address)
    wrong = 0
    try:
        started = time.perf_counter()
        for _ in range(count):
            conn.sock.sendall(request)
            status, answer = conn.response()
            wrong += status != 200 or answer != wanted
        return time.perf_counter() - started, wrong
    finally:
        conn.close()


#: The small requests of the ASGI rows: (method, path, content type, body, Expect, answer).
SMALL_KINDS: dict[str, tuple[str, str, str | None, bytes, bool, bytes]] = {
    "GET": ("GET", "/small", None, b"", False, b"ok"),
    "form": (
        "POST",
        "/small-form",
        "application/x-www-form-urlencoded",
        b"title=bench&text=" + b"x" * (1024 - 17),
        False,
        str(1024 - 17).encode(),
    ),
    "json-expect": (
        "POST",
        "/small-json",
        "application/json",
        b'{"text": "' + b"x" * (1024 - 12) + b'"}',
        True,
        str(1024 - 12).encode(),
    ),
}


def keepalive_kind(address: tuple[str, int], kind: str, count: int) -> tuple[float, int]:
    """``count`` requests of :data:`SMALL_KINDS` ``kind`` on one keep-alive connection; with
    ``Expect: 100-continue`` the body is sent after the 100 (or with no 100, when the final
    status comes first). Returns (wall seconds, responses that were not 200 with the expected
    body, or whose 100 did not come)."""
    method, path, content_type, body, expect, wanted = SMALL_KINDS[kind]
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if method == "POST":
        lines += [f"Content-Length: {len(body)}", f"Content-Type: {content_type}"]
    if expect:
        lines.append("Expect: 100-continue")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    conn = _Conn(address)
    wrong = 0
    try:
        started = time.perf_counter()
        for done in range(count):
            if expect:
                conn.sock.sendall(head)
                status, answer = conn.response()
                if status != 100:  # the connection is in no state for the next request
                    return time.perf_counter() - started, wrong + count - done
                conn.sock.sendall(body)
            else:
                conn.sock.sendall(head + body)
            status, answer = conn.response()
            wrong += status != 200 or answer != wanted
        return time.perf_counter() - started, wrong
    finally:
        conn.close()


# -- decision latency ------------------------------------------------------------------------------


async def _decide_once(address: tuple[str, int], path: str, length: int) -> tuple[int, float]:
    """Headers out -> first status line in (the 100 or the rejection), then finish the exchange."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = _head("PUT", path, length, expect=True)
        started = time.perf_counter()
        writer.write(head)
        line = await reader.readline()
        elapsed = time.perf_counter() - started
        status = int(line[9:12])
        while await reader.readline() not in (b"\r\n", b""):
            pass
        if status == 100 and length <= 65536:  # a small body: send it, read the final status
            writer.write(bytes(length))
            await reader.readuntil(b"\r\n\r\n")
        return status, elapsed  # a large invited body (stock) is not sent: just close
    finally:
        writer.close()


async def _decide_many(address, path, length, clients, per_client):  # type: ignore[no-untyped-def]
    async def client() -> list[tuple[int, float]]:
        return [await _decide_once(address, path, length) for _ in range(per_client)]

    results = await asyncio.wait_for(
        asyncio.gather(*(client() for _ in range(clients))), timeout=120
    )
    return [sample for samples in results for sample in samples]


def decision_latency(
    address: tuple[str, int], path: str, length: int, clients: int, per_client: int
) -> list[tuple[int, float]]:
    """``clients`` concurrent clients, each sending ``per_client`` requests one after another."""
    return asyncio.run(_decide_many(address, path, length, clients, per_client))
