"""Admin limits per user group on the wire (issue 22): group rows created from another process
(``manage.py shell``, as an operator's admin on another host) reach a 2-worker gunicorn with the
hooks, django_expect.asgi (uvicorn) and ``manage.py runserver`` with no configuration; a member
of group "pro" gets the group's limit (100, then the whole body), anyone else the route's (413,
0 body bytes).

The uploader is the one the login check sees: the Token middleware's user on ``/lab/small``,
the view's DRF authenticator (``Authorization: Bearer``) on ``/uploader/drf-plan``, where the
group's value replaces the per-request callable's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from harness.process import manage, prepare_database, project_env
from harness.raw import Exchange
from harness.tools import poll
from harness.wsgi_servers import WSGIServerPool
from tests.fakes import upload_head

pytestmark = pytest.mark.e2e

#: Whole uploads a member must get through in a row once the change is seen: new connections,
#: so both workers of the gunicorn answer (each refreshes on its own).
IN_A_ROW = 10
HANG = 60.0  # a poll gives up only after this long: it detects a hang, it measures nothing

SETUP = (
    "from django.contrib.auth.models import Group, User\n"
    "from django_expect.models import GroupLimit, PolicyOverride\n"
    "pro, _ = Group.objects.get_or_create(name='pro')\n"
    "User.objects.get(username='plain').groups.add(pro)\n"
    "for route, types in (('lab-small', ''), ('uploader-drf-plan', '*/*')):\n"
    "    o, _ = PolicyOverride.objects.get_or_create(route=route)\n"
    "    GroupLimit.objects.create(override=o, group='pro', max_size=1_000_000, "
    "content_types=types)\n"
)
TEARDOWN = (
    "from django_expect.models import PolicyOverride\n"
    "PolicyOverride.objects.filter(route__in=['lab-small', 'uploader-drf-plan']).delete()\n"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("group-limits")
    env = project_env(base / "db.sqlite3", base / "media", TEST_EXPECT_REFRESH="0.5")
    prepare_database(env)
    return env


@pytest.fixture(scope="module")
def runserver(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pool = WSGIServerPool(env, tmp_path_factory.mktemp("runserver"))
    try:
        yield pool.get("runserver")
    finally:
        pool.stop_all()


@pytest.fixture(params=["gunicorn", "uvicorn", "runserver"])
def server(request: pytest.FixtureRequest, env: dict[str, str]) -> Iterator[Any]:
    server = request.getfixturevalue(request.param)
    yield server
    manage(env, "shell", "-c", TEARDOWN)


def _accepted_whole(address: tuple[str, int], path: str, size: int, headers: dict) -> bool | None:
    """True when the whole body went up and the view saw it all; None when refused (a worker
    that has not seen the change yet)."""
    body = b"y" * size
    with Exchange(address) as conn:
        conn.request_head("POST", path, upload_head(size, "image/png") | headers)
        if conn.read_response().status != 100:
            return None
        conn.send_body(body)
        more, final = conn.read_final()
        assert more == []
        assert final.status == 200, final.body
        assert final.json()["size"] == size
        if "sha256" in final.json():
            assert final.json()["sha256"] == hashlib.sha256(body).hexdigest()
        return True


def _refused_before_the_body(address: tuple[str, int], path: str, size: int, headers: dict) -> None:
    with Exchange(address) as conn:
        conn.request_head("POST", path, upload_head(size, "image/png") | headers)
        first = conn.read_response()
        assert first.status == 413, first.body
        assert first.json()["error"]["code"] == "content_too_large"
        assert first.header("Connection") == "close"
        assert conn.closed_by_server()  # 0 body bytes were sent


def _seen_in_a_row(address: tuple[str, int], path: str, size: int, headers: dict) -> bool | None:
    return (
        True
        if all(_accepted_whole(address, path, size, headers) for _ in range(IN_A_ROW))
        else None
    )


ROUTES = [
    # path, the pro member's credentials, another user's, the size
    (
        "/lab/small",
        {"Authorization": "Token plain-token"},
        {"Authorization": "Token demo-token"},
        5000,
    ),
    ("/uploader/drf-plan", {"Authorization": "Bearer plain-token"}, {}, 5000),
]


def test_a_group_limit_from_another_process_reaches_the_server(
    server: Any, env: dict[str, str]
) -> None:
    drf = True
    try:
        import rest_framework  # noqa: F401
    except ImportError:
        drf = False
    routes = [r for r in ROUTES if drf or r[0] != "/uploader/drf-plan"]
    address = server.address
    for path, member, _other, size in routes:
        _refused_before_the_body(address, path, size, member)  # not a group limit yet
    manage(env, "shell", "-c", SETUP)
    for path, member, other, size in routes:

        def seen(path: str = path, member: dict = member, size: int = size) -> bool | None:
            return _seen_in_a_row(address, path, size, member)

        assert poll(seen, timeout=HANG, interval=0.2)
        _refused_before_the_body(address, path, size, other)
        _refused_before_the_body(address, path, 2_000_000, member)  # over the group's limit
    manage(env, "shell", "-c", TEARDOWN)
    for path, member, _other, size in routes:

        def enforced(path: str = path, member: dict = member, size: int = size) -> bool | None:
            for _ in range(IN_A_ROW):
                if _accepted_whole(address, path, size, member):
                    return None
            return True

        assert poll(enforced, timeout=HANG, interval=0.2)
