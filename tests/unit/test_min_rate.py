"""The minimum body data rate without a server: the meter, the input's bound, the policy and
settings (the wire behaviour is tests/wire/test_min_rate_wire.py)."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_expect import upload_policy
from django_expect.checks import check_settings
from django_expect.continuation import BodyTimeout, BodyTooSlow, ExpectContinueInput, RateMeter
from django_expect.core import Reason, UploadPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_byte_buys_one_rate_th_of_a_second() -> None:
    meter = RateMeter(rate=240.0, grace=5.0, start=10.0)
    assert meter.deadline(0) == 15.0
    assert meter.deadline(240) == 16.0
    assert meter.time_left(15.5, 240) == pytest.approx(0.5)
    assert meter.time_left(16.5, 240) < 0


def _input(data: bytes, clock: Clock, bounds: list[float | None]) -> ExpectContinueInput:
    body = ExpectContinueInput(
        io.BytesIO(data),
        awaiting=False,
        send_continue=lambda: None,
        close_connection=lambda: None,
        length=len(data),
        set_receive_timeout=bounds.append,
    )
    body.clock = clock
    body.body_timeout = 20.0
    body.min_rate = 100.0
    body.min_rate_grace = 1.0
    return body


def test_each_read_is_bounded_by_the_time_the_rate_leaves() -> None:
    clock, bounds = Clock(), list[float | None]()
    body = _input(b"x" * 1000, clock, bounds)
    assert body.read(100) == b"x" * 100
    assert bounds == [1.0]  # the grace, shorter than body_timeout
    clock.now += 1.5
    body.read(100)
    assert bounds[-1] == pytest.approx(0.5)  # 1 + 100/100 - 1.5
    assert body.receive_timeout() == pytest.approx(1.5)  # 200 bytes received now


def test_a_body_slower_than_the_rate_fails_and_closes() -> None:
    clock, bounds = Clock(), list[float | None]()
    body = _input(b"x" * 1000, clock, bounds)
    body.read(10)
    clock.now += 1.2  # past 1 + 10/100
    with pytest.raises(BodyTooSlow) as raised:
        body.read(10)
    assert isinstance(raised.value, BodyTimeout)  # a 408, like an idle timeout
    assert body.closing and body.failure is raised.value
    assert "100 bytes per second" in str(raised.value)


def test_without_a_rate_the_bound_is_the_idle_timeout() -> None:
    clock, bounds = Clock(), list[float | None]()
    body = _input(b"x" * 10, clock, bounds)
    body.min_rate = None
    clock.now += 1000
    assert body.read() == b"x" * 10
    assert bounds[0] == 20.0 and body.meter is None


def test_the_reason_is_its_own_408() -> None:
    assert Reason.BODY_TOO_SLOW.status == 408
    assert Reason.BODY_TOO_SLOW.value == "body_too_slow"


def test_policy_arguments() -> None:
    policy = UploadPolicy.build(min_rate=50, min_rate_grace=0)
    assert (policy.min_rate, policy.min_rate_grace) == (50.0, 0.0)
    assert UploadPolicy.build().min_rate is None
    for bad in ({"min_rate": 0}, {"min_rate": -1}, {"min_rate": True}, {"min_rate_grace": -1}):
        with pytest.raises(ImproperlyConfigured):
            upload_policy(**bad)(lambda request: None)


@pytest.mark.parametrize(
    ("rate", "grace", "ok"),
    [(240, 5, True), (None, 5, True), (0, 5, False), (240, -1, False), (240, None, False)],
)
def test_settings_check_e008(rate: object, grace: object, ok: bool) -> None:
    with override_settings(EXPECT_MIN_RATE=rate, EXPECT_MIN_RATE_GRACE=grace):
        ids = [m.id for m in check_settings(None)]
    assert ("django_expect.E008" not in ids) is ok
