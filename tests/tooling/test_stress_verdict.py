"""``make stress`` fails when any section fails (stress/run.py ``main``), on made-up sections;
the never-wait verdict; the figures stress/report.py computes from the stored samples."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from stress import report, run


def _main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failures: list[str]) -> int:
    def section(lab: Any) -> None:
        run.RESULTS["mixed"] = {"sync": {"failures": failures}}

    monkeypatch.setattr(run, "Lab", lambda: None)
    monkeypatch.setattr(run, "SECTIONS", {"mixed": section})
    monkeypatch.setattr(run, "RESULTS", {})
    monkeypatch.setattr(sys, "argv", ["stress.run", "mixed", "--out", str(tmp_path / "r.json")])
    return run.main()


def test_a_failed_section_fails_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert _main(monkeypatch, tmp_path, ["rejected: 90 of 91 right"]) == 1


def test_a_clean_run_passes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert _main(monkeypatch, tmp_path, []) == 0


# -- never-wait: a reset is the close policy's documented close, counted apart -------------------


def test_a_reset_is_accepted_but_never_a_pass_for_anything_else() -> None:
    assert (
        run.never_wait_failures(
            {"curl": {"413": 48, "reset(send)": 2}, "httpx": {"413": 49, "reset:WriteError": 1}}
        )
        == []
    )
    for wrong in ("200", "500", "error:ReadTimeout", "error:RemoteProtocolError", "curl-exit-28"):
        failures = run.never_wait_failures({"curl": {"413": 49, wrong: 1}})
        assert failures and wrong in failures[0]


def test_the_report_counts_resets_apart_from_413s() -> None:
    entry = {
        "outcomes": {"413": 47, "reset(recv)": 2, "reset(send)": 1},
        "tries": [["413", 0.1]] * 47 + [["reset(recv)", 0.5]] * 3,
    }
    counts, times = report.never_wait_counts(entry)
    assert counts == {"413": 47, "reset": 3, "other": {}}
    assert times is not None and len(times) == 50


# -- figures computed from the stored samples ----------------------------------------------------


def test_percentiles_and_spread_come_from_the_stored_samples() -> None:
    samples = [float(v) for v in range(1, 101)]  # 1..100 ms
    assert report.percentile(samples, 50) == 50.0
    assert report.percentile(samples, 99) == 99.0
    assert report.samples_cell(samples, report.ms) == ("50.0 ms / 99.0 ms (1.0 ms-100.0 ms, n=100)")
    assert report.samples_cell([], report.ms) == "no sample"
    assert "not stored" in report.samples_cell(None, report.ms)


def _results() -> dict[str, Any]:
    health = {"workers_unchanged": True, "sockets_after": 1, "error_lines": 0, "failures": []}
    return {
        "fuzz": {},
        "total_seconds": 1.0,
        "invariants": 2,
        "machine": {"cpus": 2, "python": "3.11", "django": "5.2.19", "gunicorn": "27.0.1"},
        "load": {
            "gevent": {
                "concurrent": 4,
                "answered_413": 4,
                "other": {},
                "fds_before": 9,
                "fds_after": 9,
                "ms_to_413": [10.0, 20.0, 30.0, 400.0],
                "worker_cpu_s": 0.25,
                **health,
            }
        },
        "mixed": {},
        "slowloris": {
            "gevent": {
                "slow_connections": 2,
                "answered_408": 2,
                "s_stall_to_408": [1.01, 1.2],
                "s_late_408_since_last_byte": [0.25, 0.5],
                "good_ms_alone": [5.0],
                "good_ms_during": [6.0, 7.0],
                **health,
            }
        },
        "never_wait": {
            "sync": {
                c: {
                    "outcomes": {"413": 1, "reset(send)": 1},
                    "tries": [["413", 0.2], ["reset(send)", 0.4]],
                }
                for c in ("curl", "requests", "httpx")
            }
            | {"worker_cpu_s": 0.5, **health}
        },
    }


def test_the_page_prints_n_and_spread_and_no_mean() -> None:
    page = report.render(_results())
    assert "20.0 ms / 400.0 ms (10.0 ms-400.0 ms, n=4)" in page  # p50 / p99 of the samples
    assert "1.01 s / 1.20 s (1.01 s-1.20 s, n=2) | 2 (0.25 s-0.50 s after it) |" in page
    assert (
        "| sync | curl | 1 | 1 | - | 0.20 s / 0.40 s (0.20 s-0.40 s, n=2) | 0.50 s | none |" in page
    )
    assert "Django 5.2.19, gunicorn 27.0.1" in page
    assert "each)" not in page and "req/s" not in page  # the mean-derived figures are gone


def test_a_rerun_section_is_named_on_the_page() -> None:
    results = _results() | {"rerun": {"slowloris": "2026-11-22 07:10:00 UTC"}}
    assert (
        "`python -m stress.run slowloris --merge` re-ran slowloris on 2026-11-22 07:10:00 UTC"
        in report.render(results)
    )


def test_merge_replaces_only_the_sections_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    out.write_text('{"fuzz": {"sync": {"failures": []}}, "total_seconds": 9.0}')

    def section(lab: Any) -> None:
        run.RESULTS["slowloris"] = {"gevent": {"failures": []}}

    monkeypatch.setattr(run, "Lab", lambda: None)
    monkeypatch.setattr(run, "SECTIONS", {"slowloris": section})
    monkeypatch.setattr(run, "RESULTS", {})
    monkeypatch.setattr(run, "environment", lambda: {"cpus": 2})
    monkeypatch.setattr(sys, "argv", ["stress.run", "slowloris", "--merge", "--out", str(out)])
    assert run.main() == 0
    merged = json.loads(out.read_text())
    assert merged["fuzz"] == {"sync": {"failures": []}} and merged["total_seconds"] == 9.0
    assert set(merged["rerun"]) == {"slowloris"} and "slowloris" in merged
