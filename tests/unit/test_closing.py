"""The close policy's pure core (django_expect.closing): decisions and the cap, as tables.

The wire behaviour (a drained body ends without a reset, a body that cannot arrive in time is
cut short, the cap closes at once) is in tests/wire/test_drain_wire.py and
tests/browsers/test_browser_drain.py.
"""

from __future__ import annotations

import pytest

from django_expect.closing import (
    PROBE_SECONDS,
    SINGLE_CONNECTION_DRAIN_SECONDS,
    DrainPlan,
    DrainSlots,
    Step,
    next_step,
    plan_for,
)

MB = 1_000_000
RATE_20MBIT = 2_500_000  # bytes per second
PLAN = DrainPlan(10.0)

# (case, remaining, elapsed, measured bytes, measured seconds, eof, step)
DECISIONS = [
    ("the body ended (EOF)", 5 * MB, 1.0, 100, 1.0, True, Step.DONE),
    ("the declared body is all in", 0, 1.0, 100, 1.0, False, Step.DONE),
    ("still probing", 295 * MB, 0.1, 250_000, 0.1, False, Step.DRAIN),
    ("no rate yet", 5 * MB, 0.3, 0, 0.0, False, Step.DRAIN),
    ("Chromium 300 MB at 20 Mbit/s: cannot", 295 * MB, 0.3, 750_000, 0.3, False, Step.CLOSE),
    ("Firefox 10 MB at 20 Mbit/s: can", 9 * MB, 0.3, 750_000, 0.3, False, Step.DRAIN),
    ("was on time, slowed down", 6 * MB, 4.0, 2 * MB, 4.0, False, Step.CLOSE),
    ("just fits the deadline", 3 * MB, 7.0, 7 * MB, 7.0, False, Step.DRAIN),
    ("silence after the probe (an Expect client)", 5 * MB, 0.3, 0, 0.3, False, Step.CLOSE),
    ("the deadline passed", 1, 10.0, 10 * MB, 10.0, False, Step.CLOSE),
    ("unknown length, still sending", None, 3.0, MB, 3.0, False, Step.DRAIN),
    ("unknown length, silent", None, 0.5, 0, 0.5, False, Step.CLOSE),
    ("unknown length, budget spent", None, 10.0, MB, 10.0, False, Step.CLOSE),
    ("loopback 100 MiB at 1 GB/s", 100 * 2**20, 0.3, 300 * MB, 0.3, False, Step.DRAIN),
]


@pytest.mark.parametrize(
    ("remaining", "elapsed", "measured", "seconds", "eof", "step"),
    [row[1:] for row in DECISIONS],
    ids=[row[0] for row in DECISIONS],
)
def test_decide(
    remaining: int | None, elapsed: float, measured: int, seconds: float, eof: bool, step: Step
) -> None:
    assert (
        next_step(
            PLAN,
            remaining=remaining,
            elapsed=elapsed,
            measured_bytes=measured,
            measured_seconds=seconds,
            eof=eof,
        )
        is step
    )


def test_a_zero_plan_closes_at_once_unless_the_body_is_complete() -> None:
    zero = DrainPlan(0.0, 0.0)
    assert (
        next_step(zero, remaining=5, elapsed=0, measured_bytes=0, measured_seconds=0) is Step.CLOSE
    )
    assert (
        next_step(zero, remaining=0, elapsed=0, measured_bytes=0, measured_seconds=0) is Step.DONE
    )


# (case, budget, capacity, draining, cap, seconds)
PLANS = [
    ("gthread 8 threads, free", 10.0, 8, 0, 4, 10.0),
    ("gthread 8 threads, cap reached", 10.0, 8, 4, 4, 0.0),
    ("gthread 4 threads: at most half drain", 10.0, 4, 2, 4, 0.0),
    ("gthread 4 threads: one free slot", 10.0, 4, 1, 4, 10.0),
    ("sync: the one-connection budget", 10.0, 1, 0, 4, SINGLE_CONNECTION_DRAIN_SECONDS),
    ("sync: a smaller budget stays", 1.0, 1, 0, 4, 1.0),
    ("gevent 1000 connections", 10.0, 1000, 3, 4, 10.0),
    ("cap 0: never drain", 10.0, 1000, 0, 0, 0.0),
    ("budget 0: never drain", 0.0, 8, 0, 4, 0.0),
]


@pytest.mark.parametrize(
    ("budget", "capacity", "draining", "cap", "seconds"),
    [row[1:] for row in PLANS],
    ids=[row[0] for row in PLANS],
)
def test_plan_for(budget: float, capacity: int, draining: int, cap: int, seconds: float) -> None:
    plan = plan_for(budget, capacity=capacity, draining=draining, max_connections=cap)
    assert plan.seconds == seconds
    assert plan.probe == min(plan.seconds, PROBE_SECONDS)  # no probing when closing at once


def test_slots_are_held_until_released_and_a_full_house_closes_at_once() -> None:
    slots = DrainSlots()
    plans = [slots.acquire(10.0, capacity=8, max_connections=2) for _ in range(3)]
    assert [p.seconds for p in plans] == [10.0, 10.0, 0.0]
    assert slots.draining == 2
    for plan in plans:
        slots.release(plan)
    assert slots.draining == 0
    assert slots.acquire(10.0, capacity=8, max_connections=2).seconds == 10.0
