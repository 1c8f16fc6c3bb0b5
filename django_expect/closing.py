"""The close policy after a rejection whose body was left unread
(docs/howto/browsers-sent-anyway.md).

Server-neutral: it owns the *decision* (drain the rest of the body, or close now) and the
per-process cap on connections draining at once; the server adapters own the socket
(``django_expect.lingering.linger`` is the entry point every adapter calls).

The decision, taken again after every receive (:func:`next_step`):

* the client has sent the whole declared body (or closed): **done**, close without a reset;
* nothing is known yet (less than ``probe`` seconds of measurement): keep **draining**;
* the rest of the declared body, at the rate measured while draining, arrives before the
  budget's deadline: keep **draining** (Firefox shows the response only after its upload ended);
* otherwise (too slow, nothing arriving, length unknown and the budget spent, deadline passed):
  **close** now. Chromium reads the response when its upload write fails with the reset.

The rate is measured from the end of the backlog (what the kernel had already buffered while the
application ran is read first and not counted as rate), so a full receive buffer does not make a
300 MB upload look fast.

Clients that sent ``Expect: 100-continue`` and were refused do not send the body: nothing arrives,
so after ``probe`` seconds (or at their own close, usually sooner) the connection closes.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

__all__ = [
    "DEFAULT_DRAIN_MAX_CONNECTIONS",
    "DEFAULT_DRAIN_SECONDS",
    "PROBE_SECONDS",
    "SINGLE_CONNECTION_DRAIN_SECONDS",
    "DrainPlan",
    "DrainSlots",
    "Step",
    "next_step",
    "plan_for",
    "slots",
]

#: EXPECT_DRAIN_SECONDS's default: a 10 MB file over 20 Mbit/s (4 s) fits; nginx/Apache's 30 s
#: would let a rejected body hold a thread three times as long.
DEFAULT_DRAIN_SECONDS = 10.0
#: EXPECT_DRAIN_MAX_CONNECTIONS's default (per worker process; clamped to half its capacity).
DEFAULT_DRAIN_MAX_CONNECTIONS = 4
#: A worker that serves one connection at a time (sync, gthread with one thread) drains at most
#: this long: the same 2 s gunicorn's own graceful close allows, as every other client waits.
SINGLE_CONNECTION_DRAIN_SECONDS = 2.0
#: Seconds of measurement before the rate is trusted (or silence is taken as "not sending").
PROBE_SECONDS = 0.25


class Step(enum.Enum):
    DRAIN = "drain"  # keep reading and discarding
    DONE = "done"  # the body ended: close normally (no reset)
    CLOSE = "close"  # give up: close now (a reset if bytes are still arriving)


@dataclass(frozen=True)
class DrainPlan:
    """How long one rejected connection may drain (``seconds`` 0: close at once)."""

    seconds: float
    probe: float = PROBE_SECONDS


def plan_for(budget: float, *, capacity: int, draining: int, max_connections: int) -> DrainPlan:
    """The plan for one rejection in a worker serving ``capacity`` connections at once, of which
    ``draining`` are draining already (this one not counted).

    A one-connection worker gets at most :data:`SINGLE_CONNECTION_DRAIN_SECONDS`; the cap is
    ``max_connections`` but never more than half the worker's capacity (at least one), so
    draining never takes every thread; over the cap, the connection closes at once.
    """
    seconds = max(0.0, budget)
    if capacity <= 1:
        seconds = min(seconds, SINGLE_CONNECTION_DRAIN_SECONDS)
    cap = min(max(0, max_connections), max(1, capacity // 2))
    if draining >= cap or seconds <= 0:
        return DrainPlan(0.0, 0.0)
    return DrainPlan(seconds, min(PROBE_SECONDS, seconds))


def next_step(
    plan: DrainPlan,
    *,
    remaining: int | None,
    elapsed: float,
    measured_bytes: int,
    measured_seconds: float,
    eof: bool = False,
) -> Step:
    """The next step of a drain.

    ``remaining``: declared body bytes not yet received (None: unknown, e.g. chunked);
    ``elapsed``: seconds since the drain began; ``measured_bytes`` / ``measured_seconds``: bytes
    received since the rate clock started (after the backlog) and the seconds since then.
    """
    if eof or (remaining is not None and remaining <= 0):
        return Step.DONE
    if elapsed >= plan.seconds:
        return Step.CLOSE
    if elapsed < plan.probe or measured_seconds <= 0:
        return Step.DRAIN
    if remaining is None:
        # Unknown length: drain while the client keeps sending (like nginx's lingering close).
        return Step.DRAIN if measured_bytes > 0 else Step.CLOSE
    if measured_bytes <= 0:
        return Step.CLOSE
    rate = measured_bytes / measured_seconds
    return Step.DRAIN if elapsed + remaining / rate <= plan.seconds else Step.CLOSE


class DrainSlots:
    """How many connections of this process are draining (a process is one gunicorn worker)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.draining = 0

    def acquire(self, budget: float, *, capacity: int, max_connections: int) -> DrainPlan:
        """The plan for a new drain; a non-zero plan holds a slot until :meth:`release`."""
        with self._lock:
            plan = plan_for(
                budget, capacity=capacity, draining=self.draining, max_connections=max_connections
            )
            if plan.seconds > 0:
                self.draining += 1
            return plan

    def release(self, plan: DrainPlan) -> None:
        if plan.seconds > 0:
            with self._lock:
                self.draining -= 1


#: The process's slots (gevent patches ``threading``, so the lock is a greenlet lock there).
slots = DrainSlots()
