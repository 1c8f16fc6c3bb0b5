"""Quotas with reservations: ``upload_policy(quota=...)``, decided from the head.

The quota callable ``(request) -> (key, remaining_bytes)`` says how much ``key`` (a user's or an
organisation's id) may still store; ``remaining_bytes`` None means no quota. An upload whose
declared length is over what is left, minus what other in-flight uploads under that key have
reserved, is refused 413 ``quota_exceeded`` before its body. An accepted one reserves its
declared length (a chunked one: everything left, and its read is capped there) in the
``QuotaReservation`` table until the request ends; a reservation a killed worker never released
stops counting after ``EXPECT_QUOTA_RESERVATION_SECONDS``.

Reserving queries the database (a lock row per key, a sum, an insert; one delete at the end):
a documented cost of policies that opt in. Two uploads under one key decide one after the
other because each first updates the key's ``QuotaLock`` row (a row lock on PostgreSQL/MySQL,
the database write lock on SQLite), across workers and hosts.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.apps import apps
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from django_expect.conf import conf
from django_expect.core import ContinueTiming, Decision, PolicyError, Reason, format_size, refusal

__all__ = ["Quota", "Reservation", "evaluate", "left", "quota_exceeded", "release", "reserve"]


@dataclass(frozen=True)
class Quota:
    key: str
    remaining: int


@dataclass(frozen=True)
class Reservation:
    pk: int
    size: int


def evaluate(value: object) -> Quota | None:
    """The quota callable's result, validated: ``(key, remaining_bytes)``; None: no quota."""
    if value is None:
        return None
    if not isinstance(value, tuple) or len(value) != 2:
        raise PolicyError(f"quota callable returned {value!r}: expected (key, remaining_bytes)")
    key, remaining = value
    if remaining is None:
        return None
    if not isinstance(key, str) or not key or len(key) > 255:
        raise PolicyError(f"quota callable returned key {key!r}: a non-empty string, <= 255 chars")
    if isinstance(remaining, bool) or not isinstance(remaining, int) or remaining < 0:
        raise PolicyError(f"quota callable returned remaining_bytes {remaining!r}: an int >= 0")
    return Quota(key, remaining)


def reserve(quota: Quota, declared: int | None) -> tuple[Reservation | None, int]:
    """Reserve ``declared`` bytes (None: chunked, everything left) under the quota's key.

    Returns (the reservation, or None when the upload does not fit; what is left for it).
    """
    lock = apps.get_model("django_expect", "QuotaLock")
    model = apps.get_model("django_expect", "QuotaReservation")
    now = timezone.now()
    with transaction.atomic():
        if not lock.objects.filter(key=quota.key).update(touched=now):
            lock.objects.get_or_create(key=quota.key, defaults={"touched": now})
            lock.objects.filter(key=quota.key).update(touched=now)
        held = model.objects.filter(key=quota.key, expires__gt=now).aggregate(total=Sum("size"))
        left = max(quota.remaining - int(held["total"] or 0), 0)
        size = left if declared is None else declared
        if size > left or (declared is None and left == 0):
            return None, left
        expires = now + datetime.timedelta(seconds=conf.EXPECT_QUOTA_RESERVATION_SECONDS)
        row = model.objects.create(key=quota.key, size=size, expires=expires)
        model.objects.filter(expires__lte=now).delete()  # what killed workers left
    return Reservation(row.pk, size), left


def left(quota: Quota) -> int:
    """What the quota has left now, after the in-flight reservations (no reservation made)."""
    model = apps.get_model("django_expect", "QuotaReservation")
    held = model.objects.filter(key=quota.key, expires__gt=timezone.now()).aggregate(
        total=Sum("size")
    )
    return max(quota.remaining - int(held["total"] or 0), 0)


def release(reservation: Reservation) -> None:
    """End a reservation (the request ended, whatever way)."""
    apps.get_model("django_expect", "QuotaReservation").objects.filter(pk=reservation.pk).delete()


def quota_exceeded(decision: Decision, left: int) -> Decision:
    """The 413 for an upload over what its quota has left (``limit``: what is left)."""
    declared = decision.declared_length
    readable = format_size(left)
    shown = (
        "nothing"
        if not left
        else f"{left} bytes" + ("" if readable == f"{left} bytes" else f" ({readable})")
    )
    body = "a body of undeclared length" if declared is None else f"the body is {declared} bytes"
    return refusal(
        Reason.QUOTA_EXCEEDED,
        f"{body}; your upload quota has {shown} left",
        head=decision,
        continue_timing=(
            ContinueTiming.WITHHOLD
            if decision.continue_timing is not ContinueTiming.NOT_EXPECTED
            else ContinueTiming.NOT_EXPECTED
        ),
        limit=left,
    )
