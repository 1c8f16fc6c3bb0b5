"""Per-endpoint policies of DRF and django-ninja, on the wire (docs/howto/api-frameworks.md).

Real gunicorn with django-expect's hooks (sync, gthread, gevent); curl as the client (it waits
for ``100 Continue`` before sending a body, 10 s here so a loaded machine cannot make it send
early); harness/relay.py counts the bytes curl put on the wire. Each endpoint of
tests/testapp/api_views.py refuses a 2 MB upload with the precise status before any body byte,
and accepts a small one (the demo's own endpoints: tests/tooling/test_demo.py). The control: stock
gunicorn (no hook) invites the same body.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.raw import Exchange
from harness.relay import Relay
from harness.server import Server
from harness.tools import poll, require

if TYPE_CHECKING:
    from tests.conftest import ServerPool


BASIC_DEMO = "Basic " + base64.b64encode(b"demo:demo").decode()


@dataclass(frozen=True)
class Upload:
    method: str
    path: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/octet-stream"
    size: int = 800  # accepted uploads: under every 1000-byte limit
    form: bool = False  # multipart (curl -F file=@...)
    json: bool = False  # a small JSON document instead of raw bytes


ACCEPTED = {
    "drf-viewset-create": Upload("POST", "/drf/lab/", 201, json=True),
    "drf-viewset-update": Upload("PUT", "/drf/lab/7/", 200, size=1500),  # its own 2000 bytes
    "drf-viewset-class": Upload("PATCH", "/drf/lab/7/", 200, size=2500),  # the class's 3000
    "drf-action": Upload("POST", "/drf/lab/blob/", 200),
    "drf-action-other-order": Upload("POST", "/drf/lab/7/attach/", 200),
    "drf-action-auth": Upload("POST", "/drf/lab/private/", 200, (("Authorization", BASIC_DEMO),)),
    "drf-generic": Upload("POST", "/drf/generic", 201, json=True),
    "drf-generic-update": Upload("PUT", "/drf/note", 200, size=1500),  # its own 2000 bytes
    "drf-generic-partial-update": Upload("PATCH", "/drf/note", 200),  # its own 1000 bytes
    "drf-apiview": Upload("POST", "/drf/plain", 200),
    "ninja-json": Upload("POST", "/ninja/json", 200, json=True),
    "ninja-multipart": Upload("POST", "/ninja/files", 200, form=True, size=500),
    "ninja-raw": Upload("PUT", "/ninja/raw", 200),
    "ninja-async": Upload("POST", "/ninja/async", 200),
    "ninja-router": Upload("POST", "/ninja/router/upload", 200),
    "ninja-nested-router": Upload("POST", "/ninja/router/nested/deep", 200),
    "ninja-same-path-put": Upload("PUT", "/ninja/items", 200, size=1500),  # PUT: 2000 bytes
    "ninja-api-key": Upload("POST", "/ninja/keyed", 200, (("X-API-Key", "demo-key"),)),
    "ninja-bearer": Upload("POST", "/ninja/bearer", 200, (("Authorization", "Bearer lab-token"),)),
}

REFUSED_SIZE = 2_000_000  # over every lab limit


def Refused(*args: Any, **kwargs: Any) -> Upload:
    """A refused upload: 2 MB unless said otherwise."""
    return Upload(*args, **{"size": REFUSED_SIZE, **kwargs})


REFUSED = {
    "drf-viewset-create": Refused("POST", "/drf/lab/", 413, content_type="application/json"),
    "drf-viewset-update": Refused("PUT", "/drf/lab/7/", 413),
    "drf-viewset-class": Refused("PATCH", "/drf/lab/7/", 413),
    "drf-action": Refused("POST", "/drf/lab/blob/", 415, content_type="text/plain", size=800),
    "drf-action-other-order": Refused("POST", "/drf/lab/7/attach/", 413),
    "drf-action-auth": Refused("POST", "/drf/lab/private/", 401),
    "drf-generic": Refused("POST", "/drf/generic", 413, content_type="application/json"),
    "drf-generic-update": Refused("PUT", "/drf/note", 413),
    # 1500 bytes: under PUT's 2000, over PATCH's own 1000 (a route-wide limit would take it)
    "drf-generic-partial-update": Refused("PATCH", "/drf/note", 413, size=1500),
    "drf-apiview": Refused("POST", "/drf/plain", 413),
    "ninja-json": Refused("POST", "/ninja/json", 413, content_type="application/json"),
    "ninja-multipart": Refused("POST", "/ninja/files", 413, form=True),
    "ninja-raw": Refused("PUT", "/ninja/raw", 413),
    "ninja-async": Refused("POST", "/ninja/async", 413),
    "ninja-router": Refused("POST", "/ninja/router/upload", 413),
    "ninja-nested-router": Refused("POST", "/ninja/router/nested/deep", 413),
    "ninja-same-path-post": Refused("POST", "/ninja/items", 413),  # POST: 1000 bytes
    "ninja-api-key": Refused("POST", "/ninja/keyed", 401, (("X-API-Key", "wrong"),)),
    "ninja-bearer": Refused("POST", "/ninja/bearer", 401, (("Authorization", "Bearer wrong"),)),
}


def curl(url: str, upload: Upload, body: Path) -> tuple[int, Any]:
    """Upload ``body`` with curl, waiting up to 10 s for 100 Continue; (status, JSON or None)."""
    args = [
        require("curl", "curl"),
        "-sS",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        upload.method,
        "-H",
        "Expect: 100-continue",
        "--expect100-timeout",
        "10",
        "--max-time",
        "60",
    ]
    for name, value in upload.headers:
        args += ["-H", f"{name}: {value}"]
    if upload.form:
        args += ["-F", f"file=@{body};type=application/octet-stream"]
    else:
        content_type = "application/json" if upload.json else upload.content_type
        args += ["-H", f"Content-Type: {content_type}", "--data-binary", f"@{body}"]
    done = subprocess.run([*args, url], capture_output=True, timeout=90, check=False)
    out, _, code = done.stdout.rpartition(b"\n")
    try:
        document = json.loads(out) if out else None
    except ValueError:
        document = None
    return int(code or 0), document


def _body(tmp_path: Path, upload: Upload, size: int) -> Path:
    path = tmp_path / "body"
    if upload.json:
        empty = len(json.dumps({"name": "note", "text": ""}))
        path.write_bytes(json.dumps({"name": "note", "text": "x" * (size - empty)}).encode())
    else:
        path.write_bytes(bytes(range(256)) * (size // 256) + b"\0" * (size % 256))
    return path


def _body_bytes_after_close(relay: Relay) -> int:
    """Body bytes curl sent, once the relay has closed every connection (nothing in flight)."""
    poll(lambda: all(c.closed for c in relay.connections) or None, timeout=15)
    return sum(c.body_bytes for c in relay.connections)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_before_any_body_byte(server: Server, tmp_path: Path, name: str) -> None:
    upload = REFUSED[name]
    body = _body(tmp_path, upload, upload.size)
    with Relay(server.address) as relay:
        status, document = curl(relay.url + upload.path, upload, body)
        assert status == upload.status, document
        assert document["error"]["status"] == upload.status
        assert _body_bytes_after_close(relay) == 0


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_upload_reaches_the_endpoint(server: Server, tmp_path: Path, name: str) -> None:
    upload = ACCEPTED[name]
    body = _body(tmp_path, upload, upload.size)
    with Relay(server.address) as relay:
        status, document = curl(relay.url + upload.path, upload, body)
        assert status == upload.status, document
        if upload.json:
            assert isinstance(document, dict) and "error" not in document  # parsed by the API
        else:
            assert document["size"] == upload.size
        assert _body_bytes_after_close(relay) >= upload.size


def test_control_stock_gunicorn_invites_the_body(server_pool: ServerPool) -> None:
    """Without the hook gunicorn invites the refused upload (its eager 100) before the policy
    answers, which is what the tests above show the hook prevents. Deterministic: the wire's
    first answer is read, not a count that depends on how fast curl stops sending."""
    stock = server_pool.get("gthread", hook=False)
    upload = REFUSED["drf-viewset-update"]
    with Exchange(stock.address) as conn:
        conn.request_head(
            upload.method,
            upload.path,
            {
                "Content-Type": upload.content_type,
                "Content-Length": str(REFUSED_SIZE),
                "Expect": "100-continue",
            },
        )
        first = conn.read_response(timeout=30)
        assert first.status == 100  # the body is invited before Django runs
        _, final = conn.read_final(timeout=30)
        assert final.status == 413  # the policy still answers, but only after the 100 went out
