"""Body limits on the wire, on the servers whose profile runs them (tests/servers.py: gunicorn's
sync, gthread and gevent workers with the hooks, django_expect.asgi on uvicorn and gunicorn
``-k asgi``): the view's max_size replaces Django's DATA_UPLOAD_MAX_MEMORY_SIZE, and Django's own
cap answers 413. Bytes on the wire are counted by the TCP relay (harness/relay.py).

Bodies of 3,000,000 bytes are over Django's default cap (2,621,440) and under the 10 MiB of
/lab/bigbody (reads request.body) and /lab/bigform (reads request.POST); /lab/djangocap and
/lab/djangocap-csrf have a policy without max_size, so Django's cap holds there.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test.client import encode_multipart

from harness.raw import Exchange, chunked
from harness.relay import Relay
from harness.tools import require
from tests.fakes import upload_head
from tests.servers import WireServer, servers

pytestmark = servers(bodylimit=True)


DJANGO_CAP = 2_621_440
VIEW_LIMIT = 10 * 2**20
OVER_DJANGO = 3_000_000
RAW = b"\x00\x01binary" * (OVER_DJANGO // 8)
URLENCODED = urlencode({"note": "x" * OVER_DJANGO}).encode()
MULTIPART = encode_multipart("BoUnDaRy", {"a": "x" * 2_000_000, "b": "y" * 1_000_000})
MULTIPART_TYPE = "multipart/form-data; boundary=BoUnDaRy"
FORM_TYPE = "application/x-www-form-urlencoded"


# -- over Django's cap, under the view's: accepted -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "content_type", "expected"),
    [
        ("/lab/bigbody", RAW, "application/octet-stream", {"size": len(RAW)}),
        ("/lab/bigform", URLENCODED, FORM_TYPE, {"fields": {"note": OVER_DJANGO}, "files": {}}),
        ("/lab/bigform", MULTIPART, MULTIPART_TYPE, {"fields": {"a": 2_000_000, "b": 1_000_000}}),
    ],
    ids=["raw", "urlencoded", "multipart"],
)
def test_over_djangos_cap_under_the_views_is_accepted(
    wire_server: WireServer, path: str, body: bytes, content_type: str, expected: dict[str, object]
) -> None:
    with Exchange(wire_server.address, timeout=30) as conn:
        conn.request_head("POST", path, upload_head(len(body), content_type))
        assert conn.read_response().status == 100
        conn.send_body(body)
        interim, final = conn.read_final()
        assert interim == []
        assert final.status == 200, final.body[:300]
        document = final.json()
        for key, value in expected.items():
            assert document[key] == value
        if "size" in expected:
            assert document["sha256"] == hashlib.sha256(body).hexdigest()
        if wire_server.profile.keep_alive:  # the whole body was read: the connection stays
            assert final.header("Connection") != "close"


def test_a_chunked_body_over_djangos_cap_under_the_views_is_accepted(
    wire_server: WireServer,
) -> None:
    with Exchange(wire_server.address, timeout=30) as conn:
        conn.request_head(
            "POST",
            "/lab/bigbody",
            {"Transfer-Encoding": "chunked", "Expect": "100-continue"},
        )
        assert conn.read_response().status == 100
        conn.send_body(chunked(RAW, 65536))
        final = conn.read_final()[1]
        assert final.status == 200, final.body[:300]
        assert final.json() == {"size": len(RAW), "sha256": hashlib.sha256(RAW).hexdigest()}


# -- over both: 413 from the head (0 body bytes), or while reading when chunked --------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/lab/bigbody", "application/octet-stream"),
        ("/lab/bigform", FORM_TYPE),
        ("/lab/bigform", MULTIPART_TYPE),
    ],
)
def test_over_the_views_limit_is_refused_from_the_head(
    wire_server: WireServer, path: str, content_type: str
) -> None:
    with Relay(wire_server.address) as relay:
        with Exchange(relay.address) as conn:
            conn.request_head("POST", path, upload_head(11_000_000, content_type))
            interim, final = conn.read_final()  # the body is never sent
            assert interim == []
            assert final.status == 413
            assert final.json()["error"]["limit"] == VIEW_LIMIT
            assert final.json()["error"]["code"] == "content_too_large"
            assert final.header("Connection") == "close"
            assert conn.closed_by_server()
        relay.wait_quiet()
        assert relay.body_bytes() == 0


def test_a_chunked_body_over_the_views_limit_gets_413_while_reading(
    wire_server: WireServer,
) -> None:
    with Exchange(wire_server.address, timeout=30) as conn:
        conn.request_head("POST", "/lab/bigbody", {"Transfer-Encoding": "chunked"})
        try:
            conn.send_body(chunked(b"z" * (VIEW_LIMIT + 100_000), 65536))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before the last chunks: what it sent is still read
        final = conn.read_final()[1]
        assert final.status == 413
        assert final.json()["error"] == {
            "status": 413,
            "code": "content_too_large",
            "message": f"the body is larger than the limit of {VIEW_LIMIT} bytes (10 MiB)",
            "limit": VIEW_LIMIT,
        }
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


# -- no max_size: Django's cap answers the package's 413 ---------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/lab/djangocap", RAW, "application/octet-stream"),
        ("/lab/djangocap", URLENCODED, FORM_TYPE),
        ("/lab/djangocap-csrf", URLENCODED, FORM_TYPE),  # CsrfViewMiddleware reads request.POST
    ],
    ids=["raw", "urlencoded", "urlencoded-csrf"],
)
def test_djangos_cap_answers_413_before_the_body(
    wire_server: WireServer, path: str, body: bytes, content_type: str
) -> None:
    """Django checks the declared length before reading: no 100, 0 body bytes, a close."""
    head = upload_head(len(body), content_type, Cookie="csrftoken=" + "a" * 32)
    with Relay(wire_server.address) as relay:
        with Exchange(relay.address) as conn:
            conn.request_head("POST", path, head)
            interim, final = conn.read_final()
            assert interim == []
            assert final.status == 413, final.body[:300]
            assert final.json()["error"] == {
                "status": 413,
                "code": "content_too_large",
                "message": (
                    f"the body is {len(body)} bytes; the limit is {DJANGO_CAP} bytes (2560 KiB)"
                ),
                "limit": DJANGO_CAP,
            }
            assert final.header("Connection") == "close"
            assert conn.closed_by_server()
        relay.wait_quiet()
        assert relay.body_bytes() == 0


def test_djangos_cap_on_multipart_fields_answers_413_while_reading(wire_server: WireServer) -> None:
    body = encode_multipart("BoUnDaRy", {"note": "x" * OVER_DJANGO})
    with Exchange(wire_server.address, timeout=30) as conn:
        conn.request_head("POST", "/lab/djangocap", upload_head(len(body), MULTIPART_TYPE))
        assert conn.read_response().status == 100  # files would not count: the parser must read
        try:
            conn.send_body(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        final = conn.read_final()[1]
        assert final.status == 413
        assert final.json()["error"]["limit"] == DJANGO_CAP
        assert final.json()["error"]["message"].startswith("the form's fields (files aside)")
        assert final.header("Connection") == "close"
        assert conn.closed_by_server()


def test_djangos_cap_on_a_chunked_body_answers_413_while_reading(wire_server: WireServer) -> None:
    with Exchange(wire_server.address, timeout=30) as conn:
        conn.request_head("POST", "/lab/djangocap", {"Transfer-Encoding": "chunked"})
        try:
            conn.send_body(chunked(RAW, 65536))
        except (BrokenPipeError, ConnectionResetError):
            pass
        final = conn.read_final()[1]
        assert final.status == 413
        assert final.json()["error"]["limit"] == DJANGO_CAP
        assert conn.closed_by_server()


def _curl_upload(url: str, body: Path) -> str:
    """curl uploads a file (``-T``: it sends ``Expect: 100-continue``). It waits 1 s for the 100
    by default; 10 s here, so a cold worker under load cannot make it send the body anyway."""
    curl = require("curl", "curl")
    result = subprocess.run(
        [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
         "--expect100-timeout", "10", "-X", "POST",
         "-H", "Content-Type: application/octet-stream", "-T", str(body), url],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    return result.stdout.decode()


def test_curl_is_refused_by_the_views_limit_with_no_body_bytes_on_the_wire(
    wire_server: WireServer, tmp_path: Path
) -> None:
    body = tmp_path / "11MB.bin"
    with body.open("wb") as out:
        out.truncate(11_000_000)  # over /lab/bigbody's 10 MiB
    with Relay(wire_server.address) as relay:
        assert _curl_upload(relay.url + "/lab/bigbody", body) == "413"
        relay.wait_quiet()
        assert relay.body_bytes() == 0
    # The same client under the limit sends its body and is served (the count above can fail).
    small = tmp_path / "3MB.bin"
    small.write_bytes(RAW)
    with Relay(wire_server.address) as relay:
        assert _curl_upload(relay.url + "/lab/bigbody", small) == "200"
        relay.wait_quiet()
        assert relay.body_bytes() == len(RAW)


def test_curl_is_refused_by_djangos_cap_with_no_body_bytes_on_the_wire(
    wire_server: WireServer, tmp_path: Path
) -> None:
    body = tmp_path / "3MB.bin"
    body.write_bytes(RAW)
    with Relay(wire_server.address) as relay:
        assert _curl_upload(relay.url + "/lab/djangocap", body) == "413"
        relay.wait_quiet()  # counted once curl has stopped sending
        assert relay.body_bytes() == 0
