"""URL patterns for one tus upload route, for ``include()``::

    from django_expect.tus import tus_urls

    urlpatterns = [
        path("uploads/", include(tus_urls(max_size="5GiB", login_required=True),
                                 namespace="uploads")),
    ]

``uploads/`` is the creation URL (OPTIONS, POST) and ``uploads/<id>`` each upload's (HEAD,
PATCH, DELETE). Both patterns are named ``tus``, so the route is ``<namespace>:tus`` wherever a
route is named: the admin's policy overrides, ``manage.py expect_policies``, the rejection
counts and log records.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path

from django_expect.tus.views import make_view

__all__ = ["APP_NAME", "tus_urls"]

APP_NAME = "tus"


def tus_urls(**policy: Any) -> tuple[list[URLPattern], str]:
    """``(patterns, app_name)`` for ``include()``; ``policy``: the ``upload_policy`` arguments
    governing every file uploaded here (none: ``EXPECT_DEFAULT_POLICY`` and the admin's
    site-wide upload settings, like any view without a decorator)."""
    view = make_view(**policy)
    patterns = [
        path("", view, name="tus"),
        path("<str:upload_id>", view, name="tus"),
    ]
    return patterns, APP_NAME
