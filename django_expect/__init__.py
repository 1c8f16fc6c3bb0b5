"""django-expect: per-view upload policies decided before ``100 Continue``.

Public API: ``upload_policy`` (the decorator), ``django_expect.middleware.ExpectMiddleware`` and
the gunicorn config module ``django_expect.gunicorn``. The decision core lives in
``django_expect.core`` and imports neither Django nor gunicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"
__all__ = ["UploadPolicy", "__version__", "upload_policy"]

if TYPE_CHECKING:
    from django_expect.core import UploadPolicy
    from django_expect.policies import upload_policy


def __getattr__(name: str) -> Any:
    # Lazy, so that importing django_expect.core or django_expect.gunicorn does not import Django.
    if name == "upload_policy":
        from django_expect.policies import upload_policy

        return upload_policy
    if name == "UploadPolicy":
        from django_expect.core import UploadPolicy

        return UploadPolicy
    raise AttributeError(name)
