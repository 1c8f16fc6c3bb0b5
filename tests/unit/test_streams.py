"""Every stream the package hands to Django or a server is an ``io`` file object, and Django's
own readers (``body``, ``read``, ``readline``, iteration, ``POST``, ``FILES`` with both upload
handlers and their size probe) work through each of them, with Django's caps held.

Django 6.0.4+ calls ``request._stream.seekable()`` in ``HttpRequest.body`` and 6.0.5+ probes
``seek(0, SEEK_END)`` in ``MemoryFileUploadHandler.handle_raw_input``: a stream that is not a
file object answers 500 there (tests/wire/test_conformance.py shows it on the wire).
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest
from django.test import override_settings

from django_expect.asgi import ASGIBody, _SpooledBody
from django_expect.bodylimit import capped_request_class, limit_body
from django_expect.continuation import ExpectContinueInput
from django_expect.fileobj import ReadOnlyStream
from django_expect.streams import CappedStream, declare_length, swap_request_stream

BODY = b"first line\nsecond line\n" + b"x" * 70_000 + b"\nlast"


def _expect_input(body: bytes) -> ExpectContinueInput:
    return ExpectContinueInput(
        io.BytesIO(body),
        awaiting=True,
        send_continue=lambda: None,
        close_connection=lambda: None,
        length=len(body),
    )


def _capped(body: bytes) -> CappedStream:
    return CappedStream(io.BytesIO(body), None, lambda: None)


def _spooled(body: bytes) -> _SpooledBody:
    spool = tempfile.SpooledTemporaryFile()  # noqa: SIM115 (owned by the _SpooledBody)
    spool.write(body)
    spool.seek(0)
    return _SpooledBody(spool)


STREAMS: dict[str, Callable[[bytes], io.IOBase]] = {
    "ExpectContinueInput": _expect_input,
    "CappedStream": _capped,
    "SpooledBody": _spooled,
}


@pytest.fixture(scope="module")
def event_loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """A server's event loop, running in its own thread: ASGIBody reads from a sync view's thread
    submit to it, as under django_expect.asgi."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _asgi_body(loop: asyncio.AbstractEventLoop) -> Callable[[bytes], io.IOBase]:
    def make(body: bytes) -> io.IOBase:
        step = 16_384
        messages = [
            {"type": "http.request", "body": body[i : i + step], "more_body": i + step < len(body)}
            for i in range(0, max(len(body), 1), step)
        ]

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        return ASGIBody(receive, loop, len(body))

    return make


@pytest.fixture(params=[*sorted(STREAMS), "ASGIBody"])
def make(
    request: pytest.FixtureRequest, event_loop_thread: asyncio.AbstractEventLoop
) -> Callable[[bytes], io.IOBase]:
    if request.param == "ASGIBody":
        return _asgi_body(event_loop_thread)
    return STREAMS[request.param]


def test_each_stream_is_a_readable_io_object(make: Callable[[bytes], io.IOBase]) -> None:
    stream = make(BODY)
    assert isinstance(stream, io.IOBase)
    assert stream.readable()
    assert not stream.writable()
    assert not stream.closed
    if isinstance(stream, ReadOnlyStream):
        assert not stream.seekable()
        with pytest.raises(io.UnsupportedOperation):
            stream.seek(0, io.SEEK_END)
        with pytest.raises(io.UnsupportedOperation):
            stream.tell()
    else:
        assert stream.seekable()
        assert stream.seek(0, io.SEEK_END) == len(BODY)
        assert stream.seek(0) == 0


def test_read_readline_readinto_iteration_and_close(make: Callable[[bytes], io.IOBase]) -> None:
    stream = make(BODY)
    assert stream.readline() == b"first line\n"
    buffer = bytearray(7)
    assert stream.readinto(buffer) == 7  # type: ignore[attr-defined]
    assert bytes(buffer) == b"second "
    assert stream.read(5) == b"line\n"  # type: ignore[attr-defined]
    rest = list(stream)
    assert b"".join(rest) == BODY[len(b"first line\nsecond line\n") :]
    assert stream.read() == b""  # type: ignore[attr-defined]
    stream.close()
    assert stream.closed
    with pytest.raises(ValueError):
        stream.read(1)  # type: ignore[attr-defined]


def test_readlines_with_a_hint(make: Callable[[bytes], io.IOBase]) -> None:
    assert make(BODY).readlines(5) == [b"first line\n"]
    assert b"".join(make(BODY).readlines()) == BODY


def _request(stream: Any, *, content_type: str, length: int | None) -> WSGIRequest:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": "" if length is None else str(length),
        "wsgi.input": io.BytesIO(b""),
    }
    request = WSGIRequest(environ)
    swap_request_stream(request, stream)
    return request


FORM = b"a=1&b=" + b"y" * 1000


def test_django_reads_body_and_post_through_each_stream(
    make: Callable[[bytes], io.IOBase],
) -> None:
    request = _request(make(FORM), content_type="application/x-www-form-urlencoded", length=None)
    limit_body(request, None)
    assert request.body == FORM
    assert request.POST["a"] == "1"


def _multipart(size: int) -> bytes:
    return (
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="f.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"z" * size + b"\r\n--B--\r\n"
    )


@pytest.mark.parametrize("size", [1000, 3_000_000], ids=["memory-handler", "temporary-file"])
def test_django_parses_files_through_each_stream(
    make: Callable[[bytes], io.IOBase], size: int
) -> None:
    """Both upload handlers, including 6.0.5's ``seek(0, SEEK_END)`` size probe."""
    body = _multipart(size)
    request = _request(make(body), content_type="multipart/form-data; boundary=B", length=len(body))
    limit_body(request, None)
    upload = request.FILES["f"]
    assert upload.size == size
    assert upload.read(3) == b"zzz"


JSON = json.dumps({"name": "report", "tags": ["a", "b"], "pad": "p" * 5000}).encode()


def test_drf_parsers_read_through_each_stream(make: Callable[[bytes], io.IOBase]) -> None:
    """DRF's JSON, form and multipart parsers (``rest_framework.request.Request.data``)."""
    from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
    from rest_framework.request import Request

    parsers = [JSONParser(), FormParser(), MultiPartParser()]
    cases = [
        ("application/json", JSON, lambda data: data["tags"] == ["a", "b"]),
        ("application/x-www-form-urlencoded", FORM, lambda data: data["a"] == "1"),
    ]
    for content_type, body, check in cases:
        request = _request(make(body), content_type=content_type, length=len(body))
        limit_body(request, None)
        assert check(Request(request, parsers=parsers).data)
    body = _multipart(3_000_000)
    request = _request(make(body), content_type="multipart/form-data; boundary=B", length=len(body))
    limit_body(request, None)
    assert Request(request, parsers=parsers).data["f"].size == 3_000_000


def test_ninja_parser_reads_through_each_stream(make: Callable[[bytes], io.IOBase]) -> None:
    """django-ninja's body parser (``ninja.parser.Parser.parse_body``) and its ``File`` source
    (``request.FILES``)."""
    from ninja.parser import Parser

    request = _request(make(JSON), content_type="application/json", length=len(JSON))
    limit_body(request, None)
    assert Parser().parse_body(request)["name"] == "report"
    body = _multipart(1000)
    request = _request(make(body), content_type="multipart/form-data; boundary=B", length=len(body))
    limit_body(request, None)
    assert request.FILES["f"].size == 1000


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
@pytest.mark.parametrize("limit", [None, 5_000, 50_000])
def test_the_memory_cap_holds_on_an_undeclared_length(limit: int | None) -> None:
    """No declared length, a stream that cannot seek: Django 6.x would read it whole. The view's
    limit, else Django's cap, still holds: what is read is the cap plus at most one read's
    buffer (the inner stream reads in 8 KiB steps), never the whole body."""
    source = io.BytesIO(b"q" * 20_000)
    request = _request(_capped(b""), content_type="application/octet-stream", length=None)
    swap_request_stream(request, CappedStream(source, None, lambda: None))
    limit_body(request, limit)
    cap = 10_000 if limit is None else limit
    if cap < 20_000:
        with pytest.raises(RequestDataTooBig):
            request.body  # noqa: B018
        assert source.tell() <= cap + 8192
    else:
        assert len(request.body) == 20_000


def test_the_asgi_request_class_holds_djangos_cap() -> None:
    from django.core.handlers.asgi import ASGIRequest

    capped = capped_request_class(ASGIRequest)
    assert issubclass(capped, ASGIRequest)
    assert isinstance(capped.__dict__["body"], property)
    assert capped_request_class(ASGIRequest) is capped  # built once


def test_a_project_parser_class_is_kept(settings: Any) -> None:
    """Django 6.1: a ``multipart_parser_class`` a project sets is used as it is."""
    import django
    from django.http.multipartparser import MultiPartParser

    if django.VERSION < (6, 1):
        pytest.skip("multipart_parser_class is Django 6.1+")

    class Own(MultiPartParser):
        def _parse(self) -> Any:  # type: ignore[override]
            return {"own": ["1"]}, {}

    body = _multipart(10)
    request = _request(_capped(body), content_type="multipart/form-data; boundary=B", length=10)
    limit_body(request, 5)
    request.multipart_parser_class = Own  # type: ignore[attr-defined]
    assert request.multipart_parser_class is Own  # type: ignore[attr-defined]


def test_the_view_limit_reaches_the_61_parser() -> None:
    """Django 6.1 builds the parser from ``multipart_parser_class``: the view's limit reaches it
    (a 3 MB field under a 10 MiB limit parses; the same field under 1 MB is too big)."""
    field = b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + b"x" * 3_000_000
    body = field + b"\r\n--B--\r\n"

    def parse(limit: int) -> HttpRequest:
        request = _request(
            _capped(body), content_type="multipart/form-data; boundary=B", length=len(body)
        )
        limit_body(request, limit)
        return request

    assert len(parse(10 * 1024 * 1024).POST["a"]) == 3_000_000
    with pytest.raises(RequestDataTooBig):
        parse(1_000_000).POST  # noqa: B018


@pytest.mark.parametrize("value", ["5, 5", "5,5", " 5 ,5 "])
def test_a_content_length_list_of_one_value_reads_the_whole_body(value: str) -> None:
    """Django frames a WSGI body by ``int(CONTENT_LENGTH)``, 0 when that fails: the list the
    core reads as 5 (RFC 9110 8.6) would read as empty, and Django 5.2's ``body`` raises."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "CONTENT_LENGTH": value,
        "wsgi.input": io.BytesIO(b"hello, and what is not the body"),
    }
    request = WSGIRequest(environ)
    declare_length(request, 5)
    assert request.META["CONTENT_LENGTH"] == "5"
    assert request.body == b"hello"


def test_declare_length_keeps_a_single_value_and_its_stream() -> None:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "CONTENT_LENGTH": "5"}
    environ["wsgi.input"] = io.BytesIO(b"hello")
    request = WSGIRequest(environ)
    stream = swap_request_stream(request)
    declare_length(request, 5)
    assert swap_request_stream(request) is stream
