"""The state of one tus upload, in the database so that any worker or host serves its next
request.

The row is the truth: ``offset`` counts the bytes committed to storage, ``parts`` names the
storage objects holding them, in order. A PATCH takes the row's ``lock`` by compare-and-set
(an ``UPDATE ... WHERE lock = ''``; atomic on every database, SQLite included), streams its
bytes into a new storage object, then commits offset and part list by compare-and-set on its
own lock token. Bytes written by a PATCH that never committed (its worker was killed) are in an
object no row names: they are ignored and the offset stays where it was.

Registered under the ``django_expect`` app (``app_label``): the project installs no extra app.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

__all__ = ["TusUpload"]


class TusUpload(models.Model):
    """One resumable upload: who started it on which route, how far it got, where it is."""

    id = models.CharField(primary_key=True, max_length=32, editable=False)
    route = models.CharField(max_length=255, help_text="The creation route's view name.")
    owner = models.CharField(
        max_length=255,
        blank=True,
        help_text="The primary key of the user who created it ('' for an anonymous upload).",
    )
    length = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Upload-Length (empty while deferred)."
    )
    offset = models.PositiveBigIntegerField(default=0, help_text="Bytes committed so far.")
    metadata = models.JSONField(default=dict, blank=True, help_text="Upload-Metadata, decoded.")
    raw_metadata = models.TextField(blank=True, help_text="Upload-Metadata as received.")
    parts: Any = models.JSONField(
        default=list, blank=True, help_text="Storage names of the committed parts, in order."
    )
    file_name = models.CharField(
        max_length=1024, blank=True, help_text="Storage name of the finished file."
    )
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    completed = models.DateTimeField(null=True, blank=True)
    lock = models.CharField(max_length=255, blank=True, default="")
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "django_expect"
        verbose_name = "tus upload"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["expires"], name="django_expe_tus_expires")
        ]

    def __str__(self) -> str:
        total = "?" if self.length is None else str(self.length)
        return f"tus upload {self.id} ({self.offset}/{total} bytes)"

    @property
    def is_complete(self) -> bool:
        return self.completed is not None

    def expired(self, now: Any = None) -> bool:
        """Unfinished and past ``expires`` (a finished upload never expires)."""
        if self.completed is not None or self.expires is None:
            return False
        return bool(self.expires <= (now or timezone.now()))
