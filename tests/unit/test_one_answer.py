"""Questions with one answer each, asked from every place that needs it: the per-request
timeout (resolved by ``EffectivePolicy.time_limits``, applied by
``ExpectContinueInput.apply_time_limits``, bounding receives through ``rate_bound`` and
``SocketReceiveTimeout``), the route of a path under a script prefix
(``resolution.resolve_path``: the proxy precheck and the browser side agree) and a class-based
view's class (``frameworks.view_class``)."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings
from django.urls import clear_script_prefix, set_script_prefix
from django.views import View

from django_expect import upload_policy
from django_expect.browser import limits_for_url
from django_expect.continuation import (
    BodyTooSlow,
    ExpectContinueInput,
    SocketReceiveTimeout,
    TimeLimits,
)
from django_expect.core import UploadPolicy
from django_expect.policies import policy_of
from django_expect.resolution import effective_policy, resolve_path

# -- the per-request timeout ----------------------------------------------------------------------


def _input(data: bytes = b"x" * 100, **kwargs: object) -> ExpectContinueInput:
    return ExpectContinueInput(
        io.BytesIO(data),
        awaiting=False,
        send_continue=lambda: None,
        close_connection=lambda: None,
        length=len(data),
        **kwargs,  # type: ignore[arg-type]
    )


def test_time_limits_take_the_policys_own_values_else_the_site_wide_ones() -> None:
    def view() -> None: ...

    own = UploadPolicy(body_timeout=3.0, min_rate=10.0, min_rate_grace=1.0)
    with override_settings(EXPECT_BODY_TIMEOUT=7.0, EXPECT_MIN_RATE=None, EXPECT_MIN_RATE_GRACE=2):
        site = effective_policy(view, "POST", (), overrides={})
        assert site.time_limits == TimeLimits(body_timeout=7.0, min_rate=None, min_rate_grace=2.0)
        declared = upload_policy(body_timeout=3.0, min_rate=10.0, min_rate_grace=1.0)(view)
        resolved = effective_policy(declared, "POST", (), overrides={})
        assert resolved.policy == own
        assert resolved.time_limits == TimeLimits(3.0, 10.0, 1.0)
        assert (resolved.body_timeout, resolved.min_rate, resolved.min_rate_grace) == (
            3.0,
            10.0,
            1.0,
        )


def test_applied_limits_bound_the_first_receive() -> None:
    bounds: list[float | None] = []
    body = _input(set_receive_timeout=bounds.append)
    body.apply_time_limits(TimeLimits(body_timeout=4.0))
    assert (body.body_timeout, body.min_rate, body.min_rate_grace) == (4.0, None, 0.0)
    assert body.rate_bound() is None  # no rate: the bound set once stands
    assert body.read(10) == b"x" * 10
    assert bounds == [4.0]
    assert body.read() == b"x" * 90
    assert bounds == [4.0, None]  # the whole body is in: the bound is lifted


def test_the_rate_bound_shrinks_and_ends_in_body_too_slow() -> None:
    now = [50.0]
    body = _input(set_receive_timeout=lambda seconds: None)
    body.clock = lambda: now[0]
    body.apply_time_limits(TimeLimits(body_timeout=20.0, min_rate=10.0, min_rate_grace=2.0))
    assert body.rate_bound() is None  # the meter starts with the first read
    body.read(10)  # 10 bytes at 10 B/s buy one second after the 2 s grace
    assert body.rate_bound() == pytest.approx(3.0)
    now[0] += 2.5
    assert body.rate_bound() == pytest.approx(0.5)
    now[0] += 1.0
    with pytest.raises(BodyTooSlow):
        body.rate_bound()
    assert isinstance(body.failure, BodyTooSlow) and body.closing


def test_no_rate_bound_once_the_response_started() -> None:
    body = _input()
    body.apply_time_limits(TimeLimits(body_timeout=20.0, min_rate=10.0, min_rate_grace=2.0))
    body.read(10)
    assert body.rate_bound() is not None
    body.seal()
    assert body.rate_bound() is None  # the server's drain is the server's


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    try:
        yield left, right
    finally:
        left.close()
        right.close()


def test_the_socket_gets_back_the_timeout_it_had(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    sock = sockets[0]
    sock.settimeout(30.0)
    bound = SocketReceiveTimeout(sock)
    bound.restore()  # nothing set yet: nothing to restore
    assert sock.gettimeout() == 30.0
    bound(2.0)
    bound(1.5)  # a later bound keeps the first prior timeout
    assert sock.gettimeout() == 1.5
    bound(None)
    assert sock.gettimeout() == 30.0
    bound(None)  # restoring twice changes nothing
    assert sock.gettimeout() == 30.0


def test_a_closed_socket_or_none_is_left_alone(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    nothing = SocketReceiveTimeout(None)
    nothing(1.0)
    nothing.restore()
    sock = sockets[0]
    bound = SocketReceiveTimeout(sock)
    bound(1.0)
    sock.close()
    bound.restore()  # no OSError from a socket the server closed already


def test_a_body_timeout_on_the_socket_ends_in_body_timeout(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    from django_expect.continuation import BodyTimeout

    sock, peer = sockets
    peer.sendall(b"abc")  # three of ten declared bytes, then nothing
    body = ExpectContinueInput(
        sock.makefile("rb", buffering=0),
        awaiting=False,
        send_continue=lambda: None,
        close_connection=lambda: None,
        length=10,
        set_receive_timeout=SocketReceiveTimeout(sock),
    )
    body.apply_time_limits(TimeLimits(body_timeout=0.05))
    assert body.read(3) == b"abc"
    with pytest.raises(BodyTimeout, match=r"no body byte arrived for 0\.05 seconds"):
        body.read(7)
    assert body.closing


# -- the route of a path, under a script prefix ---------------------------------------------------


@pytest.fixture
def script_prefix() -> Iterator[str]:
    set_script_prefix("/app/")
    try:
        yield "/app"
    finally:
        clear_script_prefix()


def test_a_prefixed_path_resolves_to_the_route_without_it(script_prefix: str) -> None:
    match = resolve_path(f"{script_prefix}/upload/form")
    assert match is not None and match.route == "upload/form"
    assert resolve_path("/upload/form") is not None  # already without the prefix
    assert resolve_path(f"{script_prefix}/no/such/route") is None
    assert resolve_path("/apple/upload/form") is None  # a prefix is a path segment's start only


def test_the_browser_side_reads_limits_of_a_reversed_url(script_prefix: str) -> None:
    limits = limits_for_url(f"{script_prefix}/upload/form")
    assert limits is not None and limits.max_size == 5_000_000


def test_the_precheck_strips_the_prefix_the_proxy_forwards(
    client: Client, script_prefix: str
) -> None:
    # Django's test client does not set the script prefix from SCRIPT_NAME (its handler
    # does): the fixture sets it as WSGIHandler would for a site served under /app.
    def precheck(uri: str, length: int) -> int:
        return client.get(
            "/_expect/precheck/precise",
            HTTP_X_ORIGINAL_METHOD="POST",
            HTTP_X_ORIGINAL_URI=uri,
            HTTP_X_ORIGINAL_CONTENT_LENGTH=str(length),
            HTTP_X_ORIGINAL_CONTENT_TYPE="multipart/form-data; boundary=x",
        ).status_code

    assert precheck(f"{script_prefix}/upload/form", 6_000_000) == 413  # over the route's 5 MB
    assert precheck(f"{script_prefix}/upload/form", 1_000) == 204
    assert precheck(f"{script_prefix}/no/such/route", 6_000_000) == 204  # not ours: no opinion


# -- a class-based view's class -------------------------------------------------------------------


def test_a_policy_on_the_class_is_found_from_django_and_drf_callbacks() -> None:
    @upload_policy(max_size=10)
    class Upload(View):
        pass

    django_callback = Upload.as_view()
    policy = policy_of(django_callback)
    assert policy is not None and policy.max_size == 10

    def drf_callback() -> None: ...

    drf_callback.cls = Upload  # type: ignore[attr-defined]  # what DRF's as_view() sets
    assert policy_of(drf_callback) is policy

    def not_a_class() -> None: ...

    not_a_class.view_class = "Upload"  # type: ignore[attr-defined]
    assert policy_of(not_a_class) is None
