"""Per-request limits on the wire (issue 22): ``max_size`` and ``content_types`` computed from
the uploader, before any body byte, under gunicorn with the hooks, under django_expect.asgi
and under ``manage.py runserver``.

Plans (tests/testapp/uploader_views.py): anonymous 100 bytes, a user 1000 bytes of text/plain,
a superuser 100 kB of anything. Users come from a session cookie, the Token middleware, or a
DRF authenticator run from the head.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.asgi_servers import ASGIServerPool, require_server
from harness.process import manage
from harness.raw import Exchange
from harness.wsgi_servers import WSGIServerPool
from tests.conftest import ServerPool
from tests.fakes import upload_head

pytestmark = pytest.mark.e2e

SESSION_SCRIPT = (
    "from django.contrib.auth import get_user_model, SESSION_KEY, BACKEND_SESSION_KEY, "
    "HASH_SESSION_KEY\n"
    "from django.contrib.sessions.backends.db import SessionStore\n"
    "u = get_user_model().objects.get(username='{user}')\n"
    "s = SessionStore()\n"
    "s[SESSION_KEY] = str(u.pk)\n"
    "s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
    "s[HASH_SESSION_KEY] = u.get_session_auth_hash()\n"
    "s.save()\n"
    "print(s.session_key)\n"
)


@pytest.fixture(scope="module")
def sessions(project_env_vars: dict[str, str]) -> dict[str, str]:
    """Session cookies for ``plain`` and ``demo``, written to the servers' database."""
    return {
        user: manage(project_env_vars, "shell", "-c", SESSION_SCRIPT.format(user=user))
        .strip()
        .splitlines()[-1]
        for user in ("plain", "demo")
    }


@pytest.fixture(params=["sync", "gthread", "uvicorn-h11", "runserver"])
def address(
    request: pytest.FixtureRequest,
    server_pool: ServerPool,
    asgi_pool: ASGIServerPool,
    wsgi_pool: WSGIServerPool,
) -> tuple[str, int]:
    if request.param.startswith("uvicorn"):
        require_server(request.param)
        return asgi_pool.get(request.param).address
    if request.param == "runserver":
        return wsgi_pool.get(request.param).address
    return server_pool.get(request.param).address


def _credentials(how: str, user: str, sessions: dict[str, str]) -> dict[str, str]:
    if user == "anonymous":
        return {}
    if how == "session":
        return {"Cookie": f"sessionid={sessions[user]}"}
    if how == "token-middleware":
        return {"Authorization": f"Token {user}-token"}
    return {"Authorization": f"Bearer {user}-token"}  # the DRF authenticator


def _upload(
    address: tuple[str, int], path: str, size: int, headers: dict[str, str]
) -> tuple[Any, int]:
    """POST ``size`` bytes with Expect; (final response, body bytes sent)."""
    head = upload_head(size) | headers
    with Exchange(address) as conn:
        conn.request_head("POST", path, head)
        first = conn.read_response()
        if first.status != 100:
            assert first.header("Connection") == "close"
            assert conn.closed_by_server()
            return first, 0
        conn.send_body(b"x" * size)
        interim, final = conn.read_final()
        assert interim == []
        return final, size


CASES = [
    # (route, how the user authenticates, user, size, content type, status, code)
    ("/uploader/plan", "session", "anonymous", 101, "text/plain", 413, "content_too_large"),
    ("/uploader/plan", "session", "anonymous", 100, "text/plain", 200, None),
    ("/uploader/plan", "session", "plain", 1001, "text/plain", 413, "content_too_large"),
    ("/uploader/plan", "session", "plain", 1000, "text/plain", 200, None),
    ("/uploader/plan", "session", "plain", 500, "image/png", 415, "unsupported_media_type"),
    ("/uploader/plan", "session", "demo", 5000, "image/png", 200, None),
    ("/uploader/plan", "session", "demo", 100_001, "image/png", 413, "content_too_large"),
    ("/uploader/plan", "token-middleware", "plain", 1001, "text/plain", 413, "content_too_large"),
    ("/uploader/plan", "token-middleware", "demo", 5000, "image/png", 200, None),
    ("/uploader/drf-plan", "drf", "anonymous", 101, "text/plain", 413, "content_too_large"),
    ("/uploader/drf-plan", "drf", "plain", 1001, "text/plain", 413, "content_too_large"),
    ("/uploader/drf-plan", "drf", "plain", 1000, "text/plain", 200, None),
    ("/uploader/drf-plan", "drf", "demo", 5000, "image/png", 200, None),
]


@pytest.mark.parametrize(("path", "how", "user", "size", "ctype", "status", "code"), CASES)
def test_the_limit_is_the_uploaders(
    address: tuple[str, int],
    sessions: dict[str, str],
    path: str,
    how: str,
    user: str,
    size: int,
    ctype: str,
    status: int,
    code: str | None,
) -> None:
    if path == "/uploader/drf-plan":
        pytest.importorskip("rest_framework")
    headers = {"Content-Type": ctype, **_credentials(how, user, sessions)}
    final, sent = _upload(address, path, size, headers)
    assert final.status == status, final.body
    if code is None:
        assert final.json()["size"] == size
        assert final.json()["user"] == ("" if user == "anonymous" else user)
    else:
        assert sent == 0
        assert final.json()["error"]["code"] == code


@pytest.mark.parametrize("path", ["/uploader/bad-value", "/uploader/raising"])
def test_a_failing_callable_is_a_503_refusal_not_a_crash(
    address: tuple[str, int], path: str
) -> None:
    final, sent = _upload(address, path, 50, {})
    assert sent == 0
    assert final.status == 503
    assert final.json()["error"]["code"] == "policy_unavailable"
    assert "Traceback" not in final.body.decode()


def test_options_discovery_tells_each_uploader_their_own_limit(
    address: tuple[str, int], sessions: dict[str, str]
) -> None:
    seen = {}
    for user in ("anonymous", "plain", "demo"):
        with Exchange(address) as conn:
            conn.request_head("OPTIONS", "/uploader/plan", _credentials("session", user, sessions))
            response = conn.read_response()
        assert response.status == 200
        seen[user] = (response.header("Upload-Limit"), response.json()["upload"]["max_size"])
    assert seen == {
        "anonymous": ("max-size=100", 100),
        "plain": ("max-size=1000", 1000),
        "demo": ("max-size=100000", 100000),
    }


def test_the_proxy_precheck_applies_the_uploaders_limit(
    address: tuple[str, int], sessions: dict[str, str]
) -> None:
    results = {}
    for user, length in (("plain", 1001), ("plain", 1000), ("demo", 5000)):
        with Exchange(address) as conn:
            conn.request_head(
                "GET",
                "/_expect/precheck/precise",
                {
                    "X-Original-URI": "/uploader/plan",
                    "X-Original-Method": "POST",
                    "X-Original-Content-Length": str(length),
                    "X-Original-Content-Type": "text/plain",
                    **_credentials("session", user, sessions),
                },
            )
            results[(user, length)] = conn.read_response().status
    assert results == {("plain", 1001): 413, ("plain", 1000): 204, ("demo", 5000): 204}
