"""`make bench` (part of it): the decision latency, explained -- how much of the time from the
request head to the 100 (or the 413) is Django's own request path and how much is django-expect's.

    python -m bench.breakdown            # full run: bench/latency_results.{json,md}, the page
    python -m bench.breakdown --smoke    # each cell once: bench/.work/latency-smoke/

Four gunicorn servers (gthread, one worker, 4 threads, the bench project) up at once:

* ``stock``: stock gunicorn and Django without django-expect; gunicorn answers 100 to every
  ``Expect: 100-continue`` before Django runs (the eager 100);
* ``bare``: Django with no middleware at all behind the same minimal hook (Django's core path
  to the view: URL resolution, the request object, the view);
* ``control``: the same Django stack without django-expect (no app, no middleware, undecorated
  views) behind a minimal hook that sends the 100 when the view first reads the body
  (bench/timed_gunicorn.py): the accepted head's 100 comes when Django's own request path reached
  the view; the oversized head is answered 413 by the view itself, from ``Content-Length``;
* ``expect``: django-expect's hooks, ExpectMiddleware and the decorated views: the accepted
  head's 100 at the view's first read, the oversized head's 413 from ExpectMiddleware.

Each sample is one PUT with ``Expect: 100-continue`` on a new connection over loopback:
``/accept/x`` declaring 1,000 bytes (the body follows the 100), ``/objects/x`` declaring 50 MB
(the view's limit is 5 MiB). The client times the head leaving it to the first status line
arriving (bench/clients.py ``decision_latency``), with 1 and with 50 concurrent clients; the
columns alternate round by round (A B C D, then D C B A). Inside all but ``stock`` the
worker times every request (bench/timed_gunicorn.py): ``total`` from ``pre_request`` to the
decision going out, and for ``expect`` the ``package`` part of it, django-expect's own code
(its hook, ExpectMiddleware, the input's first read up to the 100's ``sendall``). A sample whose
status is not the column's expected one is left out and counted. Every process started here is
stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from bench import clients
from bench.run import MB, alternating, log, publishing, start_run
from bench.servers import bench_env, gunicorn, prepare
from harness.server import Server

HERE = Path(__file__).resolve().parent
FULL = {"latency": {"1": (1, 100), "50": (50, 4)}, "rounds": 6}
SMOKE = {"latency": {"1": (1, 10), "50": (5, 2)}, "rounds": 2}
COLUMNS = ("expect", "control", "bare", "stock")
LABELS = {
    "stock": "stock gunicorn, eager 100 (Django not reached)",
    "bare": "Django to the view, no middleware at all (lazy 100 by a minimal hook)",
    "control": "Django to the view, no django-expect (lazy 100 by a minimal hook)",
    "expect": "django-expect (hook + ExpectMiddleware + @upload_policy)",
}
KINDS = {"continue": ("/accept/x", 1000), "reject": ("/objects/x", 50 * MB)}
WANTED = {
    ("stock", "continue"): 100,
    ("stock", "reject"): 100,
    ("control", "continue"): 100,
    ("control", "reject"): 413,
    ("bare", "continue"): 100,
    ("bare", "reject"): 413,
    ("expect", "continue"): 100,
    ("expect", "reject"): 413,
}
#: The package's share of the decision, p50 (issue 21).
SHARE_GOAL = 30e-6


def timed_server(mode: str, work: Path, middleware: bool = True) -> Server:
    env = bench_env(mode, work)
    env["BENCH_TIMING"] = "1"
    if not middleware:
        env["BENCH_MIDDLEWARE"] = "none"
    return Server(
        "gthread",
        hook=False,
        log_path=work / f"timed-{mode}{'' if middleware else '-bare'}.log",
        env=env,
        app="bench.timed_gunicorn:application",
        extra_args=[
            "-c", "python:bench.timed_gunicorn",
            "--log-level", "info", "--no-control-socket", "--threads", "4", "--timeout", "120",
        ],
    ).start()  # fmt: skip


def take_timings(address: tuple[str, int]) -> list[list]:
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/bench/timings", timeout=30) as r:
        return list(json.loads(r.read())["samples"])


def measure(cfg: dict, work: Path) -> list[dict]:
    rows = []
    with ExitStack() as stack:
        servers = {"stock": gunicorn("stock", work, "latency-stock")}
        stack.callback(servers["stock"].stop)
        servers["bare"] = timed_server("stock", work, middleware=False)
        servers["control"] = timed_server("stock", work)
        servers["expect"] = timed_server("expect", work)
        for mode in ("bare", "control", "expect"):
            stack.callback(servers[mode].stop)
        for mode, server in servers.items():  # warm up every view on every thread
            for path, length in KINDS.values():
                clients.decision_latency(server.address, path, length, 4, 5)
            if mode != "stock":
                take_timings(server.address)
        for label, (concurrency, per_client) in cfg["latency"].items():
            for kind, (path, length) in KINDS.items():
                for round_, mode in alternating(COLUMNS, cfg["rounds"]):
                    address = servers[mode].address
                    samples = clients.decision_latency(
                        address, path, length, concurrency, per_client
                    )
                    inside = [] if mode == "stock" else take_timings(address)
                    good = sorted(s for status, s in samples if status == WANTED[mode, kind])
                    wrong = sorted({s for s, _ in samples if s != WANTED[mode, kind]})
                    row = {
                        "clients": concurrency,
                        "kind": kind,
                        "server": mode,
                        "round": round_,
                        "times": good,
                        "excluded": len(samples) - len(good),
                        "excluded_statuses": wrong,
                        "total": sorted(t for p, t, _, _ in inside if p.startswith(path[:-1])),
                        "package": sorted(
                            s for p, _, s, _ in inside if p.startswith(path[:-1]) and s is not None
                        ),
                        "parts": [x for p, _, s, x in inside if p.startswith(path[:-1]) and s],
                    }
                    if wrong:
                        log(f"INVALID SAMPLES: latency {label} {kind} {mode}: statuses {wrong}")
                    log(
                        f"latency {label} clients {kind} {mode} round {round_}: "
                        + (f"p50 {pct(good, 50) * 1e3:.2f} ms" if good else "no valid sample")
                        + (f", package p50 {pct(row['package'], 50) * 1e6:.1f} us"
                           if row["package"] else "")
                    )  # fmt: skip
                    rows.append(row)
    return rows


def pct(values: list[float], p: int) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _ms(v: float) -> str:
    return f"{v * 1e3:.2f} ms"


def _us(v: float) -> str:
    return f"{v * 1e6:.0f} µs" if v >= 100e-6 else f"{v * 1e6:.1f} µs"


def _p50_p90(values: list[float], fmt) -> str:  # type: ignore[no-untyped-def]
    return f"{fmt(pct(values, 50))} / {fmt(pct(values, 90))}" if values else "-"


def share_verdict(rows: list[dict]) -> tuple[str, str]:
    """The package's p50 over every sample, its per-round range, and the verdict by the pair
    rule: met when at least 80 % of the rounds' p50 are within the goal."""
    from bench.report import pair_verdict

    pooled = sorted(t for x in rows for t in x["package"])
    per_round = [pct(x["package"], 50) for x in rows if x["package"]]
    if not pooled:
        return "no sample", "-"
    measured = (
        f"{_us(pct(pooled, 50))} over {len(pooled)} samples (per-round p50 "
        f"{_us(min(per_round))}-{_us(max(per_round))}, {len(per_round)} rounds)"
    )
    return measured, pair_verdict(per_round, SHARE_GOAL).replace("pairs", "rounds")


def table(results: dict) -> list[str]:
    rows = results["rows"]
    out = [
        "| clients | head | server | samples (left out) | client: head to first status line, "
        "p50 / p90 | worker: pre_request to the decision, p50 / p90 | of which django-expect's "
        "own code, p50 / p90 |",
        "|---|---|---|---|---|---|---|",
    ]
    for clients_ in sorted({x["clients"] for x in rows}):
        for kind, head in (
            ("continue", "accepted (1,000 bytes): the 100"),
            ("reject", "oversized (50 MB): 413, stock 100"),
        ):
            for mode in ("stock", "bare", "control", "expect"):
                group = [
                    x
                    for x in rows
                    if x["clients"] == clients_ and x["kind"] == kind and x["server"] == mode
                ]
                times = sorted(t for x in group for t in x["times"])
                total = sorted(t for x in group for t in x["total"])
                package = sorted(t for x in group for t in x["package"])
                left = sum(x["excluded"] for x in group)
                out.append(
                    f"| {clients_} | {head} | {LABELS[mode]} | {len(times)} ({left}) "
                    f"| {_p50_p90(times, _ms)} "
                    f"| {_p50_p90(total, _us) if mode != 'stock' else 'not timed'} "
                    f"| {_p50_p90(package, _us) if mode == 'expect' else '-'} |"
                )
    return out


def parts_table(results: dict) -> list[str]:
    """django-expect's own time per part of its code (p50 of each part over the samples)."""
    rows = [x for x in results["rows"] if x["server"] == "expect"]
    names = sorted({name for x in rows for sample in x.get("parts", []) for name in sample})
    if not names:
        return []
    out = [
        "| clients | head | " + " | ".join(f"{n}, p50" for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for clients_ in sorted({x["clients"] for x in rows}):
        for kind, head in (("continue", "the 100"), ("reject", "the 413")):
            samples = [
                s
                for x in rows
                if x["clients"] == clients_ and x["kind"] == kind
                for s in x.get("parts", [])
            ]
            cells = [
                _us(pct([s.get(n, 0.0) for s in samples], 50)) if samples else "-" for n in names
            ]
            out.append(f"| {clients_} | {head} | " + " | ".join(cells) + " |")
    return out


def targets(results: dict) -> list[tuple[str, str, str, str]]:
    out = []
    rows = results["rows"]
    for clients_ in sorted({x["clients"] for x in rows}):
        for kind, head in (("continue", "the 100"), ("reject", "the 413")):
            group = [
                x
                for x in rows
                if x["clients"] == clients_ and x["kind"] == kind and x["server"] == "expect"
            ]
            measured, met = share_verdict(group)
            out.append(
                (
                    f"django-expect's own code before {head}, p50, {clients_} client"
                    + ("s" if clients_ > 1 else ""),
                    f"<= {SHARE_GOAL * 1e6:.0f} µs",
                    measured,
                    met,
                )
            )
    return out


def section(results: dict, with_targets: bool = True) -> list[str]:
    """The measured section (bench/latency_results.md; the performance page, whose Targets
    table has the targets, leaves them out here)."""
    cfg = results["config"]
    return [
        f"Measured {results['date']} by `python -m bench.breakdown` (part of `make bench`; "
        "bench/latency_results.{md,json}). Four gunicorn servers (gthread, 1 worker, 4 threads) "
        "up at once: stock gunicorn (its eager 100, before Django runs); Django with no "
        "middleware at all, and the bench project's middleware stack without django-expect, "
        "each behind a minimal hook that sends the 100 at the view's first read (the 100 marks "
        "Django's own request path reaching the view; their view answers the oversized head 413 "
        "from Content-Length); and django-expect. Each sample: a PUT with Expect: 100-continue "
        "on a new connection over loopback; "
        f"{cfg['rounds']} rounds per cell, the servers alternating (A B C D, then D C B A). "
        "**client**: head out to the first status line in, at the client. **worker**: inside "
        "the worker thread, from gunicorn's pre_request (the head parsed) to the 100's sendall "
        "or the return of Django's WSGI handler with the 413 (queueing before pre_request and "
        "the socket work are not in it). **django-expect's own code**: the part of the worker "
        "figure spent in the package (its pre_request hook, ExpectMiddleware's process_view and "
        "response phase, the input's first read up to the 100's sendall), timed on the same "
        "requests. With 50 clients every time includes waiting for the GIL among the 4 "
        "threads. Percentiles are over the samples of all rounds pooled.",
        "",
        *table(results),
        "",
        "django-expect's own time by part (the p50 of each part over the same samples; the "
        "parts' p50s need not add up to the total's):",
        "",
        *parts_table(results),
        "",
        *(
            [
                "| target | goal | measured | met |",
                "|---|---|---|---|",
                *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(results)),
                "",
            ]
            if with_targets
            else []
        ),
        "The rule for the package's share, as for the paired rows: each round gives one p50 of "
        "the package's own time; the target is met when at least 80% of the rounds are within "
        "it.",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="each cell once, a few requests")
    args = parser.parse_args(argv)
    cfg = SMOKE if args.smoke else FULL
    work, out_dir, results = start_run("latency", args.smoke, cfg)
    prepare(work)
    results["rows"] = measure(cfg, work)
    (out_dir / "latency_results.json").write_text(json.dumps(results, indent=1) + "\n")
    text = "# Decision latency, explained (`python -m bench.breakdown`)\n\n" + "\n".join(
        section(results)
    )
    (out_dir / "latency_results.md").write_text(text)
    if publishing(args.smoke):
        from bench.report import rewrite_page

        rewrite_page()
    print(text)
    broken = [x for x in results["rows"] if x["server"] == "expect" and x["excluded"]]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
