"""What the view's body limit leaves alone: a project's own request class whose ``body`` is not
Django's property, and multipart parser classes that are not Django's or parse on their own (they
keep Django's global cap; the middleware still answers 413)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser

from django_expect.bodylimit import _capped_parser, _request_class


def test_a_request_class_with_its_own_body_is_left_as_it_is() -> None:
    class OwnBody(HttpRequest):
        body = b"fixed"  # type: ignore[assignment]

    assert _request_class(OwnBody, 10) is OwnBody
    assert _request_class(HttpRequest, 10) is not HttpRequest  # Django's: capped


def test_parsers_that_are_not_djangos_keep_their_own_reading() -> None:
    class NotAParser:
        pass

    class OwnParse(MultiPartParser):
        def _parse(self) -> Any:  # type: ignore[override]
            return super()._parse()  # type: ignore[misc]

    class Plain(MultiPartParser):
        pass

    assert _capped_parser(NotAParser, 10) is NotAParser
    assert _capped_parser(OwnParse, 10) is OwnParse
    capped = _capped_parser(Plain, 10)
    assert capped is not Plain and issubclass(capped, Plain)
    assert capped.__name__ == "Plain"
    assert _capped_parser(Plain, 10) is capped  # one class per (parser, limit)
