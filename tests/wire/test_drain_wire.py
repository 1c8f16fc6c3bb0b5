"""The close policy on the wire, with a raw-socket client that sends a rejected body anyway.

The client posts to /lab/small (limit 1000 bytes) without ``Expect``, through a relay limited to
20 Mbit/s and 20 ms each way, sending its body while reading the response:

* 2.5 MB (1 s at that rate) fits the default budget (10 s): a threaded or gevent worker drains it
  to the end, the client sends all of it, reads the 413 and then a clean close (no reset).
  Control: the sync worker (one connection at a time) has a 2 s budget, so 10 MB (4 s) is
  reset there.
* 300 MB cannot arrive in time: the connection is reset early (after far less than a budget's
  worth), and the client has already read its 413.
* Over ``EXPECT_DRAIN_MAX_CONNECTIONS`` (1 here), a second rejection closes at once while the first
  still drains.
"""

from __future__ import annotations

import fcntl
import socket
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.relay import Relay
from harness.server import Server
from tests.conftest import ServerPool

MB = 1_000_000
RATE = 2_500_000
DELAY = 0.020
DRAIN_SECONDS = 10.0  # the default EXPECT_DRAIN_SECONDS
CLOSED_EARLY_BOUND = int(DRAIN_SECONDS * RATE / 2)
_ZEROS = bytes(65536)


@dataclass
class Outcome:
    status: int | None = None
    sent: int = 0  # body bytes the client handed to its socket
    send_failed: bool = False
    ending: str = ""  # "eof" (clean close) or "reset", after the response


def post_anyway(address: tuple[str, int], length: int, timeout: float = 60.0) -> Outcome:
    """POST a ``length``-byte body without Expect, sending while reading the response."""
    outcome = Outcome()
    sock = socket.create_connection(address, timeout=timeout)
    head = (
        f"POST /lab/small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream"
        f"\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    sock.sendall(head)

    def send() -> None:
        try:
            while outcome.sent < length:
                chunk = _ZEROS[: min(len(_ZEROS), length - outcome.sent)]
                sock.sendall(chunk)
                outcome.sent += len(chunk)
        except OSError:
            outcome.send_failed = True

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            if not data:
                break
            received += data
        if received.startswith(b"HTTP/1.1 "):
            outcome.status = int(received[9:12])
        while True:
            if not sock.recv(65536):
                outcome.ending = "eof"
                break
    except ConnectionResetError:
        outcome.ending = "reset"
    finally:
        sender.join(timeout)
        # Like a browser, do not abandon the upload: close only once everything handed to the
        # kernel has left it (Linux TIOCOUTQ: bytes not yet acknowledged).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not outcome.send_failed and _unsent(sock) > 0:
            time.sleep(0.02)
        sock.close()
    return outcome


def _unsent(sock: socket.socket) -> int:
    try:
        packed = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return int.from_bytes(packed, "little", signed=True)


def settle(relay: Relay) -> None:
    """Wait (bounded) until the relay's connections have closed, so its counts are final."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(c.closed is None for c in relay.connections):
        time.sleep(0.05)


@pytest.fixture
def relay_to() -> Iterator[object]:
    relays: list[Relay] = []

    def make(server: Server) -> Relay:
        relays.append(Relay(server.address, delay=DELAY, rate=RATE))
        return relays[-1]

    yield make
    for relay in relays:
        relay.close()


@pytest.mark.parametrize("worker", ["gthread", "gevent"])
def test_a_body_that_can_arrive_in_time_is_drained_then_closed_cleanly(
    server_pool: ServerPool, relay_to: object, worker: str
) -> None:
    relay = relay_to(server_pool.get(worker))  # type: ignore[operator]
    outcome = post_anyway(relay.address, int(2.5 * MB))
    settle(relay)
    assert outcome.status == 413, outcome
    assert relay.body_bytes() == int(2.5 * MB) and not outcome.send_failed, outcome
    assert outcome.ending == "eof", outcome
    assert not relay.connections[0].server_reset, outcome


@pytest.mark.parametrize(("worker", "reset"), [("sync", True), ("gthread", False)])
def test_the_sync_worker_has_a_shorter_budget(
    server_pool: ServerPool, relay_to: object, worker: str, reset: bool
) -> None:
    """10 MB takes 4 s at this rate: more than the sync worker's 2 s, within gthread's 10 s."""
    relay = relay_to(server_pool.get(worker))  # type: ignore[operator]
    outcome = post_anyway(relay.address, 10 * MB)
    settle(relay)
    assert outcome.status == 413, outcome
    assert relay.connections[0].server_reset is reset, (outcome, relay.body_bytes())
    assert (relay.body_bytes() < 10 * MB) is reset, (outcome, relay.body_bytes())


@pytest.mark.parametrize("worker", ["sync", "gthread", "gevent"])
def test_a_body_that_cannot_arrive_in_time_is_reset_early_after_its_413(
    server_pool: ServerPool, relay_to: object, worker: str
) -> None:
    relay = relay_to(server_pool.get(worker))  # type: ignore[operator]
    outcome = post_anyway(relay.address, 300 * MB)
    settle(relay)
    assert outcome.status == 413, outcome
    assert outcome.send_failed and relay.connections[0].server_reset, outcome
    assert relay.body_bytes() < CLOSED_EARLY_BOUND, (outcome, relay.body_bytes())


@pytest.fixture(scope="module")
def capped(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    env = dict(project_env_vars, TEST_DRAIN_MAX_CONNECTIONS="1")
    log = tmp_path_factory.mktemp("capped") / "gthread.log"
    server = Server("gthread", True, log, env).start()
    yield server
    server.stop()


def test_over_the_cap_a_rejection_closes_at_once_while_another_drains(
    capped: Server, relay_to: object
) -> None:
    # One rejection first: a fresh process's first two concurrent rejections can race in the
    # statistics' lazy prometheus registration (a 500, unrelated to draining).
    assert post_anyway(capped.address, 2000).status == 413
    first_relay = relay_to(capped)  # type: ignore[operator]
    second_relay = relay_to(capped)  # type: ignore[operator]
    results: dict[str, Outcome] = {}
    # 5 MB takes 2 s at this rate: the first connection drains while the second is refused.
    first = threading.Thread(
        target=lambda: results.setdefault("first", post_anyway(first_relay.address, 5 * MB))
    )
    first.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and first_relay.from_client() < MB:
        time.sleep(0.02)  # (not an assertion) until the first one is well into its drain
    results["second"] = post_anyway(second_relay.address, 5 * MB)
    first.join(60)
    assert results["first"].status == results["second"].status == 413, results
    settle(first_relay)
    settle(second_relay)
    drained, refused = first_relay.connections[0], second_relay.connections[0]
    assert drained.body_bytes == 5 * MB and not drained.server_reset, results
    assert refused.server_reset and refused.body_bytes < 5 * MB, results
