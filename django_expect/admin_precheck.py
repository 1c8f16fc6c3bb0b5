"""The browser pre-check in the Django admin: ``UploadLimitsAdminMixin`` for a ModelAdmin.

Mixed into a ``ModelAdmin`` whose model has ``FileField``/``ImageField`` fields, it puts the
effective limit of the admin route the add/change form posts to (the page's own URL, resolved
like any other route: ``EXPECT_DEFAULT_POLICY``, an override on ``admin:app_model_add`` /
``admin:app_model_change``, or a decorator on a custom admin view) on each file input, and adds
``django_expect/precheck.js`` to the admin's media. Routes without a size limit get nothing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.http import HttpRequest

from django_expect.browser import PRECHECK_SCRIPT, limits_for_url

__all__ = ["UploadLimitsAdminMixin"]


class UploadLimitsAdminMixin:
    """``class MyAdmin(UploadLimitsAdminMixin, admin.ModelAdmin)``: pre-check its file inputs."""

    #: The refusal in the admin's words; ``{limit}`` and ``{size}`` are filled in.
    upload_limits_message: str | None = None
    #: Class of the message element: the admin's own error style.
    upload_limits_message_class = "errornote expect-precheck-message"
    #: Where the message goes: after the input's row (Django 5's admin field layout).
    upload_limits_message_after = ".flex-container"

    def formfield_for_dbfield(
        self, db_field: models.Field[Any, Any], request: HttpRequest | None, **kwargs: Any
    ) -> forms.Field | None:
        formfield: forms.Field | None = super().formfield_for_dbfield(  # type: ignore[misc]
            db_field, request, **kwargs
        )
        if isinstance(formfield, forms.FileField) and request is not None:
            limits = limits_for_url(request.path, request)
            attrs = limits.attrs(self.upload_limits_message) if limits is not None else {}
            if attrs:
                attrs["data-expect-message-class"] = self.upload_limits_message_class
                attrs["data-expect-message-after"] = self.upload_limits_message_after
                formfield.widget.attrs.update(attrs)
        return formfield

    @property
    def media(self) -> forms.Media:
        media: forms.Media = super().media  # type: ignore[misc]
        return media + forms.Media(js=[PRECHECK_SCRIPT])
