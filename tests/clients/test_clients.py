"""Real clients against gunicorn (sync, gthread, gevent) with django-expect's hooks.

For curl, libcurl 8 (pycurl), boto3, aiohttp, Node ``http`` and Go ``net/http``: a rejected upload
(size, type, login) is answered with the precise status and costs 0 body bytes on the wire,
counted by a TCP relay between client and server; an accepted upload arrives whole (digest); the
next requests on the same client pool still work. The scenario is in tests/clients/scenarios.py.
"""

from __future__ import annotations

import pytest

from harness.relay import Relay
from harness.server import Server
from tests.clients.fixtures import CLIENTS, ClientFactory, bodies, go_build_dir, make_client
from tests.clients.scenarios import REJECTIONS, Bodies, run_scenario, wire_body_bytes

__all__ = ["bodies", "go_build_dir", "make_client"]  # fixtures


def cases() -> list[tuple[str, str]]:
    return [(c, r) for c in CLIENTS for r in REJECTIONS if c != "boto3" or r == "too_large"]


@pytest.mark.parametrize(("client_name", "rejection"), cases())
def test_client_rejection_costs_no_body_bytes_and_the_pool_survives(
    server: Server, make_client: ClientFactory, bodies: Bodies, client_name: str, rejection: str
) -> None:
    with Relay(server.address) as relay:
        client = make_client(client_name, relay.url)
        run_scenario(client, relay, REJECTIONS[rejection], bodies)


# Go only: curl stops sending when the 413 arrives right behind stock gunicorn's 100, which it may
# before its first body write (a race, not a control); Go's net/http sends the body regardless.
@pytest.mark.parametrize("client_name", ["go"])
def test_control_without_the_hook_the_body_crosses_the_wire(
    server_pool: object, make_client: ClientFactory, bodies: Bodies, client_name: str
) -> None:
    """The relay does see body bytes: stock gunicorn answers 100 eagerly, so the client sends."""
    stock = server_pool.get("gthread", hook=False)  # type: ignore[attr-defined]
    with Relay(stock.address) as relay:
        client = make_client(client_name, relay.url)
        rejection = REJECTIONS["too_large"]
        headers = dict(rejection.headers)
        if client_name == "go":
            headers["Expect"] = "100-continue"
        try:
            # Stock gunicorn may close mid-upload: the client may then not see the 413 at all.
            client.request("PUT", relay.url + "/objects/control", bodies.big, headers)
        except RuntimeError:
            pass
        assert wire_body_bytes(relay) > 0
