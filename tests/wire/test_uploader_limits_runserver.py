"""Per-user limits on ``manage.py runserver`` (issue 22): the per-request ``max_size`` and
``content_types`` of the uploader (session cookie, Token middleware, DRF authenticator) and
the per-user quota, decided from the head with 0 body bytes on refusal, as under gunicorn and
ASGI (tests/wire/test_uploader_limits_wire.py has the same table for those; group limits on
runserver: tests/wire/test_group_limits_wire.py)."""

from __future__ import annotations

import pytest

from tests.servers import WireServer, servers
from tests.wire.test_uploader_limits_wire import CASES, _credentials, _upload, sessions

pytestmark = [pytest.mark.e2e, servers("runserver")]

__all__ = ["sessions"]  # the fixture, shared with the gunicorn/ASGI suite


@pytest.mark.parametrize(("path", "how", "user", "size", "ctype", "status", "code"), CASES)
def test_the_limit_is_the_uploaders_on_runserver(
    wire_server: WireServer,
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
    final, sent = _upload(wire_server.address, path, size, headers)
    assert final.status == status, final.body
    if code is None:
        assert final.json()["size"] == size
        assert final.json()["user"] == ("" if user == "anonymous" else user)
    else:
        assert sent == 0
        assert final.json()["error"]["code"] == code


@pytest.mark.parametrize(("size", "status"), [(1000, 200), (1001, 413)])
def test_the_uploaders_quota_on_runserver(
    wire_server: WireServer, sessions: dict[str, str], size: int, status: int
) -> None:
    headers = _credentials("token-middleware", "plain", sessions)
    final, sent = _upload(wire_server.address, "/uploader/quota", size, headers)
    assert final.status == status, final.body
    if status == 413:
        assert sent == 0
        assert final.json()["error"]["code"] == "quota_exceeded"
    else:
        assert sent == size
