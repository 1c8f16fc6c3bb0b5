"""A short, seeded slice of the raw-socket fuzzer (tests/support/fuzz.py) on every worker.

``make stress`` runs the same generator for 100,000 exchanges; this slice runs the first
``FUZZ_SLICE`` exchanges of seed ``FUZZ_SEED`` so a failure here replays exactly with
``python -m stress.fuzz --seed 6 --worker <worker> --only <index>``.
"""

from __future__ import annotations

import pytest

from tests.support import fuzz
from tests.support.fds import quiescent_sockets
from tests.support.server import Server

pytestmark = pytest.mark.e2e

FUZZ_SEED = 6
FUZZ_SLICE = 1500


def test_seeded_fuzz_slice_keeps_every_invariant(server: Server) -> None:
    pids = server.worker_pids()
    log_start = len(server.log())
    report = fuzz.run(server.address, FUZZ_SEED, FUZZ_SLICE, concurrency=16)
    assert report.exchanges == FUZZ_SLICE
    assert report.violations == [], report.violations[:10]
    assert report.continues > 0 and report.statuses[200] > 0 and report.statuses[413] > 0
    assert server.worker_pids() == pids, "a worker died"
    assert quiescent_sockets(server) == len(pids), "a socket was left open"
    log = server.log()[log_start:]
    assert "[ERROR]" not in log and "Traceback" not in log, log[-3000:]
