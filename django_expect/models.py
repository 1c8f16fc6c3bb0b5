"""Operators' data: policy overrides and site-wide upload settings edited in the admin, the change
counter that tells every process they changed, and daily rejection counts.

``PolicyOverride`` and ``UploadSettings`` rows are read by :mod:`django_expect.overrides` (a copy
per process, revalidated against ``ChangeCounter`` every ``EXPECT_OVERRIDES_REFRESH`` seconds by
a background thread, never by a request); ``RejectionCount`` rows are written in batches by
:mod:`django_expect.stats`.
"""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models

from django_expect.conf import CHUNKED_MODES
from django_expect.core import SIZE_BUCKETS, ExpectMode, PolicyError, UploadPolicy, format_size

__all__ = [
    "ChangeCounter",
    "GroupLimit",
    "PolicyOverride",
    "RejectionCount",
    "SizeHistogram",
    "UploadSettings",
]


EXPECT_CHOICES = [(mode.value, mode.value) for mode in ExpectMode]
CHUNKED_CHOICES = [(mode, mode) for mode in CHUNKED_MODES]


def _split(text: str) -> tuple[str, ...] | None:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    return values or None


class _PolicyFields:
    """The policy values both admin-edited rows keep as text, as the policy's own values (the
    one reading of them: ``overrides.override_of`` and ``overrides.site_defaults_of`` use it).

    The column is ``permission``, like ``upload_policy``'s argument (one name or several); the
    policy's value is ``UploadPolicy.permissions``, a tuple (``policies.POLICY_FIELDS``)."""

    content_types: str
    permission: str
    expect: str

    def content_type_list(self) -> tuple[str, ...] | None:
        return _split(self.content_types)

    def permission_list(self) -> tuple[str, ...] | None:
        return _split(self.permission)

    def expect_mode(self) -> ExpectMode | None:
        return ExpectMode(self.expect) if self.expect else None


def _validated(**arguments: object) -> UploadPolicy:
    try:
        return UploadPolicy.build(**arguments)  # type: ignore[arg-type]
    except PolicyError as error:
        raise ValidationError(str(error)) from None


class ChangeCounter(models.Model):
    """One row whose ``value`` goes up in the same transaction as every change to an override
    or to the upload settings: each process compares it with the value it last loaded."""

    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "change counter"

    def __str__(self) -> str:
        return str(self.value)


class PolicyOverride(_PolicyFields, models.Model):
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
    login_required = models.BooleanField(
        null=True, blank=True, help_text="Require a logged-in user; empty: keep the code's."
    )
    permission = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Required permissions, comma-separated (e.g. 'files.add_file'); empty: keep "
        "the code's.",
    )
    body_timeout = models.FloatField(
        null=True,
        blank=True,
        help_text="Seconds the body may stop arriving before 408; empty: keep the code's (or "
        "the site-wide default).",
    )
    report_only = models.BooleanField(
        null=True,
        blank=True,
        help_text="Report-only: log, count and signal what the policy would refuse, and let the "
        "request through (the statistics show it per route); empty: keep the code's.",
    )
    min_rate = models.FloatField(
        null=True,
        blank=True,
        help_text="Bytes per second the body must average after the grace period, else 408; "
        "empty: keep the code's (or EXPECT_MIN_RATE).",
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

    def clean(self) -> None:
        policy = _validated(
            content_types=self.content_type_list(),
            expect=self.expect or "on-read",
            permission=self.permission_list(),
            body_timeout=self.body_timeout,
            min_rate=self.min_rate,
        )
        if policy.content_types is not None:
            self.content_types = ", ".join(policy.content_types)

    @property
    def max_size_display(self) -> str:
        return "" if self.max_size is None else format_size(self.max_size)


class UploadSettings(_PolicyFields, models.Model):
    """The site-wide upload settings (one row, ``pk=1``): each empty field falls back to the
    ``EXPECT_*`` setting in settings.py, then to the built-in default (docs/howto/operations.md)."""

    max_size = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Largest accepted body, in bytes, for views without @upload_policy; empty: "
        "EXPECT_DEFAULT_POLICY's max_size.",
    )
    content_types = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Accepted media types for views without @upload_policy, comma-separated; "
        "empty: EXPECT_DEFAULT_POLICY's content_types.",
    )
    login_required = models.BooleanField(
        null=True,
        blank=True,
        help_text="Require a login for uploads to views without @upload_policy; empty: "
        "EXPECT_DEFAULT_POLICY's login_required.",
    )
    permission = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Required permissions for views without @upload_policy, comma-separated; "
        "empty: EXPECT_DEFAULT_POLICY's permission.",
    )
    expect = models.CharField(
        max_length=16,
        blank=True,
        choices=EXPECT_CHOICES,
        help_text="When 100 Continue goes out, for views without @upload_policy; empty: "
        "EXPECT_DEFAULT_POLICY's expect.",
    )
    body_timeout = models.FloatField(
        null=True,
        blank=True,
        help_text="Seconds a body may stop arriving before 408, for views without their own "
        "body_timeout; empty: EXPECT_BODY_TIMEOUT.",
    )
    report_only = models.BooleanField(
        null=True,
        blank=True,
        help_text="Report-only for views without @upload_policy: log, count and signal what "
        "the policy would refuse, and let the request through; empty: EXPECT_DEFAULT_POLICY's "
        "report_only.",
    )
    chunked = models.CharField(
        max_length=16,
        blank=True,
        choices=CHUNKED_CHOICES,
        help_text="Bodies without a Content-Length: 'stream' (read up to max_size) or 'refuse' "
        "(411); empty: EXPECT_CHUNKED.",
    )
    drain_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="Seconds a rejected request's unread body may be drained; empty: "
        "EXPECT_DRAIN_SECONDS.",
    )
    note = models.CharField(max_length=255, blank=True, help_text="Why (an incident, a ticket).")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "upload settings"
        verbose_name_plural = "upload settings"

    def __str__(self) -> str:
        return "Upload settings"

    def clean(self) -> None:
        policy = _validated(
            content_types=self.content_type_list(),
            permission=self.permission_list(),
            body_timeout=self.body_timeout,
        )
        if policy.content_types is not None:
            self.content_types = ", ".join(policy.content_types)
        if self.drain_seconds is not None and not self.drain_seconds >= 0:
            raise ValidationError("drain_seconds must be 0 or more seconds")

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1  # one row
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class GroupLimit(models.Model):
    """Other limits for the members of one user group, on one route override (``override``) or
    in the site-wide Upload settings (``settings``): exactly one of the two is set.

    Empty fields are not set by this row. Where a user is in several groups with rows, each
    field takes the most permissive value the matching rows set (``no_size_limit`` beats any
    size, else the largest ``max_size``; the union of their content types, ``*/*`` meaning any);
    a field no matching row sets keeps the route's value (docs/howto/uploader-limits.md).
    """

    override = models.ForeignKey(
        PolicyOverride,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="group_limits",
    )
    settings = models.ForeignKey(
        UploadSettings,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="group_limits",
    )
    group = models.CharField(
        max_length=150,
        help_text="The user group's name (django.contrib.auth Group), e.g. 'pro'.",
    )
    max_size = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Largest accepted body in bytes for the group's members; empty: the route's.",
    )
    no_size_limit = models.BooleanField(
        default=False, help_text="No size limit for the group's members (beats max_size)."
    )
    content_types = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Accepted media types for the group's members, comma-separated ('*/*': any); "
        "empty: the route's.",
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["group"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["override", "group"], name="django_expect_group_limit_override"
            ),
            models.UniqueConstraint(
                fields=["settings", "group"], name="django_expect_group_limit_settings"
            ),
            models.CheckConstraint(
                condition=models.Q(override__isnull=True, settings__isnull=False)
                | models.Q(override__isnull=False, settings__isnull=True),
                name="django_expect_group_limit_one_parent",
            ),
        ]
        verbose_name = "group limit"

    def __str__(self) -> str:
        return self.group

    def content_type_list(self) -> tuple[str, ...] | None:
        return _split(self.content_types)

    def clean(self) -> None:
        self.group = self.group.strip()
        policy = _validated(content_types=self.content_type_list())
        if policy.content_types is not None:
            self.content_types = ", ".join(policy.content_types)

    @property
    def max_size_display(self) -> str:
        if self.no_size_limit:
            return "no limit"
        return "" if self.max_size is None else format_size(self.max_size)


class RejectionCount(models.Model):
    """How many requests one route rejected for one reason on one day (UTC)."""

    day = models.DateField()
    route = models.CharField(max_length=255)
    reason = models.CharField(max_length=32)
    status = models.PositiveSmallIntegerField()
    count = models.PositiveBigIntegerField(default=0)
    #: Counted for a report-only policy: the request was let through.
    report_only = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar[list[str]] = ["-day", "route", "reason"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["day", "route", "reason", "status", "report_only"],
                name="django_expect_count_key_mode",
            )
        ]
        verbose_name = "rejection count"

    def __str__(self) -> str:
        return f"{self.day} {self.route} {self.reason}: {self.count}"


def _bucket_label(index: int) -> str:
    if index == len(SIZE_BUCKETS):
        return f"over {format_size(SIZE_BUCKETS[-1])}"
    return f"up to {format_size(SIZE_BUCKETS[index])}"


class SizeHistogram(models.Model):
    """How many uploads to one route declared a size in each bucket on one day (UTC): every
    decided upload with a ``Content-Length`` (``reason`` empty), and the refused ones by reason
    (``report_only``: what report-only let through). Written in batches by
    :mod:`django_expect.stats`, with the rejection counts."""

    day = models.DateField()
    route = models.CharField(max_length=255)
    reason = models.CharField(
        max_length=32, blank=True, help_text="Empty: every upload; else the refusal's reason."
    )
    report_only = models.BooleanField(default=False)
    count = models.PositiveBigIntegerField(default=0)
    total_bytes = models.PositiveBigIntegerField(default=0)
    bucket_0 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(0))
    bucket_1 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(1))
    bucket_2 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(2))
    bucket_3 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(3))
    bucket_4 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(4))
    bucket_5 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(5))
    bucket_6 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(6))
    bucket_7 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(7))
    bucket_8 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(8))
    bucket_9 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(9))
    bucket_10 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(10))
    bucket_11 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(11))
    bucket_12 = models.PositiveBigIntegerField(default=0, verbose_name=_bucket_label(12))

    class Meta:
        ordering: ClassVar[list[str]] = ["-day", "route", "reason"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["day", "route", "reason", "report_only"],
                name="django_expect_size_histogram_key",
            )
        ]
        verbose_name = "size histogram"

    def __str__(self) -> str:
        return f"{self.day} {self.route} {self.reason or 'all'}: {self.count}"

    def buckets(self) -> list[tuple[str, int]]:
        """(label, count) per bucket, smallest first."""
        return [
            (_bucket_label(i), int(getattr(self, f"bucket_{i}")))
            for i in range(len(SIZE_BUCKETS) + 1)
        ]


class QuotaReservation(models.Model):
    """Bytes an accepted upload may still add under a quota key while it is in flight
    (django_expect.quotas): written when the head passes, deleted when the request ends, and
    ignored after ``expires`` (a worker killed mid-upload)."""

    key = models.CharField(max_length=255, db_index=True)
    size = models.PositiveBigIntegerField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "quota reservation"

    def __str__(self) -> str:
        return f"{self.key}: {self.size} bytes"


class QuotaLock(models.Model):
    """One row per quota key, locked (updated) while a reservation is decided, so two uploads
    under one key on different workers or hosts decide one after the other."""

    key = models.CharField(max_length=255, unique=True)
    touched = models.DateTimeField()

    class Meta:
        verbose_name = "quota lock"

    def __str__(self) -> str:
        return self.key


# The tus endpoint's state (django_expect.tus) is part of this app: no extra INSTALLED_APPS entry.
from django_expect.tus.models import TusUpload  # noqa: E402

__all__ += ["TusUpload"]
