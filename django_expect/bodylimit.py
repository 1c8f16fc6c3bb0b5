"""The body limit in force when Django reads a request's body into memory, and which one it broke.

Django reads bodies into memory in two places, both capped by one global setting,
``DATA_UPLOAD_MAX_MEMORY_SIZE``: ``request.body`` (also behind ``request.POST`` for urlencoded
forms) and ``MultiPartParser`` (the non-file fields of ``request.POST`` for multipart forms).
Over it Django raises ``RequestDataTooBig``, which Django's handler answers 400.

* :func:`limit_body` makes a route's ``max_size`` that cap for one request, larger or smaller
  than the setting (``None`` keeps Django's). Everything else about ``request.body`` and form
  parsing stays Django's own, including ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` and
  ``DATA_UPLOAD_MAX_NUMBER_FILES``.
* :func:`exceeded_limit` says which of Django's caps the request broke (size, fields, files) and
  what the cap was, whatever then caught the exception: the view, ``CsrfViewMiddleware`` (whose
  ``process_view`` reads ``request.POST`` and lets these exceptions reach Django's handler, which
  never calls ``process_exception`` for them), or Django's handler. The middleware turns it into
  its own 413.

Thread safety: nothing of Django's is modified. The request's class is swapped for a subclass
built once per (request class, limit) and never changed afterwards; Django's settings, modules
and classes are untouched, so concurrent requests (gthread threads, gevent greenlets, ASGI tasks)
each see only their own request's limit.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from typing import Any, Literal

from django.conf import settings as django_settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser

from django_expect.conf import conf

__all__ = ["ExceededLimit", "exceeded_limit", "limit_body"]

_EXCEEDED_ATTRIBUTE = "_django_expect_exceeded"


@dataclasses.dataclass(frozen=True)
class ExceededLimit:
    """One of Django's body caps that a request broke, and its value."""

    kind: Literal["size", "fields", "files"]
    limit: int | None


def limit_body(request: HttpRequest, limit: int | None) -> None:
    """Make ``limit`` (bytes; None: Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``) the cap on what
    ``request.body`` and ``request.POST`` read into memory, and record a broken cap."""
    current = type(request)
    base = current.__dict__.get("_django_expect_base", current)  # already limited: start over
    request.__class__ = _request_class(base, limit)


def exceeded_limit(request: HttpRequest) -> ExceededLimit | None:
    """The cap this request broke while Django read its body, if any."""
    value: ExceededLimit | None = request.__dict__.get(_EXCEEDED_ATTRIBUTE)
    return value


def _record(request: HttpRequest, error: Exception, size_limit: int | None) -> None:
    if _EXCEEDED_ATTRIBUTE in request.__dict__:
        return  # the first cap broken is the one to report (body, then the form built on it)
    exceeded: ExceededLimit
    if isinstance(error, TooManyFieldsSent):
        exceeded = ExceededLimit("fields", conf.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    elif isinstance(error, TooManyFilesSent):
        exceeded = ExceededLimit("files", conf.DATA_UPLOAD_MAX_NUMBER_FILES)
    else:
        limit = size_limit if size_limit is not None else conf.DATA_UPLOAD_MAX_MEMORY_SIZE
        exceeded = ExceededLimit("size", limit)
    request.__dict__[_EXCEEDED_ATTRIBUTE] = exceeded


class _SettingsWithLimit:
    """Django's settings, except ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (read-only, one per limit)."""

    def __init__(self, limit: int) -> None:
        self.DATA_UPLOAD_MAX_MEMORY_SIZE = limit

    def __getattr__(self, name: str) -> Any:
        return getattr(django_settings, name)


@functools.lru_cache(maxsize=512)
def _request_class(base: type[HttpRequest], limit: int | None) -> type[HttpRequest]:
    """A subclass of ``base`` whose body reads are capped at ``limit`` and recorded when broken.

    Relies on Django's code (read in 4.2.30, 5.1.15 and 5.2.19; tests/test_bodylimit.py runs on
    each):

    * ``HttpRequest.body`` (``django/http/request.py``) and, where it exists,
      ``HttpRequest._check_data_too_big`` read the cap as ``settings.DATA_UPLOAD_MAX_MEMORY_SIZE``
      through their module's global name ``settings``, at call time;
    * ``MultiPartParser._parse`` (``django/http/multipartparser.py``) reads it the same way for
      the non-file fields, and ``HttpRequest.parse_file_upload`` builds the parser through its
      module's global name ``MultiPartParser``;
    * ``request.POST`` and ``request.FILES`` call ``self._load_post_and_files()``, which raises
      RequestDataTooBig, TooManyFieldsSent and TooManyFilesSent (from ``body``, ``QueryDict`` or
      the parser).

    For a limit, those functions are re-created from Django's own code objects with a copy of
    their module's globals in which ``settings`` answers ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with the
    limit and everything else from Django's settings. The subclass is immutable once built and
    shared by every request with the same class and limit.
    """

    def rebound(function: Any, **names: Any) -> Any:
        globals_ = {**function.__globals__, **names}
        copy = types.FunctionType(
            function.__code__,
            globals_,
            function.__name__,
            function.__defaults__,
            function.__closure__,
        )
        copy.__kwdefaults__ = function.__kwdefaults__
        copy.__qualname__ = function.__qualname__
        return copy

    body_attribute = getattr(base, "body", None)
    if not isinstance(body_attribute, property):  # a project's own request class: leave it be
        return base
    body_get: Any = body_attribute.fget
    load_post_and_files: Any = base._load_post_and_files
    namespace: dict[str, Any] = {"__module__": __name__, "_django_expect_base": base}
    if limit is not None:
        capped = _SettingsWithLimit(limit)
        body_get = rebound(body_get, settings=capped)
        check_too_big = getattr(base, "_check_data_too_big", None)  # in 4.2.30, 5.2.19; not 5.1.15
        if check_too_big is not None:
            namespace["_check_data_too_big"] = rebound(check_too_big, settings=capped)
        parse: Any = getattr(MultiPartParser, "_parse", None)
        if parse is not None:
            parser = type(
                "MultiPartParser",
                (MultiPartParser,),
                {"__module__": __name__, "_parse": rebound(parse, settings=capped)},
            )
            namespace["parse_file_upload"] = rebound(base.parse_file_upload, MultiPartParser=parser)

    def body(self: HttpRequest) -> bytes:
        try:
            data: bytes = body_get(self)
        except RequestDataTooBig as error:
            _record(self, error, limit)
            raise
        return data

    def _load_post_and_files(self: HttpRequest) -> None:
        try:
            load_post_and_files(self)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as error:
            _record(self, error, limit)
            raise

    namespace["body"] = property(body)
    namespace["_load_post_and_files"] = _load_post_and_files
    return type(base.__name__, (base,), namespace)
