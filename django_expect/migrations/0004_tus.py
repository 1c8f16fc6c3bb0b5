"""The tus endpoint's upload state (django_expect.tus.models.TusUpload)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_expect", "0003_upload_settings_expect"),
    ]

    operations = [
        migrations.CreateModel(
            name="TusUpload",
            fields=[
                (
                    "id",
                    models.CharField(
                        editable=False, max_length=32, primary_key=True, serialize=False
                    ),
                ),
                (
                    "route",
                    models.CharField(help_text="The creation route's view name.", max_length=255),
                ),
                (
                    "owner",
                    models.CharField(
                        blank=True,
                        help_text="The primary key of the user who created it ('' for an anonymous upload).",
                        max_length=255,
                    ),
                ),
                (
                    "length",
                    models.PositiveBigIntegerField(
                        blank=True, help_text="Upload-Length (empty while deferred).", null=True
                    ),
                ),
                (
                    "offset",
                    models.PositiveBigIntegerField(default=0, help_text="Bytes committed so far."),
                ),
                (
                    "metadata",
                    models.JSONField(
                        blank=True, default=dict, help_text="Upload-Metadata, decoded."
                    ),
                ),
                (
                    "raw_metadata",
                    models.TextField(blank=True, help_text="Upload-Metadata as received."),
                ),
                (
                    "parts",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="Storage names of the committed parts, in order.",
                    ),
                ),
                (
                    "file_name",
                    models.CharField(
                        blank=True, help_text="Storage name of the finished file.", max_length=1024
                    ),
                ),
                ("created", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires", models.DateTimeField(blank=True, null=True)),
                ("completed", models.DateTimeField(blank=True, null=True)),
                ("lock", models.CharField(blank=True, default="", max_length=255)),
                ("locked_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "tus upload",
                "indexes": [models.Index(fields=["expires"], name="django_expe_tus_expires")],
            },
        ),
    ]
