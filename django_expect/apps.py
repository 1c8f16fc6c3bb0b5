"""The Django app: registers django-expect's system checks."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class DjangoExpectConfig(AppConfig):
    name = "django_expect"
    verbose_name = "django-expect"

    def ready(self) -> None:
        from django_expect.checks import check_settings

        checks.register(check_settings)
