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
from typing import Any, Literal, TypeVar, cast

from django.conf import settings as django_settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser

from django_expect.conf import conf
from django_expect.fileobj import is_seekable
from django_expect.streams import CappedStream, swap_request_stream

__all__ = ["capped_request_class", "limit_body"]

_EXCEEDED_ATTRIBUTE = "_django_expect_exceeded"
_Request = TypeVar("_Request", bound=HttpRequest)


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


def capped_request_class(base: type[_Request]) -> type[_Request]:
    """``base`` with Django's own cap (``DATA_UPLOAD_MAX_MEMORY_SIZE``) held on every path: the
    class ``django_expect.asgi``'s handler builds its requests from."""
    return cast("type[_Request]", _request_class(base, None))  # type: ignore[arg-type]


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

    Relies on Django's code (read in 5.2.19, 6.0.10 and 6.1.3; tests/unit/test_bodylimit.py runs on
    each):

    * ``HttpRequest.body`` (``django/http/request.py``) and, where it exists,
      ``HttpRequest._check_data_too_big`` read the cap as ``settings.DATA_UPLOAD_MAX_MEMORY_SIZE``
      through their module's global name ``settings``, at call time;
    * ``MultiPartParser._parse`` (``django/http/multipartparser.py``) reads it the same way for
      the non-file fields; ``HttpRequest.parse_file_upload`` builds the parser from the property
      ``multipart_parser_class`` (Django 6.1+; a project may set its own class per request) or,
      before 6.1, from its module's global name ``MultiPartParser``;
    * ``HttpRequest.body`` checks the real size of a seekable stream only (6.0.4+, CVE-2026-33034)
      and reads a non-seekable one whole: here a non-seekable stream is read through a
      :class:`~django_expect.streams.CappedStream` that raises ``RequestDataTooBig`` past the cap,
      so no path reads more than the cap plus one read's buffer into memory;
    * ``request.POST`` and ``request.FILES`` call ``self._load_post_and_files()``, which raises
      RequestDataTooBig, TooManyFieldsSent and TooManyFilesSent (from ``body``, ``QueryDict`` or
      the parser).

    For a limit, those functions are re-created from Django's own code objects with a copy of
    their module's globals in which ``settings`` answers ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with the
    limit and everything else from Django's settings. The subclass is immutable once built and
    shared by every request with the same class and limit.
    """

    body_attribute = getattr(base, "body", None)
    if not isinstance(body_attribute, property):  # a project's own request class: leave it be
        return base
    body_get: Any = body_attribute.fget
    load_post_and_files: Any = base._load_post_and_files
    namespace: dict[str, Any] = {"__module__": __name__, "_django_expect_base": base}
    if limit is not None:
        capped = _SettingsWithLimit(limit)
        body_get = _rebound(body_get, settings=capped)
        check_too_big = getattr(base, "_check_data_too_big", None)  # 5.2.13+, 6.0.4+, 6.1
        if check_too_big is not None:
            namespace["_check_data_too_big"] = _rebound(check_too_big, settings=capped)
        parser_property = getattr(base, "multipart_parser_class", None)
        if isinstance(parser_property, property):  # Django 6.1+
            getter: Any = parser_property.fget

            def multipart_parser_class(self: HttpRequest) -> Any:
                return _capped_parser(getter(self), limit)

            namespace["multipart_parser_class"] = property(
                multipart_parser_class, parser_property.fset
            )
        else:
            namespace["parse_file_upload"] = _rebound(
                base.parse_file_upload, MultiPartParser=_capped_parser(MultiPartParser, limit)
            )

    def body(self: HttpRequest) -> bytes:
        capped: CappedStream | None = None
        stream: Any = None
        if "_body" not in self.__dict__ and not getattr(self, "_read_started", False):
            cap = limit if limit is not None else conf.DATA_UPLOAD_MAX_MEMORY_SIZE
            stream = swap_request_stream(self)
            if cap is not None and not is_seekable(stream):
                capped = CappedStream(stream, cap, _no_callback, _too_big)
                swap_request_stream(self, capped)
        try:
            data: bytes = body_get(self)
        except RequestDataTooBig as error:
            _record(self, error, limit)
            if capped is not None and capped.bytes_read == 0:
                # Refused from the declared length, nothing read: the view may stream it.
                swap_request_stream(self, stream)
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


def _rebound(function: Any, **names: Any) -> Any:
    """A copy of ``function`` whose module globals have ``names`` replaced."""
    copy = types.FunctionType(
        function.__code__,
        {**function.__globals__, **names},
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__qualname__ = function.__qualname__
    return copy


def _no_callback() -> None:
    return None


def _too_big(message: str) -> Exception:
    return RequestDataTooBig(f"Request body exceeded the limit: {message}.")


@functools.lru_cache(maxsize=512)
def _capped_parser(parser: type[Any], limit: int) -> type[Any]:
    """``parser`` whose ``_parse`` reads ``limit`` as ``DATA_UPLOAD_MAX_MEMORY_SIZE``.

    A parser class that defines its own ``_parse`` (a project's ``multipart_parser_class``) is
    returned as it is: it keeps Django's global cap, which the middleware still answers 413.
    """
    if not (isinstance(parser, type) and issubclass(parser, MultiPartParser)):
        return parser
    if parser._parse is not MultiPartParser._parse:  # type: ignore[attr-defined]
        return parser
    parse = _rebound(MultiPartParser._parse, settings=_SettingsWithLimit(limit))  # type: ignore[attr-defined]
    return type(parser.__name__, (parser,), {"__module__": parser.__module__, "_parse": parse})
