"""TLS (self-signed, trustme) and HTTP/2 on gunicorn 27 with django-expect's hooks.

The relay between client and gunicorn sees only ciphertext, so these tests bound the bytes the
client sent in total (TLS handshake + request head) for an 11 MiB upload that is refused: less
than 16 KiB, where sending the body would cost 11 MiB. Accepted uploads are checked by digest,
and the next request on the same curl process / pycurl handle must still work.

HTTP/2 (``--http-protocols h2,h1``, ALPN) needs the ``h2`` package and the gthread or gevent
worker (the sync worker serves HTTP/1.1 only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import gunicorn
import pytest

from harness.relay import Relay
from harness.server import WORKERS, Server
from tests.clients import tools
from tests.clients.adapters import CurlCLI, PyCurl
from tests.clients.fixtures import bodies
from tests.clients.scenarios import Bodies

__all__ = ["bodies"]  # fixtures

HANDSHAKE_AND_HEAD_BOUND = 16 * 1024
# HTTP/2: the client may send DATA up to the stream's initial flow-control window (65,535 bytes)
# before any answer arrives, Expect or not; gunicorn's --http2-initial-window-size (tried: 0 and
# 1024) did not change what curl sent. One window is what a refusal can cost there.
H2_BOUND = HANDSHAKE_AND_HEAD_BOUND + 65_535
# gunicorn 25 and 26 take the whole HTTP/2 body whatever the application does (measured with
# `make test-matrix`): there the tests assert that the body crossed (docs/howto/deployment.md).
H2_DECIDES_BEFORE_THE_BODY = tuple(int(p) for p in gunicorn.__version__.split(".")[:2]) >= (27, 0)


def check_h2_cost(sent: int, body_size: int) -> None:
    if H2_DECIDES_BEFORE_THE_BODY:
        assert sent < H2_BOUND, sent
    else:
        assert sent >= body_size, sent


# gunicorn's sync worker serves HTTP/1.1 only: no sync/http2 case (rather than a skip).
WORKER_PROTOCOLS = [
    (worker, protocol)
    for worker in WORKERS
    for protocol in ("http1.1", "http2")
    if not (worker == "sync" and protocol == "http2")
]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    trustme = tools.python_module("trustme", "pip install trustme")
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()  # type: ignore[attr-defined]
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {
        "ca": directory / "ca.pem",
        "cert": directory / "cert.pem",
        "key": directory / "key.pem",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(files["cert"]), append=True)
    return {k: str(v) for k, v in files.items()}


@pytest.fixture(scope="module")
def tls_servers(
    project_env_vars: dict[str, str],
    tls_files: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}
    logs = tmp_path_factory.mktemp("tls-logs")

    class Lazy(dict[str, Server]):
        def __missing__(self, worker: str) -> Server:
            args = ["--certfile", tls_files["cert"], "--keyfile", tls_files["key"]]
            if worker != "sync":
                tools.python_module("h2", "pip install 'gunicorn[http2]'")
                args += ["--http-protocols", "h2,h1"]
            server = Server(
                worker, True, logs / f"{worker}.log", project_env_vars, extra_args=args
            ).start()
            server.warm_up(tls_ca=tls_files["ca"])
            started[worker] = server
            self[worker] = server
            return server

    yield Lazy()
    for server in started.values():
        server.stop()


def https(relay: Relay, path: str) -> str:
    return f"https://127.0.0.1:{relay.address[1]}{path}"


@pytest.mark.parametrize(("worker", "protocol"), WORKER_PROTOCOLS)
def test_curl_over_tls_rejection_before_the_body_then_an_upload(
    tls_servers: dict[str, Server],
    tls_files: dict[str, str],
    bodies: Bodies,
    worker: str,
    protocol: str,
) -> None:
    server = tls_servers[worker]
    curl = CurlCLI(extra=["--cacert", tls_files["ca"], f"--{protocol}"])
    version = "HTTP/2" if protocol == "http2" else "HTTP/1.1"
    with Relay(server.address) as relay:
        refused = curl.request("PUT", https(relay, "/objects/tls-big"), bodies.big)
        assert refused.status == 413
        assert (curl.tmp / "h0").read_text().startswith(version)
        relay.wait_quiet()  # counted once the client has stopped sending
        if protocol == "http2":
            check_h2_cost(relay.from_client(), bodies.big.stat().st_size)
        else:
            assert relay.from_client() < HANDSHAKE_AND_HEAD_BOUND, relay.from_client()
        print(f"{worker} {protocol}: 11 MiB refused after {relay.from_client()} client bytes")

        data = bodies.ok.read_bytes()
        stored, back = curl.request_chain(
            [
                ("PUT", https(relay, "/objects/tls-ok"), bodies.ok, None),
                ("GET", https(relay, "/objects/tls-ok"), None, None),
            ]
        )
        assert stored.status == 200
        assert stored.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
        assert back.status == 200 and back.body == data


@pytest.mark.parametrize(("worker", "protocol"), WORKER_PROTOCOLS)
def test_pycurl_over_tls_keeps_its_handle_usable(
    tls_servers: dict[str, Server],
    tls_files: dict[str, str],
    bodies: Bodies,
    worker: str,
    protocol: str,
) -> None:
    server = tls_servers[worker]
    client = PyCurl(cainfo=tls_files["ca"], http2=protocol == "http2")
    try:
        with Relay(server.address) as relay:
            refused = client.request("POST", https(relay, "/api/uploads"), bodies.mid)
            assert refused.status == 401
            relay.wait_quiet()  # counted once the client has stopped sending
            if protocol == "http2":
                check_h2_cost(relay.from_client(), bodies.mid.stat().st_size)
            else:
                assert relay.from_client() < HANDSHAKE_AND_HEAD_BOUND, relay.from_client()
            print(f"pycurl {worker} {protocol}: 2 MiB refused after {relay.from_client()} bytes")
            data = bodies.mid.read_bytes()
            ok = client.request(
                "POST",
                https(relay, "/api/uploads"),
                bodies.mid,
                {"Authorization": "Token demo-token"},
            )
            assert ok.status == 200
            assert ok.json()["sha256"] == hashlib.sha256(data).hexdigest()
            assert client.request("GET", https(relay, "/")).status == 200
    finally:
        client.close()


def test_tls_files_exist(tls_files: dict[str, str]) -> None:
    assert all(Path(p).exists() for p in tls_files.values())
