"""The Django app: registers django-expect's system checks and the operators' data invalidation
(a change to an override or to the upload settings increments the database's change counter and
applies to this process's copy at once), and gives staticfiles' ``runserver`` the lazy-100 server
(``django_expect.runserver``)."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_delete, post_save


class DjangoExpectConfig(AppConfig):
    name = "django_expect"
    verbose_name = "django-expect"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_expect.checks import (
            check_app_order,
            check_body_limits,
            check_operations,
            check_overrides,
            check_settings,
            check_unreachable_policies,
        )
        from django_expect.overrides import override_changed
        from django_expect.runserver import serve_staticfiles_runserver_lazily

        checks.register(check_settings)
        checks.register(check_app_order)
        checks.register(check_operations)
        checks.register(check_body_limits, checks.Tags.urls)
        checks.register(check_overrides, checks.Tags.database)
        checks.register(check_unreachable_policies, checks.Tags.urls)
        # `manage.py runserver` holds the 100 back wherever django_expect is listed.
        serve_staticfiles_runserver_lazily()

        for name in ("PolicyOverride", "UploadSettings", "GroupLimit"):
            model = self.get_model(name)
            post_save.connect(override_changed, sender=model, dispatch_uid="django_expect")
            post_delete.connect(override_changed, sender=model, dispatch_uid="django_expect")
