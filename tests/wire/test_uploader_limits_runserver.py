"""The per-user quota on ``manage.py runserver`` (issue 22), decided from the head with 0 body
bytes on refusal, as under gunicorn and ASGI (tests/wire/test_quota_wire.py). The per-request
limits' table runs on runserver in tests/wire/test_uploader_limits_wire.py, group limits in
tests/wire/test_group_limits_wire.py."""

from __future__ import annotations

import pytest

from tests.servers import WireServer, servers
from tests.wire.test_uploader_limits_wire import _credentials, _upload, sessions

pytestmark = [pytest.mark.e2e, servers("runserver")]

__all__ = ["sessions"]  # the fixture, shared with the gunicorn/ASGI suite


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
