"""Body limits under ASGI (django_expect.asgi on uvicorn and gunicorn's ``-k asgi``): the view's
max_size replaces Django's DATA_UPLOAD_MAX_MEMORY_SIZE, and Django's own cap answers 413.

The ASGI counterpart of tests/test_e2e_bodylimit.py (gunicorn's WSGI workers). Bodies of
3,000,000 bytes are over Django's default cap (2,621,440) and under the 10 MiB of /lab/bigbody
(reads request.body) and /lab/bigform (reads request.POST); /lab/djangocap has a policy without
max_size, so Django's cap holds there. Bytes on the wire are counted by the TCP relay
(harness/relay.py), read once the relay has been quiet.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test.client import encode_multipart

from harness.asgi_servers import STOCK_APP, ASGIServer, ASGIServerPool
from harness.raw import Exchange, chunked
from harness.relay import Relay
from harness.tools import require
from tests.fakes import upload_head

KINDS = ("uvicorn-h11", "gunicorn-asgi")
DJANGO_CAP = 2_621_440
VIEW_LIMIT = 10 * 2**20
OVER_DJANGO = 3_000_000
RAW = b"\x00\x01binary" * (OVER_DJANGO // 8)
URLENCODED = urlencode({"note": "x" * OVER_DJANGO}).encode()
MULTIPART = encode_multipart("BoUnDaRy", {"a": "x" * 2_000_000, "b": "y" * 1_000_000})
MULTIPART_TYPE = "multipart/form-data; boundary=BoUnDaRy"
FORM_TYPE = "application/x-www-form-urlencoded"


@pytest.fixture(params=KINDS)
def server(request: pytest.FixtureRequest, asgi_pool: ASGIServerPool) -> ASGIServer:
    """uvicorn (h11) or gunicorn's ASGI worker, running the test project's asgi.py."""
    return asgi_pool.get(request.param)


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
    server: ASGIServer, path: str, body: bytes, content_type: str, expected: dict[str, object]
) -> None:
    with Exchange(server.address, timeout=30) as conn:
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
        assert final.header("Connection") != "close"  # the whole body was read: keep-alive


def test_a_chunked_body_over_djangos_cap_under_the_views_is_accepted(server: ASGIServer) -> None:
    with Exchange(server.address, timeout=30) as conn:
        conn.request_head(
            "POST", "/lab/bigbody", {"Transfer-Encoding": "chunked", "Expect": "100-continue"}
        )
        assert conn.read_response().status == 100
        conn.send_body(chunked(RAW, 65536))
        final = conn.read_final()[1]
        assert final.status == 200, final.body[:300]
        assert final.json() == {"size": len(RAW), "sha256": hashlib.sha256(RAW).hexdigest()}


# -- over both: 413 from the head (0 body bytes on the wire), or while reading when chunked ------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/lab/bigbody", "application/octet-stream"),
        ("/lab/bigform", FORM_TYPE),
        ("/lab/bigform", MULTIPART_TYPE),
    ],
)
def test_over_the_views_limit_is_refused_from_the_head(
    server: ASGIServer, path: str, content_type: str
) -> None:
    with Relay(server.address) as relay:
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


def _curl_upload(url: str, body: Path) -> str:
    """curl uploads a file (``-T``: with ``Expect: 100-continue``) and sends the body on a 100,
    or after ``--expect100-timeout`` (10 s: a loaded machine cannot make it send anyway)."""
    curl = require("curl", "curl")
    result = subprocess.run(
        [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30",
         "--expect100-timeout", "10", "-X", "POST",
         "-H", "Content-Type: application/octet-stream", "-T", str(body), url],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    return result.stdout.decode()


def test_curl_over_the_views_limit_crosses_no_body_byte(
    server: ASGIServer, asgi_pool: ASGIServerPool, tmp_path: Path
) -> None:
    """A client that sends its body when invited: refused by the view's limit from the head,
    not one body byte crosses. Control: Django's own handler on uvicorn invites the body first
    (its read_body spools all of it before any middleware runs), and curl sends it."""
    body = tmp_path / "11MB.bin"
    body.write_bytes(b"\x00" * 11_000_000)
    with Relay(server.address) as relay:
        assert _curl_upload(relay.url + "/lab/bigbody", body) == "413"
        relay.wait_quiet()
        assert relay.body_bytes() == 0
    stock = asgi_pool.get("uvicorn-h11", STOCK_APP)
    with Relay(stock.address) as relay:
        assert _curl_upload(relay.url + "/lab/bigbody", body) == "413"
        relay.wait_quiet()
        assert relay.body_bytes() == 11_000_000


def test_a_chunked_body_over_the_views_limit_gets_413_while_reading(server: ASGIServer) -> None:
    with Exchange(server.address, timeout=30) as conn:
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
    ("body", "content_type"),
    [(RAW, "application/octet-stream"), (URLENCODED, FORM_TYPE)],
    ids=["raw", "urlencoded"],
)
def test_djangos_cap_answers_413_before_the_body(
    server: ASGIServer, body: bytes, content_type: str
) -> None:
    """Django checks the declared length before reading: no 100, 0 body bytes, a close."""
    with Relay(server.address) as relay:
        with Exchange(relay.address) as conn:
            conn.request_head("POST", "/lab/djangocap", upload_head(len(body), content_type))
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
