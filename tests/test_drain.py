"""The lingering drain after a rejection (django_expect.gunicorn ``linger``): its bounds and TLS.

The README promises that a connection whose body was left unread is half-closed, then drained for
at most ``LINGER_SECONDS`` (2 s) or ``LINGER_MAX_BYTES`` (64 MiB), whichever comes first, and that
TLS connections skip the drain. These tests drive ``linger`` on a real socket pair through those
public constants only, so a replacement drain policy adapts them in one place: ``drain`` below.
Time figures here are lower bounds the drain must honour (load only makes them longer) and hang
bounds (pytest's timeout); nothing asserts that the machine is fast.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest

from django_expect import gunicorn as hooks


class CountingSocket:
    """A socket that counts what the drain receives (the drain only needs these methods)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = 0

    def recv(self, size: int) -> bytes:
        data = self.sock.recv(size)
        self.received += len(data)
        return data

    def settimeout(self, value: float | None) -> None:
        self.sock.settimeout(value)

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)


def drain(sock: CountingSocket | ssl.SSLSocket) -> None:
    """The drain under test (the one place to change if the drain policy changes)."""
    hooks.linger(sock)  # type: ignore[arg-type]


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def _send_until_stopped(sock: socket.socket, stop: threading.Event, piece: bytes,
                        pause: float) -> None:
    sock.settimeout(1.0)
    while not stop.is_set():
        try:
            sock.sendall(piece)
        except TimeoutError:
            continue
        except OSError:
            return
        if pause:
            time.sleep(pause)


def test_the_documented_bounds() -> None:
    assert hooks.LINGER_SECONDS == 2.0
    assert hooks.LINGER_MAX_BYTES == 64 * 1024 * 1024


def test_the_drain_stops_at_the_byte_bound(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that never stops sending is drained of at most LINGER_MAX_BYTES (+ one read)."""
    monkeypatch.setattr(hooks, "LINGER_SECONDS", 120.0)  # a hang bound: the bytes bound decides
    server, client = pair
    stop = threading.Event()
    sender = threading.Thread(target=_send_until_stopped,
                              args=(client, stop, b"x" * 65536, 0.0), daemon=True)
    sender.start()
    counting = CountingSocket(server)
    try:
        drain(counting)
    finally:
        stop.set()
        sender.join(timeout=10)
    assert hooks.LINGER_MAX_BYTES <= counting.received < hooks.LINGER_MAX_BYTES + 65536


def test_the_drain_stops_at_the_time_bound(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A client that trickles forever is drained for LINGER_SECONDS, then the read side shuts."""
    server, client = pair
    stop = threading.Event()
    sender = threading.Thread(target=_send_until_stopped,
                              args=(client, stop, b"y" * 100, 0.05), daemon=True)
    sender.start()
    counting = CountingSocket(server)
    began = time.monotonic()
    try:
        drain(counting)  # returns: the trickle alone never reaches the byte bound
    finally:
        stop.set()
        sender.join(timeout=10)
    assert time.monotonic() - began >= hooks.LINGER_SECONDS  # never shorter than promised
    assert 0 < counting.received < hooks.LINGER_MAX_BYTES
    client.settimeout(10)
    assert client.recv(1) == b""  # the server's side was half-closed (FIN) before the drain


def test_tls_connections_skip_the_drain(pair: tuple[socket.socket, socket.socket]) -> None:
    """gunicorn closes TLS connections itself (close_notify needs the whole socket)."""
    server, client = pair
    client.sendall(b"z" * 1000)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls = context.wrap_socket(server, server_side=True, do_handshake_on_connect=False)
    try:
        drain(tls)
        client.setblocking(False)
        with pytest.raises(BlockingIOError):  # no FIN: the socket was not half-closed
            client.recv(1)
        raw = socket.socket(fileno=tls.fileno())  # what the client sent is still unread
        try:
            raw.setblocking(False)
            assert raw.recv(2000) == b"z" * 1000
        finally:
            raw.detach()
    finally:
        tls.close()
