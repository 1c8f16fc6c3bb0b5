"""Operators' data: policy overrides edited in the admin, and daily rejection counts.

``PolicyOverride`` rows are read by :mod:`django_expect.overrides` (cached per process, never per
request); ``RejectionCount`` rows are written in batches by :mod:`django_expect.stats`.
"""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models

from django_expect.core import ExpectMode, PolicyError, UploadPolicy, format_size

__all__ = ["PolicyOverride", "RejectionCount"]

EXPECT_CHOICES = [(mode.value, mode.value) for mode in ExpectMode]


class PolicyOverride(models.Model):
    """An operator's change to one route's upload policy, applied on top of the code's policy."""

    route = models.CharField(
        max_length=255,
        unique=True,
        help_text="The URL pattern's name as Django resolves it (e.g. 'api-upload', "
        "'admin:index'), or the view's dotted path (e.g. 'demo.views.objects').",
    )
    max_size = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Largest accepted body in bytes; empty: keep the code's."
    )
    content_types = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Accepted media types, comma-separated (e.g. 'image/*, application/pdf'); "
        "empty: keep the code's.",
    )
    expect = models.CharField(
        max_length=16,
        blank=True,
        choices=EXPECT_CHOICES,
        help_text="When 100 Continue goes out; empty: keep the code's.",
    )
    disabled = models.BooleanField(
        default=False,
        help_text="Switch this route's upload policy off: no size, type, login or permission "
        "check before the body.",
    )
    note = models.CharField(max_length=255, blank=True, help_text="Why (an incident, a ticket).")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["route"]
        verbose_name = "upload policy override"

    def __str__(self) -> str:
        return self.route

    def content_type_list(self) -> tuple[str, ...] | None:
        values = tuple(v.strip() for v in self.content_types.split(",") if v.strip())
        return values or None

    def clean(self) -> None:
        try:
            policy = UploadPolicy.build(
                content_types=self.content_type_list(), expect=self.expect or "on-read"
            )
        except PolicyError as error:
            raise ValidationError(str(error)) from None
        if policy.content_types is not None:
            self.content_types = ", ".join(policy.content_types)

    @property
    def max_size_display(self) -> str:
        return "" if self.max_size is None else format_size(self.max_size)


class RejectionCount(models.Model):
    """How many requests one route rejected for one reason on one day (UTC)."""

    day = models.DateField()
    route = models.CharField(max_length=255)
    reason = models.CharField(max_length=32)
    status = models.PositiveSmallIntegerField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering: ClassVar[list[str]] = ["-day", "route", "reason"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["day", "route", "reason", "status"], name="django_expect_count_key"
            )
        ]
        verbose_name = "rejection count"

    def __str__(self) -> str:
        return f"{self.day} {self.route} {self.reason}: {self.count}"
