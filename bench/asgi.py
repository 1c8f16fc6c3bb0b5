"""`make bench-asgi`: Django's own ASGI handler vs django-expect's, on uvicorn and gunicorn -k asgi.

    python -m bench.asgi            # full run (a few minutes): bench/asgi_results.{json,md}
    python -m bench.asgi --smoke    # each scenario once at small sizes: bench/.work/asgi-smoke/

Each server (uvicorn h11, one process; gunicorn ``-k asgi``, one worker) runs the bench settings
(ExpectMiddleware and the decorated bench views) twice; only ``asgi.py`` differs:
``tests/asgi_stock.py`` (``django.core.asgi``) or ``tests/asgi.py``
(``django_expect.asgi``). Scenarios:

1. rejected PUTs (curl, ``Expect: 100-continue``) to a 5 MiB view, over loopback: body bytes the
   client sent (counted by harness/relay.py) and time to the final status;
2. an accepted PUT (1 GiB; a view reading 1 MiB at a time and keeping nothing), a fresh server per
   run, stock and django-expect alternating: the server's CPU time (schedstat) and peak RSS.

Every process started here is stopped by its PID; the run exits non-zero on an unexpected status.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Protocol

from bench import clients
from bench.run import MB, GiB, MiB, _through, log, sparse_file
from bench.servers import (
    EXPECT_ASGI,
    STOCK_ASGI,
    Uvicorn,
    bench_env,
    cpu_seconds,
    peak_rss,
    prepare,
)
from harness.asgi_servers import ASGIServer
from harness.relay import Relay


class HarnessError(RuntimeError):
    """A run that did not do the work: the figures of this scenario would mean nothing."""


def expect_status(what: str, status: int | None, wanted: int) -> None:
    """This scenario publishes no figure from a run that got the wrong status: stop instead."""
    if status != wanted:
        raise HarnessError(f"{what}: status {status}, expected {wanted}")

HERE = Path(__file__).resolve().parent
#: column -> (server, asgi.py): each server with Django's handler, then with django-expect's.
APPS = {
    "uvicorn": ("uvicorn", STOCK_ASGI),
    "uvicorn + django-expect": ("uvicorn", EXPECT_ASGI),
    "gunicorn -k asgi": ("gunicorn-asgi", STOCK_ASGI),
    "gunicorn -k asgi + django-expect": ("gunicorn-asgi", EXPECT_ASGI),
}


class _Started(Protocol):
    address: tuple[str, int]

    def stop(self) -> None: ...


def start(label: str, work: Path, name: str) -> tuple[_Started, int]:
    """The column's server, and the PID of the process that serves (uvicorn, gunicorn's worker)."""
    kind, app = APPS[label]
    if kind == "uvicorn":
        uvicorn = Uvicorn(work, name, app=app)
        return uvicorn, uvicorn.process.pid
    server = ASGIServer(kind, app, work / f"{name}.log", bench_env("expect", work)).start()
    assert server.process is not None
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return server, int(children.read_text().split()[0])
FULL = {"reject_sizes": [10 * MB, 100 * MB, 1000 * MB], "accept_size": GiB, "accept_pairs": 3}
SMOKE = {"reject_sizes": [6 * MB], "accept_size": 8 * MiB, "accept_pairs": 1}


def rejections(cfg: dict, work: Path) -> list[dict]:
    rows = []
    for label in APPS:
        server, _ = start(label, work, f"reject-{len(rows)}")
        try:
            clients.keepalive_requests(server.address, "GET", "/small", 20)  # warm up
            with Relay(server.address) as relay:
                for size in cfg["reject_sizes"]:
                    file = sparse_file(work, size)
                    try:
                        row = _through(
                            relay, lambda f=file: clients.curl_put(f"{relay.url}/objects/k", f)
                        )
                    finally:
                        file.unlink()
                    row.update(server=label, size=size)
                    log(f"reject {size / MB:g} MB {label}: {row['status']} "
                        f"{row['body_bytes']} B {row['seconds'] * 1000:.1f} ms")
                    expect_status(f"{label} PUT {size}", row["status"], 413)
                    rows.append(row)
        finally:
            server.stop()
    return rows


def accepted(cfg: dict, work: Path) -> list[dict]:
    size = cfg["accept_size"]
    runs = []
    labels = list(APPS)
    for pair in range(cfg["accept_pairs"]):
        for label in labels if pair % 2 == 0 else labels[::-1]:
            server, pid = start(label, work, f"accept-{pair}-{len(runs)}")
            try:
                clients.keepalive_requests(server.address, "GET", "/small", 20)  # warm up
                before = cpu_seconds([pid])
                status, seconds = clients.streaming_put(server.address, "/accept/big", size)
                cpu = cpu_seconds([pid]) - before
                rss = peak_rss(pid)
            finally:
                server.stop()
            expect_status(f"{label} accepted upload", status, 200)
            log(f"accept {label}: {seconds:.2f} s wall, {cpu:.2f} s CPU, "
                f"peak RSS {rss / MB:.1f} MB")
            runs.append({"server": label, "pair": pair, "seconds": seconds, "cpu": cpu,
                         "rss_peak": rss})
    return runs


def report(results: dict) -> str:
    lines = [
        "# ASGI: Django's handler vs django-expect's (`make bench-asgi`)",
        "",
        f"{results['date']}; uvicorn (h11, one process) and gunicorn -k asgi (one worker); the "
        "bench project with ExpectMiddleware in all; only asgi.py differs. Rejected PUT: curl -T "
        "(Expect: 100-continue) to a 5 MiB view over loopback, body bytes counted by a relay.",
        "",
        "| rejected PUT | " + " | ".join(APPS) + " |",
        "|---|" + "---|" * len(APPS),
    ]
    for size in results["config"]["reject_sizes"]:
        cells = []
        for label in APPS:
            row = next(r for r in results["put"] if r["server"] == label and r["size"] == size)
            cells.append(f"{row['status']}, {row['body_bytes']:,} body bytes, "
                         f"{row['seconds'] * 1000:.0f} ms")
        lines.append(f"| {size / MB:g} MB | " + " | ".join(cells) + " |")
    size = results["config"]["accept_size"]
    lines += [
        "",
        f"Accepted {size / MiB:g} MiB PUT (a view reading 1 MiB at a time), a fresh server per "
        "run, medians (min-max) of the runs:",
        "",
        "| | runs | server CPU (s) | peak RSS (MB) | wall (s) |",
        "|---|---|---|---|---|",
    ]
    for label in APPS:
        runs = [r for r in results["accepted"] if r["server"] == label]
        def cell(key: str, scale: float = 1.0, runs: list = runs) -> str:
            values = [r[key] / scale for r in runs]
            return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
        lines.append(f"| {label} | {len(runs)} | {cell('cpu')} | {cell('rss_peak', MB)} | "
                     f"{cell('seconds')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="each scenario once, small sizes")
    args = parser.parse_args(argv)
    cfg = SMOKE if args.smoke else FULL
    work = HERE / ".work" / ("asgi-smoke" if args.smoke else "asgi")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out_dir = work if args.smoke else HERE
    results: dict = {"smoke": args.smoke, "config": cfg,
                     "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    prepare(work)
    try:
        results["put"] = rejections(cfg, work)
        results["accepted"] = accepted(cfg, work)
    except HarnessError as error:
        log(f"HARNESS BROKEN: {error}")
        return 1
    (out_dir / "asgi_results.json").write_text(json.dumps(results, indent=1) + "\n")
    summary = report(results)
    (out_dir / "asgi_results.md").write_text(summary)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
