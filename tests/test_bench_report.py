"""The bench's own rules (bench/run.py, bench/report.py), on made-up runs: invalid runs are left
out and listed, a ratio column is the ratio of the medians beside it, a target is only met when
every pair meets it."""

from __future__ import annotations

import json
import zlib

from bench import report
from bench.clients import zeros_adler32
from bench.run import accepted_problem, alternating

SIZE = 3 * 1024 * 1024 + 5


def test_an_accepted_run_must_have_read_every_byte_intact() -> None:
    checksum = zeros_adler32(SIZE)
    assert checksum == zlib.adler32(bytes(SIZE))
    good = json.dumps({"size": SIZE, "adler32": checksum}).encode()
    assert accepted_problem(200, good, SIZE, checksum) is None
    short = json.dumps({"size": SIZE - 1, "adler32": checksum}).encode()
    assert "read 3145732 bytes" in str(accepted_problem(200, short, SIZE, checksum))
    altered = json.dumps({"size": SIZE, "adler32": checksum + 1}).encode()
    assert "checksum" in str(accepted_problem(200, altered, SIZE, checksum))
    assert "status 500" in str(accepted_problem(500, good, SIZE, checksum))


def test_runs_alternate_and_swap_order_every_pair() -> None:
    assert alternating(("stock", "expect"), 3) == [
        (0, "stock"), (0, "expect"), (1, "expect"), (1, "stock"), (2, "stock"), (2, "expect")]


def _runs(stock: list[float], expect: list[float]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for pair, (s, e) in enumerate(zip(stock, expect, strict=True)):
        rows.append({"server": "stock", "pair": pair, "cpu": s, "valid": True})
        rows.append({"server": "expect", "pair": pair, "cpu": e, "valid": True})
    return rows


def test_the_ratio_column_is_the_ratio_of_the_medians_beside_it() -> None:
    rows = _runs([1.0, 1.2, 4.0, 1.1, 1.3], [1.3, 1.2, 1.0, 1.25, 1.4])
    key = lambda x: x["cpu"]  # noqa: E731
    pairs = report.paired(rows, key)
    cell = report.ratio_cell(pairs, report.med([1.3, 1.2, 1.0, 1.25, 1.4]),
                             report.med([1.0, 1.2, 4.0, 1.1, 1.3]))
    assert cell.startswith(f"{1.25 / 1.2:.3f} ")  # expect median 1.25 over stock median 1.2
    assert "pairs 0.25-1.30, n=5" in cell


def test_an_invalid_run_is_left_out_of_its_pair_and_of_the_figures() -> None:
    rows = _runs([1.0, 1.0], [1.0, 9.0])
    rows[3]["valid"] = False
    assert report.paired(rows, lambda x: x["cpu"]) == [(1.0, 1.0)]
    assert report.spread((x["cpu"] for x in report.valid(rows) if x["server"] == "expect"),
                         report.fmt_plain) == "1 (1 run)"


def test_a_target_is_met_only_when_every_pair_meets_it() -> None:
    assert report.verdict(worst=1.02, best=0.97, goal=1.03) == "yes"
    assert report.verdict(worst=1.30, best=1.05, goal=1.03) == "**no**"
    assert report.verdict(worst=1.08, best=0.25, goal=1.03).startswith("not resolved")
