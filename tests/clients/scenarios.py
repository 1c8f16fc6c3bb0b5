"""The client scenario every topology runs: rejections cost 0 body bytes, the pool survives.

One scenario, for one client session, through one byte-counting relay:

1. an upload the policy rejects, on a fresh connection: the precise status, 0 body bytes;
2. a GET on the pool (keep-alive where the worker keeps connections), then
3. the same rejected upload again, now possibly on that reused connection (Go's Transport sends
   the body anyway on a kept-alive rejection unless the server says ``Connection: close``):
   still 0 body bytes, counted over every connection the client opened;
4. an accepted 3 MiB upload (``PUT /objects/<key>``, ETag = MD5) and
5. reading it back on the same pool: the bytes are identical (a digest), so nothing of the
   rejected bodies or the earlier exchanges corrupted the pool.

Body bytes are counted by harness/relay.py, never by the client: per connection, the
bytes the client sent that are not request heads (heads of body-less requests are parsed
sequentially; the first byte that does not start a request head ends the parse, so anything
after a head, a body byte included, is counted).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from harness.relay import ConnectionStats, Relay
from tests.clients.adapters import Boto3, Client, CurlCLI, Result

_REQUEST_LINE = re.compile(rb"[A-Z]+ \S+ HTTP/1\.[01]\r\n")


def non_head_bytes(stats: ConnectionStats) -> int:
    """Bytes of one connection from the client that are not body-less request heads."""
    prefix = bytes(stats.client_prefix)
    pos = 0
    while _REQUEST_LINE.match(prefix, pos):
        end = prefix.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        pos = end + 4
    return stats.from_client - pos


def wire_body_bytes(relay: Relay) -> int:
    """Body bytes the client put on the wire, over every connection through ``relay``, read once
    the relay is quiet (a client still sending after its answer is counted)."""
    relay.wait_quiet()
    return sum(non_head_bytes(c) for c in list(relay.connections))


@dataclass(frozen=True)
class Rejection:
    name: str
    method: str
    path: str  # "{key}" is replaced by a fresh object key
    body: str  # which body file: "big" (11 MiB) or "mid" (2 MiB)
    headers: tuple[tuple[str, str], ...]
    status: int


REJECTIONS = {
    "too_large": Rejection(
        "too_large",
        "PUT",
        "/objects/{key}",
        "big",
        (("Content-Type", "application/octet-stream"),),
        413,
    ),
    "wrong_type": Rejection(
        "wrong_type", "POST", "/lab/types", "mid", (("Content-Type", "text/plain"),), 415
    ),
    "no_login": Rejection(
        "no_login",
        "POST",
        "/api/uploads",
        "mid",
        (("Content-Type", "application/octet-stream"),),
        401,
    ),
}


@dataclass(frozen=True)
class Bodies:
    ok: Path  # 3 MiB random: accepted by PUT /objects/<key> (10 MiB)
    mid: Path  # 2 MiB: above libcurl 8's 1 MiB Expect threshold
    big: Path  # 11 MiB: over the 10 MiB object limit

    @classmethod
    def make(cls, directory: Path) -> Bodies:
        import os

        paths = {}
        for name, size in (("ok", 3 * 2**20), ("mid", 2 * 2**20), ("big", 11 * 2**20)):
            path = directory / f"{name}.bin"
            if not path.exists():
                path.write_bytes(os.urandom(size))
            paths[name] = path
        return cls(**paths)


def _extra_headers(client: Client) -> dict[str, str]:
    # Node and Go send Expect only when the application asks; curl, libcurl and botocore decide
    # themselves; aiohttp is asked through expect100=True by its adapter.
    return {"Expect": "100-continue"} if client.name in ("node", "go") else {}


def reject(client: Client, base: str, rejection: Rejection, bodies: Bodies) -> Result:
    key = f"reject-{uuid.uuid4().hex}"
    body = getattr(bodies, rejection.body)
    if isinstance(client, Boto3):
        assert rejection.name == "too_large"
        return client.put_object(key, body)
    headers = dict(rejection.headers) | _extra_headers(client)
    return client.request(rejection.method, base + rejection.path.format(key=key), body, headers)


def run_scenario(client: Client, relay: Relay, rejection: Rejection, bodies: Bodies) -> None:
    base = relay.url
    # 1. a rejection on a fresh connection
    result = reject(client, base, rejection, bodies)
    assert result.status == rejection.status, (result.status, result.body[:300])
    assert wire_body_bytes(relay) == 0, _explain(relay)

    # 2-3. a GET, then the rejection again, on the pool
    key = f"ok-{uuid.uuid4().hex}"
    if isinstance(client, Boto3):
        missing = _boto_get_missing(client, key)
        assert missing == 404
        result = reject(client, base, rejection, bodies)
    elif isinstance(client, CurlCLI):
        rejection_job = (
            rejection.method,
            base + rejection.path.format(key=key + "-r"),
            getattr(bodies, rejection.body),
            dict(rejection.headers),
        )
        first, result = client.request_chain([("GET", base + "/", None, None), rejection_job])
        assert first.status == 200
    else:
        assert client.request("GET", base + "/").status == 200
        result = reject(client, base, rejection, bodies)
    assert result.status == rejection.status
    assert wire_body_bytes(relay) == 0, _explain(relay)

    # 4-5. an accepted upload arrives whole, and reads back identical on the same pool
    data = bodies.ok.read_bytes()
    md5, sha = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    if isinstance(client, Boto3):
        stored = client.put_object(key, bodies.ok)
        back = client.get_object(key)
    else:
        headers = {"Content-Type": "application/octet-stream"} | _extra_headers(client)
        if isinstance(client, CurlCLI):
            stored, back = client.request_chain(
                [
                    ("PUT", f"{base}/objects/{key}", bodies.ok, headers),
                    ("GET", f"{base}/objects/{key}", None, None),
                ]
            )
        else:
            stored = client.request("PUT", f"{base}/objects/{key}", bodies.ok, headers)
            back = client.request("GET", f"{base}/objects/{key}")
    assert stored.status == 200, (stored.status, stored.body[:300])
    assert stored.headers.get("etag") == f'"{md5}"'
    assert back.status == 200
    assert hashlib.sha256(back.body).hexdigest() == sha


def _boto_get_missing(client: Boto3, key: str) -> int:
    from botocore.exceptions import ClientError

    try:
        client.get_object(key)
    except ClientError as error:
        return int(error.response["ResponseMetadata"]["HTTPStatusCode"])
    return 200


def _explain(relay: Relay) -> str:
    return "; ".join(
        f"connection {n}: {c.from_client} bytes from the client, {non_head_bytes(c)} not heads,"
        f" starts {bytes(c.client_prefix[:200])!r}"
        for n, c in enumerate(list(relay.connections))
    )
