"""Quota reservations without a server (issue 22): the callable's value, what is left, and
expiry of reservations a killed worker never released."""

from __future__ import annotations

import datetime

import pytest
from django.test import override_settings
from django.utils import timezone

from django_expect.core import PolicyError
from django_expect.models import QuotaReservation
from django_expect.quotas import Quota, evaluate, release, reserve


@pytest.mark.parametrize(
    "value",
    [("k",), ("", 1), ("k", -1), ("k", True), ("k", "10MB"), 5, (3, 100)],
)
def test_bad_values(value: object) -> None:
    with pytest.raises(PolicyError, match="quota callable returned"):
        evaluate(value)


def test_no_quota() -> None:
    assert evaluate(None) is None
    assert evaluate(("k", None)) is None
    assert evaluate(("k", 10)) == Quota("k", 10)


@pytest.mark.django_db
def test_reservations_add_up_and_release() -> None:
    quota = Quota("user:1", 1000)
    first, left = reserve(quota, 600)
    assert first is not None and left == 1000
    refused, left = reserve(quota, 600)
    assert refused is None and left == 400
    fits, _ = reserve(quota, 400)
    assert fits is not None
    release(first)
    release(fits)
    assert QuotaReservation.objects.count() == 0
    chunked, left = reserve(quota, None)  # undeclared length: everything left
    assert chunked is not None and chunked.size == 1000


@pytest.mark.django_db
def test_a_reservation_nobody_released_expires() -> None:
    past = timezone.now() - datetime.timedelta(seconds=1)
    QuotaReservation.objects.create(key="user:2", size=1000, expires=past)  # a killed worker's
    reservation, left = reserve(Quota("user:2", 1000), 1000)
    assert reservation is not None and left == 1000
    assert QuotaReservation.objects.filter(expires__lte=past).count() == 0  # swept
    with override_settings(EXPECT_QUOTA_RESERVATION_SECONDS=60):
        fresh, _ = reserve(Quota("user:3", 10), 5)
    assert fresh is not None
    row = QuotaReservation.objects.get(pk=fresh.pk)
    assert 0 < (row.expires - timezone.now()).total_seconds() <= 60
