"""django-expect behind the proxies people deploy: HAProxy, Caddy, nginx (configs in deploy/).

Client -> byte-counting relay -> proxy -> gunicorn (sync, gthread, gevent) with the hooks. What
is counted is what the client put on the wire, so a proxy that invites the body itself shows up.

* HAProxy (default HTTP mode) and Caddy (``expect_continue_timeout``) forward Expect and relay
  gunicorn's decision: every client scenario of test_clients.py passes through them unchanged.
* HAProxy with ``option http-buffer-request`` answers 100 itself: the body crosses the wire.
* nginx answers 100 itself; ``client_max_body_size`` (413) and ``auth_request`` against
  django-expect's precheck (401, and 403 mapped back to 413/415 with ``error_page``) still refuse
  before the body. Any other status from ``auth_request`` becomes 500, so the production
  ``location /`` maps the precise status back with ``error_page`` (tested for 401, 403, 411, 413,
  415); the framing errors the precheck would answer 400 never reach it: nginx answers them 400
  itself, before ``auth_request`` (tested too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.process import stop_process
from harness.raw import Exchange
from harness.relay import Relay
from harness.server import WORKERS, Server
from tests.clients.adapters import CurlCLI
from tests.clients.fixtures import (
    CLIENTS,
    ClientFactory,
    ProxyPool,
    bodies,
    go_build_dir,
    make_client,
    proxy_pool,
)
from tests.clients.scenarios import REJECTIONS, Bodies, run_scenario, wire_body_bytes
from tests.conftest import ServerPool

__all__ = ["bodies", "go_build_dir", "make_client", "proxy_pool"]  # fixtures


def cases() -> list[tuple[str, str, str, str]]:
    """(worker, proxy, client, rejection): every client and refusal through every proxy in
    front of gthread; in front of sync and gevent, the 11 MiB refusal from every client (what a
    proxy does with the 100, the refusal and the close does not depend on the reason)."""
    full = [(c, r) for c in CLIENTS for r in REJECTIONS if c != "boto3" or r == "too_large"]
    return [
        (worker, proxy, client, rejection)
        for worker in WORKERS
        for proxy in ("haproxy", "caddy", "nginx")
        for client, rejection in full
        if worker == "gthread" or rejection == "too_large"
    ]


@pytest.mark.parametrize(
    ("server", "proxy_kind", "client_name", "rejection"), cases(), indirect=["server"]
)
def test_through_a_proxy_a_rejection_costs_no_body_bytes_and_the_pool_survives(
    server: Server,
    proxy_pool: ProxyPool,
    make_client: ClientFactory,
    bodies: Bodies,
    proxy_kind: str,
    client_name: str,
    rejection: str,
) -> None:
    proxy = proxy_pool.get(proxy_kind, server.address)
    with Relay(proxy.address) as relay:
        client = make_client(client_name, relay.url)
        run_scenario(client, relay, REJECTIONS[rejection], bodies)


def test_haproxy_http_buffer_request_invites_the_body(
    server: Server, proxy_pool: ProxyPool, bodies: Bodies
) -> None:
    proxy = proxy_pool.get("haproxy-buffered", server.address)
    with Relay(proxy.address) as relay:
        result = CurlCLI().request(
            "PUT",
            relay.url + "/objects/buffered",
            bodies.big,
            {"Content-Type": "application/octet-stream"},
        )
        assert result.status == 413  # gunicorn still refuses, but only after the body arrived
        assert wire_body_bytes(relay) > 0
        print(f"haproxy http-buffer-request: {wire_body_bytes(relay)} body bytes before the 413")


@pytest.mark.parametrize(
    ("path", "content_type", "headers", "nginx_status"),
    [
        ("/precise/lab/types", "text/plain", {}, 500),  # precheck answered 415
        ("/precise/lab/small", "application/octet-stream", {}, 500),  # precheck answered 413
        ("/precise/api/uploads", "application/octet-stream", {}, 401),
        (
            "/precise/lab/permission",
            "application/octet-stream",
            {"Authorization": "Token plain-token"},
            403,
        ),
    ],
)
def test_nginx_auth_request_passes_only_401_and_403(
    server: Server,
    proxy_pool: ProxyPool,
    bodies: Bodies,
    path: str,
    content_type: str,
    headers: dict[str, str],
    nginx_status: int,
) -> None:
    proxy = proxy_pool.get("nginx", server.address)
    with Relay(proxy.address) as relay:
        result = CurlCLI().request(
            "POST", relay.url + path, bodies.mid, {"Content-Type": content_type, **headers}
        )
        assert result.status == nginx_status
        if nginx_status == 500:
            # nginx's own 500 page discards the body, and may send 100 Continue to do so: the
            # body sometimes crosses the wire (seen: 0 and 2 MiB). Never rely on it.
            print(f"nginx auth_request 500: {wire_body_bytes(relay)} body bytes")
        else:
            assert wire_body_bytes(relay) == 0


def test_nginx_precheck_passes_an_authorised_upload(
    server: Server, proxy_pool: ProxyPool, bodies: Bodies
) -> None:
    import hashlib

    proxy = proxy_pool.get("nginx", server.address)
    with Relay(proxy.address) as relay:
        result = CurlCLI().request(
            "POST", relay.url + "/api/uploads", bodies.mid, {"Authorization": "Token demo-token"}
        )
        assert result.status == 200
        assert result.json()["sha256"] == hashlib.sha256(bodies.mid.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def refuses_chunked(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A gthread server with ``EXPECT_CHUNKED = "refuse"`` (411 for bodies of undeclared length)."""
    env = {**project_env_vars, "TEST_EXPECT_CHUNKED": "refuse"}
    log = Path(tmp_path_factory.mktemp("chunked-refused")) / "gthread.log"
    server = Server("gthread", True, log, env).start()
    yield server
    stop_process(server.process)


# Through the production ``location /`` of deploy/nginx-django-expect.conf: the precheck's
# precise status comes back through ``error_page 401 403 = @expect_rejected``. A raw client
# sends the head with ``Expect: 100-continue`` and sends the body only after a 100: the final
# status with no 100 before it means not a body byte crossed the wire.
NGINX_MAPPED = [
    ("/lab/small", {"Content-Length": "2000000"}, 413),
    ("/lab/types", {"Content-Length": "1000", "Content-Type": "text/plain"}, 415),
    ("/api/uploads", {"Content-Length": "1000"}, 401),
    ("/lab/permission", {"Content-Length": "1000", "Authorization": "Token plain-token"}, 403),
]


@pytest.mark.parametrize(("path", "headers", "status"), NGINX_MAPPED)
def test_nginx_production_location_maps_the_precise_status_back(
    server: Server, proxy_pool: ProxyPool, path: str, headers: dict[str, str], status: int
) -> None:
    proxy = proxy_pool.get("nginx", server.address)
    log_start = len(server.log())
    _assert_refused_from_the_head(proxy.address, path, headers, status)
    assert "/_expect/precheck" in server.log()[log_start:]  # decided by the precheck


def test_nginx_production_location_maps_411_back(
    refuses_chunked: Server, proxy_pool: ProxyPool, server_pool: ServerPool
) -> None:
    proxy = proxy_pool.get("nginx", refuses_chunked.address)
    _assert_refused_from_the_head(proxy.address, "/lab/echo", {"Transfer-Encoding": "chunked"}, 411)
    # Control: nginx in front of a server that streams chunked bodies (the default) passes the
    # same request on, so the 411 above is the setting's answer mapped back, not nginx's own.
    default = proxy_pool.get("nginx", server_pool.get("gthread").address)
    with Exchange(default.address) as conn:
        conn.request_head(
            "POST",
            "/lab/echo",
            {"Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"},
        )
        conn.send(b"0\r\n\r\n")
        assert conn.read_final(timeout=10)[1].status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Length": "12x"},
        {"Content-Length": "10", "Transfer-Encoding": "chunked"},
    ],
)
def test_nginx_answers_framing_errors_400_itself(
    server: Server, proxy_pool: ProxyPool, headers: dict[str, str]
) -> None:
    """The precheck's 400 mapping is never reached: nginx refuses bad framing before it."""
    proxy = proxy_pool.get("nginx", server.address)
    log_start = len(server.log())
    _assert_refused_from_the_head(proxy.address, "/lab/echo", headers, 400, mapped=False)
    assert "/_expect/precheck" not in server.log()[log_start:]


def _assert_refused_from_the_head(
    address: tuple[str, int],
    path: str,
    headers: dict[str, str],
    status: int,
    *,
    mapped: bool = True,
) -> None:
    with Exchange(address) as conn:
        conn.request_head(
            "POST",
            path,
            {"Expect": "100-continue", "Content-Type": "application/octet-stream", **headers},
        )
        interim, final = conn.read_final(timeout=10)
        assert interim == []  # no 100: the client never sent a body byte
        assert final.status == status
        if mapped:  # @expect_rejected: keepalive_timeout 0 (nginx then lingers for the body
            # it did not invite, up to its lingering_timeout, before it closes)
            assert (final.header("Connection") or "").lower() == "close"
