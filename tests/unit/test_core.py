"""The decision core, table by table: sizes, media types, policies and decisions.

Bytes in, decisions out: no Django, no server. Each row is one promise of the README.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from django_expect.core import (
    ContinueTiming,
    ExpectMode,
    PolicyError,
    Reason,
    RequestHead,
    UploadPolicy,
    decide,
    format_size,
    media_type_allowed,
    parse_size,
)

# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (0, 0),
        (1000, 1000),
        ("0", 0),
        ("123", 123),
        ("10B", 10),
        ("10KB", 10_000),
        ("10kb", 10_000),
        ("10MB", 10_000_000),
        ("10 MB", 10_000_000),
        ("10MiB", 10_485_760),
        ("10mib", 10_485_760),
        ("1GB", 10**9),
        ("1GiB", 2**30),
        ("2TB", 2 * 10**12),
        ("1TiB", 2**40),
        ("1.5MB", 1_500_000),
        ("0.5KiB", 512),
        (" 7 kib ", 7168),
    ],
)
def test_parse_size(value: int | str, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize(
    "value", [-1, "-1", "", "MB", "10XB", "10 M B", "1.5B", "0.3KiB", "1e6", 1.5, True, None, b"1"]
)
def test_parse_size_refuses(value: object) -> None:
    with pytest.raises(PolicyError):
        parse_size(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1024, "1 KiB"),
        (10_485_760, "10 MiB"),
        (10_000_000, "10 MB"),
        (5 * 10**9, "5 GB"),
        (2**30, "1 GiB"),
        (1_500_000, "1500 kB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


# -- media types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "allowed", "ok"),
    [
        ("image/png", ["image/*"], True),
        ("IMAGE/PNG", ["image/*"], True),
        ("image/png; q=1", ["image/png"], True),
        ("application/pdf", ["image/*", "application/pdf"], True),
        ('multipart/form-data; boundary="x"', ["multipart/form-data"], True),
        ("text/plain", ["image/*", "application/pdf"], False),
        ("imagefoo/png", ["image/*"], False),
        ("text/plain", ["*/*"], True),
        (None, ["*/*"], False),
        ("", ["*/*"], False),
        ("nonsense", ["*/*"], False),
        ("a/b/c", ["*/*"], False),
    ],
)
def test_media_type_allowed(content_type: str | None, allowed: list[str], ok: bool) -> None:
    assert media_type_allowed(content_type, allowed) is ok


# -- policy validation ------------------------------------------------------------------------


def test_build_normalises() -> None:
    policy = UploadPolicy.build(
        max_size="10MB",
        content_types="Image/PNG; charset=x",
        permission="app.add_thing",
        expect="after-checks",
    )
    assert policy.max_size == 10_000_000
    assert policy.content_types == ("image/png",)
    assert policy.permissions == ("app.add_thing",)
    assert policy.expect is ExpectMode.AFTER_CHECKS
    assert UploadPolicy.build(permission=["a.b", "c.d"]).permissions == ("a.b", "c.d")
    assert UploadPolicy.build() == UploadPolicy()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_size": "ten"}, "cannot read 'ten' as a size"),
        ({"max_size": -5}, "negative"),
        ({"content_types": []}, "content_types is empty"),
        ({"content_types": ["image"]}, "'image' is not a media type"),
        ({"content_types": ["*/png"]}, "'*/png' is not a media type"),
        ({"content_types": ["image/pn*"]}, "'image/pn*' is not a media type"),
        ({"content_types": [3]}, "must be strings"),
        ({"login_required": "yes"}, "login_required must be True or False"),
        ({"permission": "add_thing"}, "'app_label.codename'"),
        ({"permission": 5}, "permission must be"),
        ({"check": "not callable"}, "check must be a callable"),
        ({"expect": "sometimes"}, "expect must be one of 'on-read', 'after-checks', 'refuse'"),
    ],
)
def test_build_refuses(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(PolicyError, match=fragment.replace("*", r"\*")):
        UploadPolicy.build(**kwargs)  # type: ignore[arg-type]


# -- decisions --------------------------------------------------------------------------------


@dataclass
class User:
    is_authenticated: bool = True
    perms: tuple[str, ...] = ()

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return all(p in self.perms for p in perm_list)


ANON = User(is_authenticated=False)
ALICE = User(perms=("app.upload",))
BOB = User()

LIMITED = UploadPolicy.build(max_size=1000)
TYPED = UploadPolicy.build(content_types=["image/*"])
LOGIN = UploadPolicy.build(login_required=True)
PERM = UploadPolicy.build(permission="app.upload")
EVERYTHING = UploadPolicy.build(
    max_size=1000, content_types=["image/*"], login_required=True, permission="app.upload"
)
AFTER = UploadPolicy.build(expect="after-checks")
REFUSE = UploadPolicy.build(expect="refuse", max_size=1000)

EXPECT = {"expect": "100-continue"}
N, W, R, NOW = (
    ContinueTiming.NOT_EXPECTED,
    ContinueTiming.WITHHOLD,
    ContinueTiming.ON_READ,
    ContinueTiming.NOW,
)

# (head fields, policy, user) -> (status or None if it proceeds, continue timing)
DECISIONS = [
    # no body: nothing to decide, whatever the policy
    ({}, EVERYTHING, ANON, None, N),
    ({"content_length": "0", **EXPECT}, EVERYTHING, ANON, None, N),
    ({"method": "GET", "content_length": "0"}, LIMITED, None, None, N),
    # accepted bodies: the 100 on read, or now, or not at all
    ({"content_length": "10", **EXPECT}, UploadPolicy(), None, None, R),
    ({"content_length": "1000", **EXPECT}, LIMITED, None, None, R),
    ({"content_length": "10"}, LIMITED, None, None, N),
    ({"content_length": "10", **EXPECT}, AFTER, None, None, NOW),
    ({"content_length": "10", "expect": "100-CONTINUE"}, LIMITED, None, None, R),
    ({"content_length": "10", "expect": " 100-continue , 100-continue"}, LIMITED, None, None, R),
    ({"content_length": "10", "expect": ""}, LIMITED, None, None, N),
    ({"content_length": "10", "http_version": (1, 0), **EXPECT}, LIMITED, None, None, N),
    ({"transfer_encoding": "chunked", **EXPECT}, LIMITED, None, None, R),
    ({"transfer_encoding": "gzip, chunked"}, LIMITED, None, None, N),
    # size
    ({"content_length": "1001", **EXPECT}, LIMITED, None, 413, W),
    ({"content_length": "1001"}, LIMITED, None, 413, N),
    ({"content_length": "99999999999999999999", **EXPECT}, LIMITED, None, 413, W),
    ({"content_length": "1001", "http_version": (1, 0), **EXPECT}, LIMITED, None, 413, N),
    ({"content_length": "1001, 1001"}, LIMITED, None, 413, N),
    # media type
    ({"content_length": "10", "content_type": "image/png", **EXPECT}, TYPED, None, None, R),
    ({"content_length": "10", "content_type": "text/plain", **EXPECT}, TYPED, None, 415, W),
    ({"content_length": "10", **EXPECT}, TYPED, None, 415, W),
    # login and permission
    ({"content_length": "10", **EXPECT}, LOGIN, ANON, 401, W),
    ({"content_length": "10", **EXPECT}, LOGIN, None, 401, W),
    ({"content_length": "10", **EXPECT}, LOGIN, BOB, None, R),
    ({"content_length": "10", **EXPECT}, PERM, BOB, 403, W),
    ({"content_length": "10", **EXPECT}, PERM, None, 403, W),
    ({"content_length": "10", **EXPECT}, PERM, ALICE, None, R),
    # the order of checks: login, permission, size, type
    ({"content_length": "5000", "content_type": "text/plain"}, EVERYTHING, ANON, 401, N),
    ({"content_length": "5000", "content_type": "text/plain"}, EVERYTHING, BOB, 403, N),
    ({"content_length": "5000", "content_type": "text/plain"}, EVERYTHING, ALICE, 413, N),
    ({"content_length": "500", "content_type": "text/plain"}, EVERYTHING, ALICE, 415, N),
    ({"content_length": "500", "content_type": "image/gif"}, EVERYTHING, ALICE, None, N),
    # expectations
    ({"content_length": "10", "expect": "magic"}, LIMITED, None, 417, N),
    ({"content_length": "10", "expect": "100-continue, magic"}, LIMITED, None, 417, N),
    ({"content_length": "0", "expect": "magic"}, LIMITED, None, 417, N),
    ({"content_length": "10", **EXPECT}, REFUSE, None, 417, W),
    ({"content_length": "10"}, REFUSE, None, None, N),
    ({"content_length": "5000", **EXPECT}, REFUSE, None, 417, W),
    ({"content_length": "10", "http_version": (1, 0), **EXPECT}, REFUSE, None, None, N),
    # malformed framing
    ({"content_length": "ten"}, LIMITED, None, 400, N),
    ({"content_length": "-1"}, LIMITED, None, 400, N),
    ({"content_length": "10, 11", **EXPECT}, LIMITED, None, 400, W),
    ({"content_length": "10", "transfer_encoding": "chunked"}, LIMITED, None, 400, N),
    ({"transfer_encoding": "chunked, gzip"}, LIMITED, None, 400, N),
]


@pytest.mark.parametrize(("head", "policy", "user", "status", "timing"), DECISIONS)
def test_decide(
    head: dict[str, object],
    policy: UploadPolicy,
    user: User | None,
    status: int | None,
    timing: ContinueTiming,
) -> None:
    decision = decide(RequestHead(**head), policy, user)  # type: ignore[arg-type]
    assert decision.status == status
    assert decision.proceed is (status is None)
    assert decision.continue_timing is timing
    if status is not None:
        assert decision.reason is not None and decision.message
        assert decision.close_connection is decision.has_body


def test_a_rejection_says_what_and_why() -> None:
    too_big = decide(RequestHead(content_length="2000000"), UploadPolicy.build(max_size="1MB"))
    assert too_big.reason is Reason.CONTENT_TOO_LARGE
    assert too_big.limit == 1_000_000
    assert too_big.message == "the body is 2000000 bytes; the limit is 1000000 bytes (1 MB)"
    wrong_type = decide(RequestHead(content_length="1", content_type="text/plain"), TYPED)
    assert wrong_type.allowed == ("image/*",)
    assert wrong_type.reason is Reason.UNSUPPORTED_MEDIA_TYPE


def test_undeclared_length_can_be_refused_with_411() -> None:
    decision = decide(RequestHead(transfer_encoding="chunked"), LIMITED, allow_chunked=False)
    assert decision.status == 411
    assert decision.reason is Reason.LENGTH_REQUIRED
    assert decide(RequestHead(content_length="5"), LIMITED, allow_chunked=False).proceed


def test_the_user_is_not_consulted_unless_the_policy_needs_it() -> None:
    class Explodes:
        @property
        def is_authenticated(self) -> bool:
            raise AssertionError("consulted")

        def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
            raise AssertionError("consulted")

    assert decide(RequestHead(content_length="5"), LIMITED, Explodes()).proceed


@pytest.mark.parametrize(
    ("environ", "head"),
    [
        ({}, RequestHead(method="GET")),
        (
            {
                "REQUEST_METHOD": "put",
                "SERVER_PROTOCOL": "HTTP/1.0",
                "HTTP_EXPECT": "100-continue",
                "CONTENT_LENGTH": "5",
                "CONTENT_TYPE": "text/plain",
                "HTTP_TRANSFER_ENCODING": "chunked",
            },
            RequestHead("PUT", (1, 0), "100-continue", "5", "chunked", "text/plain"),
        ),
        ({"CONTENT_LENGTH": "", "SERVER_PROTOCOL": "weird"}, RequestHead(method="GET")),
    ],
)
def test_head_from_wsgi(environ: dict[str, str], head: RequestHead) -> None:
    assert RequestHead.from_wsgi(environ) == head


def test_the_core_imports_neither_django_nor_gunicorn() -> None:
    code = (
        "import sys, django_expect.core, django_expect.continuation, django_expect.gunicorn; "
        "print(sorted(m for m in ('django', 'gunicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
