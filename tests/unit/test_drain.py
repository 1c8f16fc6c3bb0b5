"""The drain after a rejection (django_expect.lingering ``linger``): it ends, and TLS skips it.

The docs promise that a connection whose body was left unread is half-closed, then drained only
within the drain budget (``EXPECT_DRAIN_SECONDS``; the budget's decisions are table-tested in
tests/unit/test_closing.py and on the wire in tests/wire/test_drain_wire.py), and that TLS
connections skip the drain. These tests drive ``linger`` on a real socket pair. The only time
bound here is the hang bound (pytest's timeout); nothing asserts that the machine is fast.
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
    """A socket that counts what the drain receives; everything else is the real socket's."""

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

    def __getattr__(self, name: str) -> object:  # setsockopt, fileno, ...: the real socket's
        return getattr(self.sock, name)


def drain(sock: CountingSocket | ssl.SSLSocket) -> None:
    """The drain under test (the one place to change if the drain policy changes)."""
    hooks.linger(sock)  # type: ignore[arg-type]


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def _send_until_stopped(
    sock: socket.socket, stop: threading.Event, piece: bytes, pause: float
) -> None:
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


def test_a_client_that_never_stops_sending_is_not_drained_forever(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Unknown length, a sender that never stops: the drain ends within its budget (a hang would
    fail on pytest's timeout), then the read side is shut and the client saw the half-close."""
    server, client = pair
    stop = threading.Event()
    sender = threading.Thread(
        target=_send_until_stopped, args=(client, stop, b"x" * 65536, 0.0), daemon=True
    )
    sender.start()
    counting = CountingSocket(server)
    try:
        hooks.linger(counting, None, seconds=1.0, max_connections=1)  # type: ignore[arg-type]
    finally:
        stop.set()
        sender.join(timeout=10)
    assert counting.received > 0  # it did drain while the budget lasted
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
