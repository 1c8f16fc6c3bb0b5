"""Real clients against django_expect.asgi on the lazy ASGI servers.

The scenario of tests/test_clients.py (tests/clients/scenarios.py), unchanged, on uvicorn (h11,
httptools), gunicorn ``-k asgi`` and granian: for curl, libcurl (pycurl), boto3, aiohttp, Node
and Go, a rejected upload is answered with the precise status at 0 body bytes, counted by the
TCP relay; the client's pool survives; an accepted upload arrives whole and reads back identical.
The control (Django's own handler on uvicorn) shows the body crossing.
"""

from __future__ import annotations

import pytest

from harness.asgi_servers import LAZY, STOCK_APP, ASGIServerPool
from harness.relay import Relay
from tests.clients.fixtures import CLIENTS, ClientFactory, bodies, go_build_dir, make_client
from tests.clients.scenarios import REJECTIONS, Bodies, run_scenario, wire_body_bytes

__all__ = ["bodies", "go_build_dir", "make_client"]  # fixtures


def cases() -> list[tuple[str, str]]:
    return [(c, r) for c in CLIENTS for r in REJECTIONS if c != "boto3" or r == "too_large"]


@pytest.mark.parametrize("kind", LAZY)
@pytest.mark.parametrize(("client_name", "rejection"), cases())
def test_client_rejection_costs_no_body_bytes_and_the_pool_survives(
    asgi_pool: ASGIServerPool,
    make_client: ClientFactory,
    bodies: Bodies,
    kind: str,
    client_name: str,
    rejection: str,
) -> None:
    server = asgi_pool.get(kind)
    with Relay(server.address) as relay:
        client = make_client(client_name, relay.url)
        run_scenario(client, relay, REJECTIONS[rejection], bodies)


@pytest.mark.parametrize("client_name", ["curl", "go"])
def test_control_djangos_own_handler_lets_the_body_cross(
    asgi_pool: ASGIServerPool, make_client: ClientFactory, bodies: Bodies, client_name: str
) -> None:
    stock = asgi_pool.get("uvicorn-h11", STOCK_APP)
    with Relay(stock.address) as relay:
        client = make_client(client_name, relay.url)
        rejection = REJECTIONS["too_large"]
        headers = dict(rejection.headers)
        if client_name == "go":
            headers["Expect"] = "100-continue"
        result = client.request("PUT", relay.url + "/objects/control", bodies.big, headers)
        assert result.status == 413
        assert wire_body_bytes(relay) > 0
