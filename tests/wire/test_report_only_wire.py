"""Report-only mode on the wire (issue 22): every check runs, a would-be refusal is counted
(in the database, written by the server process) and the request goes on as accepted: the 100
when the view reads, the whole body to the view. Under gunicorn (sync with the hooks, two
workers) and django_expect.asgi (uvicorn); the admin's switch reaches the server from another
process.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from harness.process import manage, prepare_database, project_env
from harness.raw import Exchange
from harness.server import Server
from harness.tools import poll
from tests.fakes import upload_head

pytestmark = pytest.mark.e2e

# Which check each request breaks (the first failing one is reported), and how.
CASES = [
    ("login_required", 401, 50, "text/plain", {}),
    ("permission_denied", 403, 50, "text/plain", {"Authorization": "Token plain-token"}),
    ("content_too_large", 413, 5000, "text/plain", {"Authorization": "Token demo-token"}),
    ("unsupported_media_type", 415, 50, "image/png", {"Authorization": "Token demo-token"}),
    ("rejected_by_check", 409, 50, "text/plain", {"Authorization": "Token demo-token"}),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("report-only")
    env = project_env(
        base / "db.sqlite3", base / "media", TEST_EXPECT_FLUSH="0.3", TEST_EXPECT_REFRESH="0.5"
    )
    prepare_database(env)
    return env


def _accepted_whole(
    address: tuple[str, int], path: str, size: int, ctype: str, extra: dict
) -> None:
    body = b"y" * size
    with Exchange(address) as conn:
        conn.request_head("POST", path, upload_head(size, ctype) | extra)
        interim = conn.read_response()
        assert interim.status == 100
        conn.send_body(body)
        more, final = conn.read_final()
        assert more == []
        assert final.status == 200, final.body
        assert final.json() == {"size": size, "sha256": hashlib.sha256(body).hexdigest()}


def _report_only_counts(env: dict[str, str]) -> dict[str, int]:
    script = (
        "import json; from django_expect.models import RejectionCount as R; "
        "print(json.dumps({f'{r.route} {r.reason} {r.status}': r.count "
        "for r in R.objects.filter(report_only=True)}))"
    )
    return dict(json.loads(manage(env, "shell", "-c", script).strip().splitlines()[-1]))


@pytest.mark.parametrize("server_kind", ["gunicorn", "uvicorn"])
def test_every_would_be_refusal_goes_through_and_is_counted(
    request: pytest.FixtureRequest, env: dict[str, str], server_kind: str
) -> None:
    server = request.getfixturevalue(server_kind)
    before = _report_only_counts(env)
    for _reason, _status, size, ctype, extra in CASES:
        _accepted_whole(server.address, "/uploader/report-only", size, ctype, extra)  # type: ignore[attr-defined]
    # with a ticket, nothing fails: not counted
    _accepted_whole(
        server.address,  # type: ignore[attr-defined]
        "/uploader/report-only",
        50,
        "text/plain",
        {"Authorization": "Token demo-token", "X-Upload-Ticket": "valid"},
    )
    if server_kind == "uvicorn":
        return  # the ASGI pool's processes flush every 10 s; counting is shown under gunicorn
    wanted = {
        f"uploader-report-only {reason} {status}": before.get(
            f"uploader-report-only {reason} {status}", 0
        )
        + 1
        for reason, status, *_ in CASES
    }

    def counted() -> dict[str, int] | None:
        now = _report_only_counts(env)
        return now if all(now.get(k) == v for k, v in wanted.items()) else None

    assert poll(counted, timeout=60, interval=0.5) is not None, (wanted, _report_only_counts(env))


def _whole_upload_accepted(server: Server) -> bool | None:
    body = b"y" * 5000
    with Exchange(server.address) as conn:
        conn.request_head("POST", "/lab/small", upload_head(5000))
        if conn.read_response().status != 100:
            return None  # this worker has not seen the switch yet
        conn.send_body(body)
        more, final = conn.read_final()
        assert more == []
        assert final.status == 200, final.body
        assert final.json() == {"size": 5000, "sha256": hashlib.sha256(body).hexdigest()}
        return True


def test_the_admin_switch_reaches_the_server_from_another_process(
    gunicorn: Server, env: dict[str, str]
) -> None:
    def answer() -> int:
        with Exchange(gunicorn.address) as conn:
            conn.request_head("POST", "/lab/small", upload_head(5000))
            return conn.read_response().status

    assert answer() == 413  # enforced: lab/small takes 1000 bytes
    manage(
        env,
        "shell",
        "-c",
        "from django_expect.models import PolicyOverride as P; "
        "P.objects.create(route='lab-small', report_only=True)",
    )
    # Two workers pick the switch up independently: poll until a whole upload goes through
    # (100, then the view's 200 for the full body), whichever worker takes it.
    assert poll(lambda: _whole_upload_accepted(gunicorn), timeout=60, interval=0.2)
    manage(
        env,
        "shell",
        "-c",
        "from django_expect.models import PolicyOverride as P; P.objects.all().delete()",
    )
    assert poll(lambda: 413 if answer() == 413 else None, timeout=60, interval=0.2) == 413
