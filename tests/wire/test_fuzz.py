"""A short, seeded slice of the raw-socket fuzzer (harness/fuzz.py) on every worker.

``make stress`` runs the same generator for 100,000 exchanges; this slice runs the first
``FUZZ_SLICE`` exchanges of seed ``FUZZ_SEED`` so a failure here replays exactly with
``python -m stress.fuzz --seed 6 --worker <worker> --only <index>``.

The controls below show that each invariant can fail: the checker flags a 100 before a
declared-length 413 and a 5xx behind a request that lied about its length, and the log check
sees a 500 from Django itself.
"""

from __future__ import annotations

import json
import time

import pytest

from harness import fuzz
from harness.fds import quiescent_sockets
from harness.process import error_lines
from harness.raw import Exchange
from harness.server import Server

FUZZ_SEED = 6
FUZZ_SLICE = 1500


@pytest.mark.e2e
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
    assert error_lines(log) == [], log[-3000:]


@pytest.mark.e2e
def test_the_log_check_sees_a_500_from_django(server: Server) -> None:
    """Control: Django's own 500s reach the log the fuzz runs read (tests/settings.py LOGGING)."""
    log_start = len(server.log())
    with Exchange(server.address) as conn:
        conn.request_head("GET", "/lab/crash", {"Host": "127.0.0.1"})
        assert conn.read_response().status == 500
    errors: list[str] = []
    for _ in range(50):  # the worker writes the record before the response; bounded re-reads
        errors = error_lines(server.log()[log_start:])
        if errors:
            break
        time.sleep(0.1)
    assert any("Internal Server Error: /lab/crash" in line for line in errors), errors


def _request(wire: bytes, *, asks: bool, declared: bool, well_formed: bool = True) -> fuzz.Request:
    return fuzz.Request(wire, asks, b"", len(wire), well_formed, declared)


def _result(requests: list[fuzz.Request], responses: list[fuzz.Parsed]) -> fuzz.Result:
    return fuzz.Result(fuzz.Scenario("control", requests, "eager"), responses, b"", False)


def _refusal(status: int, code: str) -> fuzz.Parsed:
    body = json.dumps({"error": {"code": code}}).encode()
    return fuzz.Parsed(status, {"content-length": str(len(body))}, body)


CONTINUE = fuzz.Parsed(100, {}, b"")


def test_the_checker_flags_a_100_before_a_413_decided_from_the_declared_length() -> None:
    declared = _request(b"PUT /lab/small HTTP/1.1\r\n\r\n", asks=True, declared=True)
    problems = fuzz.check(_result([declared], [CONTINUE, _refusal(413, "content_too_large")]))
    assert any("refusal from the head (content_too_large)" in p for p in problems), problems
    # A chunked body may earn its 100 and then grow past the limit: not a violation.
    chunked = _request(b"PUT /lab/small HTTP/1.1\r\n\r\n", asks=True, declared=False)
    assert fuzz.check(_result([chunked], [CONTINUE, _refusal(413, "content_too_large")])) == []


def test_the_checker_flags_a_5xx_behind_a_request_that_lied_about_its_length() -> None:
    liar = _request(b"PUT /lab/echo HTTP/1.1\r\n\r\n", asks=False, declared=True, well_formed=False)
    other = _request(b"PUT /lab/echo HTTP/1.1\r\n\r\n", asks=False, declared=True)
    ok = fuzz.Parsed(200, {"content-length": "2"}, b"{}")
    crash = fuzz.Parsed(500, {"content-length": "0", "connection": "close"}, b"")
    problems = fuzz.check(_result([liar, other, other], [ok, ok, crash]))
    assert problems == ["final #2: server error 500"]
    # ... and a 100 before a head refusal it cannot attribute to one request.
    problems = fuzz.check(
        _result([liar, other, other], [ok, CONTINUE, _refusal(401, "login_required")])
    )
    assert problems == ["final #1: 100 Continue before a refusal from the head (login_required)"]
