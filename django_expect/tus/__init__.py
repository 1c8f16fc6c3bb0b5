"""Resumable uploads (tus 1.0) under the route's upload policy, for the whole file.

Public API: :func:`tus_urls` (patterns for ``include()``), :class:`TusUpload` (the upload's
state), the signal ``django_expect.signals.upload_completed`` and the command
``manage.py expect_tus_cleanup``. Modules: ``protocol`` (header values, no Django),
``models`` (state), ``storage`` (bytes, through Django's storage API), ``views`` (the
endpoint), ``urls``. Everything else here is private. See docs/howto/tus.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["TusUpload", "tus_urls"]

if TYPE_CHECKING:
    from django_expect.tus.models import TusUpload
    from django_expect.tus.urls import tus_urls


def __getattr__(name: str) -> Any:
    # Lazy: django_expect.models imports django_expect.tus.models while apps load.
    if name == "tus_urls":
        from django_expect.tus.urls import tus_urls

        return tus_urls
    if name == "TusUpload":
        from django_expect.tus.models import TusUpload

        return TusUpload
    raise AttributeError(name)
