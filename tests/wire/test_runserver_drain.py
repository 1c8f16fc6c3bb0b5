"""The close policy under django-expect's ``manage.py runserver``, on the wire.

The same raw-socket client as tests/wire/test_drain_wire.py (the gunicorn workers): it posts to
/lab/small (limit 1000 bytes) without ``Expect`` through a relay limited to 20 Mbit/s and 20 ms
each way, sending its body while reading the response. The development server serves one
connection per thread, so its drain budget is a sync worker's (2 s); the drain is given the
declared rest of the body, as the gunicorn hook gives it:

* 1 MB (0.4 s at that rate) fits: it is drained to its end, the client sends all of it, reads
  the 413 and then a clean close (no reset).
* 300 MB cannot arrive in time: the connection is reset as soon as the rate is measured, after
  less than half the budget's worth of bytes, and the client has already read its 413. (Before
  the declared rest was passed, the drain took it for a body of unknown length and read for the
  whole 2 s: 5 MB crossed the relay.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.relay import Relay
from harness.wsgi_servers import WSGIServer
from tests.wire.test_drain_wire import DELAY, MB, RATE, post_anyway, settle

#: The budget of a server that serves one connection per thread (closing.py).
BUDGET = 2.0
#: Less than half the bytes that arrive at the relay's rate within the budget.
CUT_SHORT_BOUND = int(BUDGET * RATE / 2)


@pytest.fixture(scope="module")
def runserver(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WSGIServer]:
    workdir = tmp_path_factory.mktemp("runserver-drain")
    server = WSGIServer("runserver", workdir / "runserver.log", project_env_vars, workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def relay(runserver: WSGIServer) -> Iterator[Relay]:
    with Relay(runserver.address, delay=DELAY, rate=RATE) as relay:
        yield relay


def test_runserver_drains_a_small_declared_rest_to_its_end_then_closes_cleanly(
    relay: Relay,
) -> None:
    outcome = post_anyway(relay.address, MB)
    settle(relay)
    assert outcome.status == 413, outcome
    assert relay.body_bytes() == MB and not outcome.send_failed, outcome
    assert outcome.ending == "eof", outcome
    assert not relay.connections[0].server_reset, outcome


def test_runserver_resets_early_when_the_rest_cannot_arrive_in_its_budget(
    relay: Relay,
) -> None:
    outcome = post_anyway(relay.address, 300 * MB)
    settle(relay)
    assert outcome.status == 413, outcome
    assert outcome.send_failed and relay.connections[0].server_reset, outcome
    assert relay.body_bytes() < CUT_SHORT_BOUND, (outcome, relay.body_bytes())
