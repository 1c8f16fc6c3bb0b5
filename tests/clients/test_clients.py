"""Real clients against every server that keeps the promise (tests/servers.py, ``clients``).

For curl, libcurl 8 (pycurl), boto3, aiohttp, Node ``http`` and Go ``net/http``: a rejected upload
(size, type, login) is answered with the precise status and costs 0 body bytes on the wire,
counted by a TCP relay between client and server; an accepted upload arrives whole (digest); the
next requests on the same client pool still work. The scenario is in tests/clients/scenarios.py.
The controls: where the server invites the body first, or keeps the connection after a refusal
without saying it will close, the body crosses.
"""

from __future__ import annotations

import pytest

from harness.relay import Relay
from tests.clients.fixtures import CLIENTS, ClientFactory, bodies, go_build_dir, make_client
from tests.clients.scenarios import REJECTIONS, Bodies, run_scenario, wire_body_bytes
from tests.servers import WireServer, servers

__all__ = ["bodies", "go_build_dir", "make_client"]  # fixtures


#: Every refusal reason runs on one WSGI and one ASGI server: which check refuses is the decision
#: core's business, the same on every server (tests/wire/test_conformance.py sends every status
#: to every server over raw sockets). What a server changes (its framing, its keep-alive and
#: close, its 100) is what the 11 MiB refusal exercises on every server below.
EVERY_REASON_SERVERS = ("gunicorn-gthread", "uvicorn-h11")


def cases(rejections: list[str]) -> list[tuple[str, str]]:
    return [(c, r) for c in CLIENTS for r in rejections if c != "boto3" or r == "too_large"]


def _scenario(
    wire_server: WireServer,
    make_client: ClientFactory,
    bodies: Bodies,
    client_name: str,
    rejection: str,
) -> None:
    if client_name == "go" and not wire_server.profile.says_close:
        pytest.skip("Go sends a refused body where nothing says close: the next test")
    with Relay(wire_server.address) as relay:
        client = make_client(client_name, relay.url)
        run_scenario(client, relay, REJECTIONS[rejection], bodies)


@servers(clients=True)
@pytest.mark.parametrize(("client_name", "rejection"), cases(["too_large"]))
def test_client_rejection_costs_no_body_bytes_and_the_pool_survives(
    wire_server: WireServer,
    make_client: ClientFactory,
    bodies: Bodies,
    client_name: str,
    rejection: str,
) -> None:
    """(uWSGI's --http11-socket says nothing about its close: every client but Go stops after
    the refusal; Go: the next test.)"""
    _scenario(wire_server, make_client, bodies, client_name, rejection)


@servers(*EVERY_REASON_SERVERS)
@pytest.mark.parametrize(
    ("client_name", "rejection"), cases([r for r in REJECTIONS if r != "too_large"])
)
def test_every_refusal_reason_costs_no_body_bytes_and_the_pool_survives(
    wire_server: WireServer,
    make_client: ClientFactory,
    bodies: Bodies,
    client_name: str,
    rejection: str,
) -> None:
    """415 and 401 (a 2 MiB body, above libcurl's Expect threshold) from every client."""
    _scenario(wire_server, make_client, bodies, client_name, rejection)


@servers("uwsgi-http11-socket", "mod_wsgi-no-conf")
def test_go_sends_a_refused_body_on_a_connection_kept_open(
    wire_server: WireServer, make_client: ClientFactory, bodies: Bodies
) -> None:
    """Go's net/http sends the body after a refusal on a connection nothing says will close
    (PROTOCOL.md): under uWSGI's --http11-socket, and under Apache without
    deploy/apache-expect.conf, the refused upload crosses the wire. (--http-socket with
    --add-header "Connection: close", and the conf, spare it: the scenario above.)"""
    with Relay(wire_server.address) as relay:
        client = make_client("go", relay.url)
        result = client.request(
            "POST",
            relay.url + "/api/uploads",
            bodies.mid,
            {"Content-Type": "application/octet-stream", "Expect": "100-continue"},
        )
        assert result.status == 401
        assert wire_body_bytes(relay) > 0


# Go only on stock gunicorn: curl stops sending when the 413 arrives right behind stock gunicorn's
# 100, which it may before its first body write (a race, not a control); Go sends regardless.
@servers("gunicorn-gthread-stock", "django-asgi")
@pytest.mark.parametrize("client_name", ["curl", "go"])
def test_control_an_eager_server_lets_the_body_cross(
    wire_server: WireServer, make_client: ClientFactory, bodies: Bodies, client_name: str
) -> None:
    """The relay does see body bytes where the 100 goes out before Django runs."""
    if client_name == "curl" and wire_server.profile.family == "gunicorn":
        pytest.skip("a race under stock gunicorn, not a control (see above)")
    with Relay(wire_server.address) as relay:
        client = make_client(client_name, relay.url)
        headers = dict(REJECTIONS["too_large"].headers)
        if client_name == "go":
            headers["Expect"] = "100-continue"
        try:
            result = client.request("PUT", relay.url + "/objects/control", bodies.big, headers)
        except RuntimeError:
            # Stock gunicorn may close mid-upload: the client may then not see the 413 at all.
            assert wire_server.profile.family == "gunicorn"
        else:
            assert wire_server.profile.family == "gunicorn" or result.status == 413
        assert wire_body_bytes(relay) > 0
