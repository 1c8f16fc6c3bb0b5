"""What a page tells a browser (or a JavaScript uploader) about an upload route's limits.

One source: the route's effective policy, asked of :func:`django_expect.resolution.effective_policy`
for the URL a form posts to (resolved with ``django.urls.resolve``). Nothing here types a number.

* :class:`UploadLimits` holds what a client may know before sending: the size limit (bytes and the
  same human text the server's messages use), the accepted request types, and, for routes that
  take a raw body (a ``PUT`` of the file itself), the accepted *file* types. A multipart form's
  ``content_types`` (``multipart/form-data``) describe the request, not the file, so they never
  become an ``accept`` list.
* :func:`limits_for_url` / :func:`limits_for_view` find them; :meth:`UploadLimits.attrs` renders
  them as the ``data-expect-*`` attributes ``static/django_expect/precheck.js`` reads (the
  ``{% upload_limits %}`` template tag and :func:`add_upload_limits` put them on a form or on its
  file inputs); :meth:`UploadLimits.document` is the JSON the OPTIONS discovery answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.http import HttpRequest

from django_expect.core import format_size
from django_expect.resolution import effective_policy, resolve_path, route_keys

__all__ = [
    "PRECHECK_SCRIPT",
    "UploadLimits",
    "add_upload_limits",
    "limits_for_url",
    "limits_for_view",
]

#: The static path of the pre-check script (``{% static %}`` it, or list it in a form's Media).
PRECHECK_SCRIPT = "django_expect/precheck.js"

#: Request types an HTML form sends; a route accepting one of them takes forms, not raw files.
FORM_ENCODINGS = frozenset(
    {"multipart/form-data", "application/x-www-form-urlencoded", "text/plain"}
)


@dataclasses.dataclass(frozen=True)
class UploadLimits:
    """What a client may know about an upload route before it sends a body."""

    max_size: int | None  # bytes, the whole request body
    content_types: tuple[str, ...] | None  # the accepted request media ranges (None: any)
    login_required: bool = False
    #: Fields that depend on the uploader and were not evaluated (limits read without a
    #: request): the form carries no value for them and the server decides per request.
    per_request: tuple[str, ...] = ()

    @property
    def max_size_text(self) -> str | None:
        """The limit as the server's own messages write it (``5 MB``, ``5 MiB``)."""
        return None if self.max_size is None else format_size(self.max_size)

    @property
    def file_types(self) -> tuple[str, ...] | None:
        """The accepted file types, for routes whose body *is* the file (no form encoding)."""
        if not self.content_types or any(t in FORM_ENCODINGS for t in self.content_types):
            return None
        return self.content_types

    @property
    def empty(self) -> bool:
        """Nothing worth telling: no size limit and any type."""
        return self.max_size is None and self.content_types is None

    def attrs(self, message: str | None = None) -> dict[str, str]:
        """The ``data-expect-*`` attributes precheck.js reads (empty when there is no limit)."""
        attrs: dict[str, str] = {}
        if self.max_size is not None:
            attrs["data-expect-max-size"] = str(self.max_size)
            attrs["data-expect-max-size-text"] = self.max_size_text or ""
        if self.file_types is not None:
            attrs["data-expect-types"] = ",".join(self.file_types)
        if attrs and message:
            attrs["data-expect-message"] = message
        return attrs

    def document(self) -> dict[str, Any]:
        """The discovery JSON: ``{"max_size", "max_size_text", "content_types", ...}``."""
        return {
            "max_size": self.max_size,
            "max_size_text": self.max_size_text,
            "content_types": None if self.content_types is None else list(self.content_types),
            "file_types": None if self.file_types is None else list(self.file_types),
            "login_required": self.login_required,
            **({"per_request": list(self.per_request)} if self.per_request else {}),
        }


def limits_for_view(
    view: Callable[..., Any],
    keys: tuple[str, ...],
    request: HttpRequest | None = None,
    method: str = "POST",
) -> UploadLimits:
    """The limits of the route ``keys`` served by ``view``, for a ``method`` upload."""
    policy = effective_policy(view, method, keys, request).policy
    return UploadLimits(
        policy.max_size, policy.content_types, policy.login_required, policy.per_request
    )


def limits_for_url(
    url: str | None, request: HttpRequest | None = None, method: str = "POST"
) -> UploadLimits | None:
    """The limits of the route a form posts to (``url``; empty or None: the request's own path).

    None when the URL belongs to another host or resolves to no route of this project.
    """
    parts = urlsplit(url or "")
    if parts.netloc and (request is None or parts.netloc != request.get_host()):
        return None
    path = parts.path
    if not path:
        if request is None:
            return None
        path = request.path
    match = resolve_path(path, getattr(request, "urlconf", None))
    if match is None:
        return None
    return limits_for_view(match.func, route_keys(match), request, method)


def add_upload_limits(
    form: forms.BaseForm,
    url: str | None,
    request: HttpRequest | None = None,
    message: str | None = None,
) -> UploadLimits | None:
    """Put the target route's limits on every file input of ``form`` (its widgets' attrs).

    Returns the limits (None when the URL is not a route of this project). Include
    :data:`PRECHECK_SCRIPT` in the page (``{% upload_precheck_script %}`` or the form's Media).
    """
    limits = limits_for_url(url, request)
    if limits is None:
        return None
    for field in form.fields.values():
        if isinstance(field, forms.FileField):
            field.widget.attrs.update(limits.attrs(message))
    return limits
