"""``manage.py expect_tus_cleanup``: delete tus uploads that expired before they were finished
(their rows and the parts in storage). Finished uploads and their files are never touched.
Run it from cron (e.g. hourly); ``--dry-run`` lists what would go."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from django_expect.tus.models import TusUpload
from django_expect.tus.storage import delete_quietly, tus_storage


class Command(BaseCommand):
    help = "Delete tus uploads that expired unfinished, with their stored parts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List the expired uploads; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        expired = TusUpload.objects.filter(completed__isnull=True, expires__lte=timezone.now())
        target = tus_storage()
        count = 0
        for upload in expired.iterator():
            count += 1
            if options["dry_run"]:
                self.stdout.write(f"would delete {upload}")
                continue
            # The row first (a PATCH racing it finds nothing to commit to), then its bytes.
            if TusUpload.objects.filter(pk=upload.pk, completed__isnull=True).delete()[0]:
                delete_quietly(target, upload.parts)
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(f"{verb} {count} expired tus upload(s)")
