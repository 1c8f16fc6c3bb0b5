"""A raw-socket HTTP/1.1 client that shows exactly what crossed the wire.

``Exchange`` reads responses one at a time, keeps interim (1xx) responses apart from final ones,
and can tell whether the server closed the connection. Everything is bounded by timeouts.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


class ConnectionClosed(Exception):
    pass


@dataclass
class Exchange:
    """One client connection to a server under test."""

    address: tuple[str, int]
    timeout: float = 10.0
    sock: socket.socket = field(init=False)
    buffer: bytes = b""
    sent_body_bytes: int = 0

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(self.address, timeout=self.timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_body(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.sent_body_bytes += len(data)

    def request_head(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        version: str = "HTTP/1.1",
    ) -> None:
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if not any(k.lower() == "host" for k, _ in items):
            items.insert(0, ("Host", "127.0.0.1"))
        lines = [f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in items]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from the server in time")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def read_response(self, timeout: float | None = None, head_request: bool = False) -> Response:
        """The next response (interim or final). Raises ConnectionClosed at EOF before one."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill(deadline):
                raise ConnectionClosed(self.buffer)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        _version, status, *reason = status_line.split(" ", 2)
        headers = [tuple(line.split(":", 1)) for line in header_lines]
        response = Response(
            int(status), reason[0] if reason else "", [(k.strip(), v.strip()) for k, v in headers]
        )
        if response.status < 200 or response.status in (204, 304) or head_request:
            return response
        length = response.header("Content-Length")
        if length is not None:
            while len(self.buffer) < int(length):
                if not self._fill(deadline):
                    raise ConnectionClosed(self.buffer)
            response.body, self.buffer = self.buffer[: int(length)], self.buffer[int(length) :]
        elif (response.header("Transfer-Encoding") or "").lower() == "chunked":
            response.body = self._read_chunked(deadline)
        else:
            while self._fill(deadline):
                pass
            response.body, self.buffer = self.buffer, b""
        return response

    def _read_chunked(self, deadline: float) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.buffer:
                if not self._fill(deadline):
                    raise ConnectionClosed(self.buffer)
            size_line, self.buffer = self.buffer.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(self.buffer) < size + 2:
                if not self._fill(deadline):
                    raise ConnectionClosed(self.buffer)
            if size == 0:
                self.buffer = self.buffer[2:]
                return body
            body += self.buffer[:size]
            self.buffer = self.buffer[size + 2 :]

    def read_final(self, timeout: float | None = None) -> tuple[list[Response], Response]:
        """Interim responses, then the final one."""
        interim = []
        while True:
            response = self.read_response(timeout)
            if response.status >= 200:
                return interim, response
            interim.append(response)

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True if the server closes the connection (EOF or reset) within ``timeout``.

        Any bytes that arrive meanwhile are kept in ``buffer`` (a test can assert there are none).
        """
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


def chunked(data: bytes, size: int = 8192) -> bytes:
    out = b"".join(
        f"{len(data[i : i + size]):x}\r\n".encode() + data[i : i + size] + b"\r\n"
        for i in range(0, len(data), size)
    )
    return out + b"0\r\n\r\n"
