"""The bench's own rules (bench/run.py, bench/report.py), on made-up runs: invalid runs are left
out and listed, a ratio column is the ratio of the medians beside it, a target is only met when
every pair meets it."""

from __future__ import annotations

import json
import socket
import threading
import zlib
from pathlib import Path

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
        (0, "stock"),
        (0, "expect"),
        (1, "expect"),
        (1, "stock"),
        (2, "stock"),
        (2, "expect"),
    ]


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
    cell = report.ratio_cell(
        pairs, report.med([1.3, 1.2, 1.0, 1.25, 1.4]), report.med([1.0, 1.2, 4.0, 1.1, 1.3])
    )
    assert cell.startswith(f"{1.25 / 1.2:.3f} ")  # expect median 1.25 over stock median 1.2
    assert "pairs 0.25-1.30, n=5" in cell


def test_an_invalid_run_is_left_out_of_its_pair_and_of_the_figures() -> None:
    rows = _runs([1.0, 1.0], [1.0, 9.0])
    rows[3]["valid"] = False
    assert report.paired(rows, lambda x: x["cpu"]) == [(1.0, 1.0)]
    assert (
        report.spread(
            (x["cpu"] for x in report.valid(rows) if x["server"] == "expect"), report.fmt_plain
        )
        == "1 (1 run)"
    )


def test_a_target_is_met_only_when_every_pair_meets_it() -> None:
    assert report.verdict(worst=1.02, best=0.97, goal=1.03) == "yes"
    assert report.verdict(worst=1.30, best=1.05, goal=1.03) == "**no**"
    assert report.verdict(worst=1.08, best=0.25, goal=1.03).startswith("not resolved")


# -- failed runs are left out of every figure, body bytes included (issue 13) ----------------------


def _put(
    server: str,
    body_bytes: int,
    seconds: float,
    valid: bool,
    pair: int = 0,
    net: str = "wan",
    size: int = 10_000_000,
) -> dict[str, object]:
    row: dict[str, object] = {
        "scenario": "put",
        "net": net,
        "client": "curl",
        "size": size,
        "server": server,
        "pair": pair,
        "status": 413 if valid else 0,
        "body_bytes": body_bytes,
        "seconds": seconds,
        "valid": valid,
    }
    if not valid:
        row["invalid"] = "status 0, expected 413"
    return row


def test_a_cell_whose_runs_all_failed_prints_no_figure() -> None:
    rows = [_put("stock-read", 11_000_000, 5.0, False, pair) for pair in range(5)]
    cell = report.figure_cell(rows, lambda x: x["body_bytes"], report.fmt_bytes)
    assert cell == "no valid run (5 failed) †"
    assert "MB" not in cell


def test_body_bytes_come_from_valid_runs_only_and_count_the_failed_ones() -> None:
    rows = [
        _put("stock-read", 1_000_000, 0.1, True, 0),
        _put("stock-read", 3_000_000, 0.2, True, 1),
        _put("stock-read", 900_000_000, 9.0, False, 2),
    ]
    cell = report.figure_cell(rows, lambda x: x["body_bytes"], report.fmt_bytes)
    assert cell == "2.0 MB (1.0 MB-3.0 MB, n=2); 1 of 3 runs failed †"
    assert report.figure_cell([], lambda x: x["body_bytes"], report.fmt_bytes) == "-"


NO_LATENCY = [{"clients": 1, "kind": "-", "server": "-"}]


def _results(put: list[dict[str, object]]) -> dict[str, object]:
    return {"put": put, "config": {"reject_sizes": [10_000_000]}}


def test_the_rejection_table_leaves_failed_runs_out_of_the_bytes_row() -> None:
    put = [_put("stock-read", 11_000_000, 5.0, False, pair) for pair in range(5)]
    put += [_put("expect", 0, 0.04, True, pair) for pair in range(5)]
    table = "\n".join(report.rejection_tables(_results(put), [10_000_000]))
    bytes_row = next(line for line in table.splitlines() if "body bytes sent" in line)
    assert "11 MB" not in bytes_row
    assert "no valid run (5 failed) †" in bytes_row
    assert "0 (0-0, n=5)" in bytes_row


def test_the_plot_is_the_median_of_the_valid_runs() -> None:
    put = [
        _put("stock", b, 0.01, True, pair)
        for pair, b in enumerate([1_000_000, 2_000_000, 30_000_000])
    ]
    put.append(_put("stock", 900_000_000, 1.0, False, 3))  # a failed run: not in the point
    put += [_put("stock-read", 11_000_000, 5.0, False, pair) for pair in range(3)]
    r = _results(put)
    assert report.plot_points(r, "wan", "curl", "stock", "body_bytes") == [(10.0, 2.0)]
    assert report.plot_points(r, "wan", "curl", "stock-read", "body_bytes") == []


def test_the_zero_bytes_target_counts_valid_runs_and_names_the_failed_ones() -> None:
    rows = [_put("expect", 0, 0.04, True, 0), _put("expect", 5_000, 0.04, False, 1)]
    r = {
        "put": rows,
        "form": [],
        "small": [],
        "latency": NO_LATENCY,
        "accepted": {"size": SIZE, "runs": []},
        "config": {"form_size": 1},
    }
    _, _, measured, met = report.targets(r)[0]
    assert measured == "max 0 over 1 valid runs (1 failed, listed below)"
    assert met == "not resolved (failed runs)"


# -- one RSS statistic --------------------------------------------------------------------------


def test_the_rss_table_and_target_print_the_same_statistic() -> None:
    runs = []
    for pair, (stock, expect) in enumerate([(50, 52), (50, 60), (49, 52.5), (53, 54), (50, 51)]):
        runs.append(
            {
                "server": "stock",
                "pair": pair,
                "rss_peak": stock * 1e6,
                "cpu": 1.0,
                "seconds": 1.0,
                "valid": True,
            }
        )
        runs.append(
            {
                "server": "expect",
                "pair": pair,
                "rss_peak": expect * 1e6,
                "cpu": 1.0,
                "seconds": 1.0,
                "valid": True,
            }
        )
    cell, _ = report.rss_difference(runs)
    # medians 52.5 - 50 = +2.50 (the median of the per-pair differences would be +2.00)
    assert cell == "+2.50 MB (difference of the medians; pairs +1.00 to +10.00 MB, n=5)"
    r = {
        "put": [],
        "form": [],
        "small": [],
        "latency": NO_LATENCY,
        "accepted": {"size": SIZE, "runs": runs},
        "config": {"form_size": 1},
    }
    table = "\n".join(report.costs_table(r))
    target = next(t for t in report.targets(r) if "RSS" in t[0])
    assert cell in table and target[2] == cell
    assert target[3] == "**no** (2 of 5 pairs within)"  # the rule: >= 80 % of pairs within 1 MB


# -- other WSGI servers -------------------------------------------------------------------------


def test_the_other_servers_table_validates_every_column_and_lists_failed_runs() -> None:
    from bench.run import status_problem

    rows = []
    for pair in range(5):
        for mode, status, body in (
            ("stock", 413, 0),
            ("stock-read", 0 if pair < 2 else 413, 9_000_000),
            ("expect", 413, 0),
        ):
            problem = status_problem(status, 413)
            row = {
                "server": "uwsgi-http",
                "mode": mode,
                "pair": pair,
                "size": 10**9,
                "status": status,
                "body_bytes": body,
                "seconds": 1.0,
                "valid": not problem,
            }
            if problem:
                row["invalid"] = problem
            rows.append(row)
    table = "\n".join(report.servers_table(rows, 5))
    read_row = next(line for line in table.splitlines() if "stock-read:" in line)
    assert "9.0 MB (1 run)" not in read_row and "n=3); 2 of 5 runs failed †" in read_row
    assert table.count("status 0, expected 413") == 2
    assert "(0/413)" not in table


def test_the_servers_block_replaces_only_its_own_lines(tmp_path: Path) -> None:
    page = tmp_path / "servers.md"
    page.write_text(f"before\n{report.SERVERS_BEGIN}\nold figures\n{report.SERVERS_END}\nafter\n")
    doc = {
        "command": "python -m bench.run --servers-only",
        "date": "today",
        "pairs": 1,
        "environment": {"cpus": 2, "django": "5.2", "curl": "7.88"},
        "rows": [
            {
                "server": "mod_wsgi",
                "mode": "expect",
                "pair": 0,
                "size": 10**9,
                "status": 413,
                "body_bytes": 0,
                "seconds": 0.05,
                "valid": True,
            }
        ],
    }
    report.write_servers_page(doc, page)
    text = page.read_text()
    assert text.startswith("before\n") and text.endswith("\nafter\n")
    assert "old figures" not in text and "| Apache mod_wsgi" in text


# -- the ASGI bench -----------------------------------------------------------------------------


def test_the_asgi_report_leaves_out_failed_runs_and_shows_counts(tmp_path: Path) -> None:
    from bench import asgi

    labels = list(asgi.APPS)
    put = [
        {
            "server": label,
            "size": 10_000_000,
            "pair": run,
            "status": 413,
            "body_bytes": 0 if "expect" in label else 10_000_000,
            "seconds": 0.01,
            "valid": True,
        }
        for run in range(3)
        for label in labels
    ]
    put[0].update(valid=False, invalid="status 0, expected 413", body_bytes=3)
    accepted = [
        {
            "server": label,
            "pair": run,
            "status": 200,
            "seconds": 2.0,
            "cpu": 1.0 + run,
            "rss_peak": 58e6,
            "valid": True,
        }
        for run in range(3)
        for label in labels
    ]
    accepted[1].update(valid=False, invalid="the view read 5 bytes of 1073741824", cpu=0.01)
    form = [
        {
            "server": label,
            "size": 300_000_000,
            "pair": run,
            "status": 413,
            "cpu": 0.5,
            "body_bytes": 0 if "expect" in label else 300_000_400,
            "seconds": 1.0 + run,
            "valid": True,
        }
        for run in range(3)
        for label in labels
    ]
    form[2].update(
        valid=False, invalid="status 0, expected 413", body_bytes=70_000_000, seconds=99.0
    )
    results = {
        "date": "today",
        "config": asgi.FULL,
        "put": put,
        "form": form,
        "accepted": accepted,
        "environment": {"cpus": 2, "django": "5.2", "uvicorn": "0.5", "gunicorn": "27"},
    }
    text = asgi.report(results)
    page = tmp_path / "asgi.md"
    page.write_text(f"intro\n{asgi.ASGI_BEGIN}\nold\n{asgi.ASGI_END}\noutro\n")
    asgi.write_page(results, page)
    assert page.read_text() == (
        f"intro\n{asgi.ASGI_BEGIN}\n{asgi.figures(results)}{asgi.ASGI_END}\noutro\n"
    )
    assert asgi.figures(results) in text
    assert "10 MB (10 MB-10 MB, n=2); 1 of 3 runs failed †" in text
    assert "- rejected PUT uvicorn, run 0: status 0, expected 413" in text
    assert "the view read 5 bytes" in text and "0.01 s" not in text
    assert "2.00 s (1.00 s-3.00 s, n=3)" in text
    form_table = text[text.index("| rejected form |") : text.index("django-expect's columns")]
    assert form_table.startswith("| rejected form | | uvicorn | uvicorn + django-expect |")
    assert "| 300 MB | body bytes | 300 MB (300 MB-300 MB, n=3) | 0 (0-0, n=3) |" in form_table
    assert "- rejected form gunicorn -k asgi, run 0: status 0, expected 413" in text
    assert "99.00 s" not in text and "70 MB" not in text
    assert "| 2.50 s (2.00 s-3.00 s, n=2); 1 of 3 runs failed † |" in form_table


def test_asgi_rejection_rows_keep_each_column_to_its_own_runs() -> None:
    from bench import asgi

    runs = [
        {
            "server": label,
            "body_bytes": 10 * (i + 1),
            "seconds": 0.1 * (i + 1),
            "cpu": 0.01,
            "valid": True,
        }
        for i, label in enumerate(asgi.APPS)
    ]
    lines = asgi.rejection_rows(runs, "6 MB")
    assert lines[0] == (
        "| 6 MB | body bytes | 10 B (1 run) | 20 B (1 run) | 30 B (1 run) | 40 B (1 run) |"
    )
    assert lines[1].startswith("| | time to the 413 (wall) | 100.0 ms (1 run) | 200.0 ms")
    assert len(lines) == 3 and lines[2].startswith("| | server CPU |")
    assert (
        len(asgi.rejection_rows([{k: v for k, v in x.items() if k != "cpu"} for x in runs], "6 MB"))
        == 2
    )  # no CPU measured: no CPU row


def test_the_asgi_zero_bytes_line_holds_only_when_every_expect_rejection_moved_nothing() -> None:
    from bench import asgi

    def run(server: str, body: int, valid: bool = True) -> dict[str, object]:
        return {"server": server, "body_bytes": body, "valid": valid}

    stock = run("uvicorn", 10**9)  # the stock columns move the body: not part of the promise
    held = {
        "put": [run("uvicorn + django-expect", 0), stock],
        "form": [run("gunicorn -k asgi + django-expect", 0)],
    }
    assert asgi.zero_bytes(held) == "at most 0 body bytes over 2 valid runs; 0 on every run: yes"
    moved = {**held, "form": [run("gunicorn -k asgi + django-expect", 65536)]}
    assert asgi.zero_bytes(moved).endswith("0 on every run: **no**")
    assert "at most 65,536 body bytes" in asgi.zero_bytes(moved)
    failed = {**held, "form": [run("gunicorn -k asgi + django-expect", 5, valid=False)]}
    assert asgi.zero_bytes(failed) == (
        "at most 0 body bytes over 1 valid runs (1 failed, listed below); "
        "0 on every run: not resolved (failed runs)"
    )
    assert "not resolved" in asgi.zero_bytes({"put": [stock]})


def _answering(answer: bytes, read_body: bool) -> tuple[socket.socket, threading.Thread]:
    """A one-connection server on 127.0.0.1: reads the head, optionally invites and reads the
    whole body (Content-Length), then sends ``answer`` and closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, rest = data.split(b"\r\n\r\n", 1)
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if read_body:
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                while len(rest) < length:
                    rest += conn.recv(1 << 20)
            conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


REJECT = b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def test_the_form_run_counts_the_bytes_on_the_wire_and_wants_a_413(tmp_path: Path) -> None:
    from bench.run import FORM_PATH, form_relay, form_run, sparse_file

    file = sparse_file(tmp_path, 2_000_000)  # > 1 MiB: curl sends Expect: 100-continue
    cases = [
        (REJECT, False),
        (REJECT, True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", True),
    ]
    rows = []
    for answer, read_body in cases:
        listener, thread = _answering(answer, read_body)
        with listener, form_relay(listener.getsockname()[:2]) as relay:
            rows.append(form_run(relay, file, [], "uvicorn + django-expect", 0))
            thread.join(30)
    early, late, accepted = rows
    assert (early["status"], early["body_bytes"], early["valid"]) == (413, 0, True)
    assert late["valid"] and late["body_bytes"] > 2_000_000  # the control: the body crossed
    assert (accepted["valid"], accepted["invalid"]) == (False, "status 200, expected 413")
    assert (early["scenario"], early["size"], FORM_PATH) == ("form", 2_000_000, "/upload/form")


def test_server_cpu_of_a_rejection_comes_from_valid_runs() -> None:
    put = [
        {**_put("stock-read", 9_000_000, 0.2, True, pair), "cpu": cpu}
        for pair, cpu in enumerate([0.05, 0.07, 0.06])
    ]
    put.append({**_put("stock-read", 1_000, 0.2, False, 3), "cpu": 9.0})
    table = "\n".join(report.rejection_tables(_results(put), [10_000_000]))
    cpu_row = next(line for line in table.splitlines() if "server CPU" in line)
    assert "60.0 ms (50.0 ms-70.0 ms, n=3); 1 of 4 runs failed †" in cpu_row
    assert "9.00 s" not in cpu_row


def test_the_page_lists_every_failed_run_the_other_servers_included() -> None:
    failed = {
        "server": "uwsgi-http",
        "mode": "stock-read",
        "pair": 1,
        "size": 10**9,
        "status": 0,
        "body_bytes": 15_000_000,
        "seconds": 1.05,
        "valid": False,
        "invalid": "status 0, expected 413",
    }
    put = _put("stock-read", 11_000_000, 5.0, False, 2)
    r = {
        "put": [put],
        "form": [],
        "small": [],
        "latency": [],
        "servers": [failed],
        "accepted": {"size": SIZE, "runs": []},
    }
    lines = report.excluded(r)
    assert any("uWSGI `--http` router" in line and "15 MB body bytes" in line for line in lines)
    assert any(
        line.startswith("- put (wan, curl, 10000000), stock (reads, then 413), pair 2")
        and "11 MB body bytes" in line
        for line in lines
    )


_BURN = """
import sys, threading, time
def burn():  # 0.5 s of this thread's own CPU time, then the thread ends
    while time.thread_time() < 0.5:
        pass
worker = threading.Thread(target=burn)
worker.start()
worker.join()
print("ended", flush=True)
sys.stdin.read()  # until the test closes stdin
"""


def test_server_cpu_counts_the_threads_that_ended() -> None:
    """Django's ASGI handler runs a request's sync code on a thread that ends with the request:
    the CPU it used must stay counted (the control: the live threads' schedstat lost it).

    Only the ended thread's share is compared, never an absolute figure for the live threads: how
    much CPU the interpreter's start-up takes depends on the machine's load."""
    import subprocess
    import sys

    from bench.servers import cpu_seconds

    child = subprocess.Popen(
        [sys.executable, "-c", _BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ended\n"
        # The main thread now blocks on stdin: neither reading below adds to it.
        live = (
            sum(
                int((task / "schedstat").read_text().split()[0])
                for task in Path(f"/proc/{child.pid}/task").iterdir()
            )
            / 1e9
        )
        counted = cpu_seconds([child.pid])
        assert counted >= 0.5  # the burning thread's 0.5 s is in the figure
        assert counted - live >= 0.45  # the control: the live threads' sum lost it
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


def test_a_paired_target_is_met_when_80_percent_of_the_pairs_are_within_the_goal() -> None:
    assert report.pair_verdict([0.99, 1.0, 1.005, 1.008, 1.03], 1.01) == "yes (4 of 5 pairs within)"
    no = report.pair_verdict([0.99, 1.0, 1.02, 1.03, 1.04], 1.01)
    assert no == "**no** (2 of 5 pairs within)"
