"""Real browsers send a rejected body anyway: the close policy (docs/howto/browsers-sent-anyway.md).

Chromium and Firefox ESR (Debian packages) submit the test app's script-free ``/upload/plain`` form
to ``/upload/form`` (5 MB limit)
through a relay shaped like a home uplink: 20 Mbit/s and 20 ms each way. No browser sends
``Expect``, and neither reads an early response before its upload ends or breaks:

* Chromium, 300 MB, no script: the rest cannot arrive within the drain budget, so the server
  closes at once and Chromium shows the 413 when its upload write fails. Asserted: the 413 page,
  and far less than the budget's worth of body crossed the relay.
* Firefox, 10 MB, no script: the rest arrives within the budget, so the server drains it and
  Firefox shows the 413 page, not its "connection was reset" page. Control: stock gunicorn (the
  middleware still refusing from the head) shows the reset page for the same upload.
* fetch() and XHR from the form page get status 413 and the JSON error in both browsers.

No timing assertions here (the figures are in bench/browsers.py); bytes have generous bounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.drain_browsers import BROWSERS, Shown
from harness.relay import Relay
from harness.server import Server
from tests.conftest import ServerPool

MB = 1_000_000
RATE = 2_500_000  # 20 Mbit/s, bytes per second
DELAY = 0.020  # one way
#: A body closed "at once": issue 12's promise for Chromium, 300 MB, no script (at most 2.5 MB
#: crossed; 0.92-1.37 MB measured in bench/browsers.py), a tenth of what a drain for the whole
#: budget would let through.
CLOSED_EARLY_BOUND = 2_500_000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Path]]:
    """Sparse files (zeros, no disk space) of 10 MB and 300 MB."""
    directory = tmp_path_factory.mktemp("browser-files")
    made = {}
    for size in (10 * MB, 300 * MB):
        path = directory / f"upload-{size // MB}MB.bin"
        with open(path, "wb") as f:
            f.truncate(size)
        made[size] = path
    yield made
    for path in made.values():
        path.unlink(missing_ok=True)


@pytest.fixture
def shaped() -> Iterator[Callable[[Server], Relay]]:
    relays: list[Relay] = []

    def make(server: Server) -> Relay:
        relay = Relay(server.address, delay=DELAY, rate=RATE)
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.close()


def settle(relay: Relay) -> None:
    """Wait (bounded) until the relay's connections have closed, so the byte count is final."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(c.closed is None for c in relay.connections):
        time.sleep(0.05)


def describe(shown: Shown, relay: Relay) -> str:
    return f"{shown} body_bytes={relay.body_bytes()}"


def test_chromium_300mb_form_without_script_shows_the_413_page(
    server_pool: ServerPool, shaped: Callable[[Server], Relay], files: dict[int, Path]
) -> None:
    relay = shaped(server_pool.get("gthread"))
    shown = BROWSERS["chromium"]("form", f"{relay.url}/upload/plain", files[300 * MB])
    settle(relay)
    assert shown.shows_413, describe(shown, relay)
    assert "5 MB" in shown.text
    assert relay.body_bytes() < CLOSED_EARLY_BOUND, describe(shown, relay)


@pytest.mark.parametrize("hook", [True, False], ids=["django-expect", "stock-control"])
def test_firefox_10mb_form_without_script_shows_the_413_page_not_a_reset(
    server_pool: ServerPool,
    shaped: Callable[[Server], Relay],
    files: dict[int, Path],
    hook: bool,
) -> None:
    relay = shaped(server_pool.get("gthread", hook))
    shown = BROWSERS["firefox"]("form", f"{relay.url}/upload/plain", files[10 * MB])
    settle(relay)
    if hook:
        assert shown.shows_413, describe(shown, relay)
        assert relay.body_bytes() >= 10 * MB, describe(shown, relay)  # drained to the end
    else:
        # Stock gunicorn drains 64 KiB and resets: Firefox shows its reset page.
        assert shown.outcome == "error", describe(shown, relay)
        assert "reset" in shown.error.lower() or "RESET" in shown.error, describe(shown, relay)


# Chromium's script uploads take the close path (30 MB cannot arrive within the budget at this
# rate), Firefox's the drain path (10 MB can): each browser's working case.
SCRIPT_CASES = [
    ("chromium", "fetch", 30 * MB),
    ("chromium", "xhr", 30 * MB),
    ("firefox", "fetch", 10 * MB),
    ("firefox", "xhr", 10 * MB),
]


@pytest.mark.parametrize(("browser", "mode", "size"), SCRIPT_CASES)
def test_fetch_and_xhr_get_the_413_and_the_json_error(
    server_pool: ServerPool, shaped: Callable[[Server], Relay], browser: str, mode: str, size: int
) -> None:
    relay = shaped(server_pool.get("gthread"))
    shown = BROWSERS[browser](mode, f"{relay.url}/upload/form", size)
    settle(relay)
    assert shown.shows_413, describe(shown, relay)
    assert "5000000" in shown.text or "5 MB" in shown.text, describe(shown, relay)
