"""A TCP relay between a client and a server that counts the bytes each side put on the wire.

Used by the client tests ("a rejected upload costs 0 body bytes": counted here, not by the client)
and by the benchmarks, which also use its WAN emulation: a one-way delay and a rate limit per
direction (the kernel's netem is not available on these machines).

Invariants: it listens on 127.0.0.1 only; every thread it starts is a daemon bounded by socket
timeouts and stopped by ``close()``; buffering per direction is bounded (``max_queue`` chunks, and
with a rate limit ``buffer_seconds`` of the rate in bytes, like a router's queue), so TCP
back-pressure still reaches the sender when the rate limit holds data back and the bytes counted
"from the client" are those that crossed the bottleneck plus that queue.

A reset is relayed as a reset, in order: when the server resets its side, the client receives
everything the server sent first, then a reset (an abortive close), as it would on a real path.
Browsers depend on that order (Chromium shows a response that arrived before the reset).
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

__all__ = ["ConnectionStats", "Relay"]

_CHUNK = 64 * 1024
_HEAD_END = b"\r\n\r\n"
_RESET = object()  # queued after the data when the source reset the connection
_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset


@dataclass
class ConnectionStats:
    """Bytes of one client connection, as they crossed the relay."""

    from_client: int = 0  # bytes the client put on the wire
    to_client: int = 0  # bytes the server sent back
    client_prefix: bytearray = field(default_factory=bytearray)  # first 64 KiB from the client
    opened: float = field(default_factory=time.monotonic)
    closed: float | None = None
    server_reset: bool = False  # the server reset the connection (vs. a clean close)

    @property
    def head_bytes(self) -> int:
        """Length of the first request head (through the blank line), or all bytes if unfinished."""
        end = self.client_prefix.find(_HEAD_END)
        return self.from_client if end < 0 else end + len(_HEAD_END)

    @property
    def body_bytes(self) -> int:
        """Bytes the client sent after its first request head: the upload that crossed the wire."""
        return self.from_client - self.head_bytes


class Relay:
    """``with Relay(("127.0.0.1", port)) as relay:`` then point the client at ``relay.address``."""

    def __init__(
        self,
        target: tuple[str, int],
        *,
        delay: float = 0.0,
        rate: float | None = None,
        max_queue: int = 64,
        buffer_seconds: float = 0.1,
    ) -> None:
        self.target = target
        self.delay = delay  # one-way seconds, each direction (RTT = 2 * delay)
        self.rate = rate  # bytes per second, each direction; None = unlimited
        self.max_queue = max_queue
        #: With a rate: bytes waiting for the bottleneck, at most this many seconds of the rate.
        self.max_queued_bytes = max(_CHUNK, int(rate * buffer_seconds)) if rate else None
        self.connections: list[ConnectionStats] = []
        self._lock = threading.Lock()
        self._last_activity = time.monotonic()  # the last accept or receive, either direction
        self._listener = socket.create_server(("127.0.0.1", 0))
        if rate:
            # A small receive window toward the client (inherited by accepted sockets): the
            # client's bytes wait in its own send buffer, not in a loopback-sized one here.
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _CHUNK)
        self._listener.settimeout(0.2)
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepter.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return (host, port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.address[1]}"

    # -- totals --------------------------------------------------------------------------------

    def body_bytes(self) -> int:
        """Upload bytes over all connections (each connection's bytes after its first head)."""
        with self._lock:
            return sum(c.body_bytes for c in self.connections)

    def from_client(self) -> int:
        with self._lock:
            return sum(c.from_client for c in self.connections)

    def wait_quiet(self, quiet: float = 0.5, timeout: float = 30.0) -> None:
        """Return once no connection was accepted and no byte received, either way, for ``quiet``
        seconds: counts read after this include everything the client sent after its answer.

        ``timeout`` only bounds a client that never stops sending (TimeoutError).
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                idle = time.monotonic() - self._last_activity
            if idle >= quiet:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the relay was never quiet for {quiet} s within {timeout} s")
            time.sleep(quiet - idle)

    def _touch(self) -> None:
        with self._lock:
            self._last_activity = time.monotonic()

    def reset(self) -> None:
        with self._lock:
            self.connections.clear()

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.close()
                except OSError:
                    pass
        self._accepter.join(timeout=2)

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stats = ConnectionStats()
            self._touch()
            with self._lock:
                self.connections.append(stats)
                self._sockets += [client, server]
            up_done, down_done = threading.Event(), threading.Event()
            reset = _ResetOrder(client)
            self._pipe(client, server, stats, upstream=True, done=up_done, reset=reset)
            self._pipe(server, client, stats, upstream=False, done=down_done, reset=reset)
            threading.Thread(
                target=self._reap, args=(client, server, stats, up_done, down_done), daemon=True
            ).start()

    def _reap(
        self,
        client: socket.socket,
        server: socket.socket,
        stats: ConnectionStats,
        up_done: threading.Event,
        down_done: threading.Event,
    ) -> None:
        while not (up_done.wait(0.2) and down_done.wait(0.2)):
            if self._closing.is_set():
                break
        stats.closed = time.monotonic()
        for sock in (client, server):
            try:
                sock.close()
            except OSError:
                pass

    # -- one direction -------------------------------------------------------------------------

    def _pipe(
        self,
        source: socket.socket,
        sink: socket.socket,
        stats: ConnectionStats,
        *,
        upstream: bool,
        done: threading.Event,
        reset: _ResetOrder,
    ) -> None:
        chunks: queue.Queue[tuple[float, bytes | object]] = queue.Queue(maxsize=self.max_queue)
        stopped = threading.Event()
        queued = [0]  # bytes in ``chunks`` (bounded by max_queued_bytes with a rate)
        room = threading.Condition()

        def put(item: tuple[float, bytes | object]) -> bool:
            while not stopped.is_set() and not self._closing.is_set():
                try:
                    chunks.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def wait_for_room() -> bool:
            limit = self.max_queued_bytes
            with room:
                while limit is not None and queued[0] >= limit:
                    if stopped.is_set() or self._closing.is_set():
                        return False
                    room.wait(0.2)
            return True

        def read() -> None:
            while True:
                if not wait_for_room():
                    return
                item: bytes | object
                try:
                    data = item = source.recv(_CHUNK)
                except ConnectionResetError:
                    data, item = b"", _RESET
                    if not upstream:
                        stats.server_reset = True
                except OSError:
                    data = item = b""
                self._touch()
                if upstream:
                    stats.from_client += len(data)
                    if len(stats.client_prefix) < _CHUNK:
                        stats.client_prefix += data[: _CHUNK - len(stats.client_prefix)]
                with room:
                    queued[0] += len(data)
                if not put((time.monotonic() + self.delay, item)) or not data:
                    return

        def write() -> None:
            free_at = 0.0
            try:
                while True:
                    deliver_at, item = chunks.get()
                    now = time.monotonic()
                    if deliver_at > now:
                        time.sleep(deliver_at - now)
                    if item is _RESET:
                        abort(sink)
                        return
                    assert isinstance(item, bytes)
                    data = item
                    with room:
                        queued[0] -= len(data)
                        room.notify_all()
                    if not data:
                        try:
                            sink.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        if not upstream:
                            reset.delivered()
                        return
                    if self.rate:
                        free_at = max(free_at, time.monotonic()) + len(data) / self.rate
                        pause = free_at - time.monotonic()
                        if pause > 0:
                            time.sleep(pause)
                    try:
                        sink.sendall(data)
                    except OSError:
                        # The server is gone (it reset us): stop reading from the client, and
                        # reset the client once everything the server sent is delivered.
                        try:
                            source.shutdown(socket.SHUT_RD)
                        except OSError:
                            pass
                        if upstream:
                            stats.server_reset = True
                            reset.after_delivery()
                        return
                    if not upstream:
                        stats.to_client += len(data)
            finally:
                stopped.set()
                done.set()

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=write, daemon=True).start()


def abort(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
        sock.close()
    except OSError:
        pass


class _ResetOrder:
    """The server reset the connection while the client was sending: reset the client too, but
    only after everything the server sent before has been delivered to it (TCP's order)."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.pending = False
        self.down_finished = False

    def after_delivery(self) -> None:
        with self.lock:
            if not self.down_finished:
                self.pending = True
                return
        abort(self.client)

    def delivered(self) -> None:
        with self.lock:
            self.down_finished = True
            if not self.pending:
                return
        abort(self.client)
