"""`make bench-asgi`: Django's own ASGI handler vs django-expect's, on uvicorn and gunicorn -k asgi.

    python -m bench.asgi            # full run (a few minutes): bench/asgi_results.{json,md},
                                    # and the measured block of docs/howto/asgi.md
    python -m bench.asgi --smoke    # each scenario once at small sizes: bench/.work/asgi-smoke/
    python -m bench.asgi --report   # rewrite asgi_results.md (and docs/howto/asgi.md's block)

Each server (uvicorn h11, one process; gunicorn ``-k asgi``, one worker) runs the bench settings
(ExpectMiddleware and the decorated bench views) twice; only ``asgi.py`` differs:
``tests/asgi_stock.py`` (``django.core.asgi``) or ``tests/asgi.py``
(``django_expect.asgi``). Scenarios:

1. rejected PUTs (curl, ``Expect: 100-continue``) to a 5 MiB view, over loopback: body bytes the
   client sent (counted by harness/relay.py) and time to the 413; the four servers up at
   once, the columns alternating, 3 runs per cell;
2. the everyday form (bench/run.py's form scenario, reused): curl ``-F`` of a 300 MB file to the
   5 MB multipart view over loopback, the same four servers and relays, alternating, 3 runs per
   cell: body bytes, time to the 413, server CPU;
3. an accepted PUT (1 GiB; a view reading 1 MiB at a time, answering the byte count and adler32
   it read), a fresh server per run, the columns alternating: the server's CPU time (its
   process CPU-time clock: every thread, the ended ones included) and peak RSS.

Every run is validated (a 413 for every rejection, PUT or form; for the accepted upload status
200, byte count and checksum), kept in asgi_results.json with ``valid``, left out of every figure
when it failed, and listed in the report. Every process started here is stopped by its PID; the
run exits non-zero when a django-expect run fails validation.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

from bench import clients
from bench.run import (
    MB,
    GiB,
    MiB,
    _through,
    accepted_problem,
    alternating,
    form_relay,
    form_run,
    log,
    publishing,
    sparse_file,
    start_run,
    status_problem,
    validate,
)
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
    return start_server(kind, app, work, name)


def start_server(
    kind: str, app: str, work: Path, name: str, mode: str = "expect"
) -> tuple[_Started, int]:
    """``kind`` (uvicorn, gunicorn-asgi) serving ``app`` with the bench settings of ``mode``,
    and the PID of the process that serves (uvicorn's, gunicorn's worker)."""
    if kind == "uvicorn":
        uvicorn = Uvicorn(work, name, app=app, mode=mode)
        assert uvicorn.process is not None
        return uvicorn, uvicorn.process.pid
    server = ASGIServer(kind, app, work / f"{name}.log", bench_env(mode, work)).start()
    assert server.process is not None
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return server, int(children.read_text().split()[0])


#: The full run (``make bench-asgi``) and the smoke run (``--smoke``, CI): sizes and runs per cell.
FULL = {
    "reject_sizes": [10 * MB, 100 * MB, 1000 * MB],
    "reject_runs": 3,
    "form_size": 300 * MB,
    "form_runs": 3,
    "accept_size": GiB,
    "accept_pairs": 3,
    "small_requests": 1000,
    "small_pairs": 15,
}
SMOKE = {
    "reject_sizes": [6 * MB],
    "reject_runs": 1,
    "form_size": 6 * MB,
    "form_runs": 1,
    "accept_size": 8 * MiB,
    "accept_pairs": 1,
    "small_requests": 50,
    "small_pairs": 1,
}


def serving(
    stack: ExitStack, work: Path
) -> tuple[dict[str, Relay], dict[str, Relay], dict[str, int]]:
    """The four columns' servers up at once (stopped by ``stack``), warmed up, each behind a
    relay for the PUTs and one for the form (bench/run.py's, same shaping); and each column's
    serving PID."""
    puts, forms, pids = {}, {}, {}
    for label in APPS:
        server, pids[label] = start(label, work, f"reject-{len(puts)}")
        stack.callback(server.stop)
        clients.keepalive_requests(server.address, "GET", "/small", 20)  # warm up
        puts[label] = stack.enter_context(Relay(server.address))
        forms[label] = stack.enter_context(form_relay(server.address))
    return puts, forms, pids


def rejections(cfg: dict, relays: dict[str, Relay], pids: dict[str, int], work: Path) -> list[dict]:
    """For each size the columns alternate (A B C D, then D C B A, ...), ``cfg['reject_runs']``
    runs each. Every column must answer 413: a run that does not is kept, marked invalid, and
    left out."""
    rows = []
    for size in cfg["reject_sizes"]:
        file = sparse_file(work, size)
        try:
            for run, label in alternating(tuple(APPS), cfg["reject_runs"]):
                relay = relays[label]
                row = _through(
                    relay,
                    lambda r=relay, f=file: clients.curl_put(f"{r.url}/objects/k", f),
                    [pids[label]],
                )
                row.update(server=label, size=size, pair=run)
                log(
                    f"reject {size / MB:g} MB {label}: {row['status']} "
                    f"{row['body_bytes']} B {row['seconds'] * 1000:.1f} ms"
                )
                rows.append(validate(row, status_problem(row["status"], 413)))
        finally:
            file.unlink()
    return rows


def form_rejections(
    cfg: dict, relays: dict[str, Relay], pids: dict[str, int], work: Path
) -> list[dict]:
    """bench/run.py's form scenario (:func:`bench.run.form_run`: curl ``-F``, the 5 MB form
    view, a 413 expected) on the four columns, alternating, ``cfg['form_runs']`` runs each."""
    file = sparse_file(work, cfg["form_size"])
    try:
        return [
            form_run(relays[label], file, [pids[label]], label, run)
            for run, label in alternating(tuple(APPS), cfg["form_runs"])
        ]
    finally:
        file.unlink()


def accepted(cfg: dict, work: Path) -> list[dict]:
    """A fresh server per run (its own peak RSS), the four columns alternating; a run counts
    only when the view read every byte intact (status 200, byte count, adler32)."""
    size = cfg["accept_size"]
    checksum = clients.zeros_adler32(size)
    runs = []
    for pair, label in alternating(tuple(APPS), cfg["accept_pairs"]):
        server, pid = start(label, work, f"accept-{pair}-{len(runs)}")
        try:
            clients.keepalive_requests(server.address, "GET", "/small", 20)  # warm up
            before = cpu_seconds([pid])
            status, seconds, answer = clients.streaming_put(server.address, "/accept/big", size)
            cpu = cpu_seconds([pid]) - before
            rss = peak_rss(pid)
        finally:
            server.stop()
        log(
            f"accept {label}: {status}, {seconds:.2f} s wall, {cpu:.2f} s CPU, "
            f"peak RSS {rss / MB:.1f} MB"
        )
        row = {
            "server": label,
            "pair": pair,
            "status": status,
            "seconds": seconds,
            "cpu": cpu,
            "rss_peak": rss,
        }
        runs.append(validate(row, accepted_problem(status, answer, size, checksum)))
    return runs


#: The small-request rows: each server with Django's own handler and no django-expect at all
#: (BENCH_MODE=stock: no app, no middleware, no decorators) against ``django_expect.asgi`` with
#: ExpectMiddleware and the decorated views (BENCH_MODE=expect).
SMALL_SERVERS = {"uvicorn": "uvicorn", "gunicorn -k asgi": "gunicorn-asgi"}
SMALL_MODES = {"stock": STOCK_ASGI, "expect": EXPECT_ASGI}
#: (label, goal as a ratio, goal as text) per kind of clients.SMALL_KINDS.
SMALL_GOALS = {
    "GET": ("small GET, keep-alive", 1.01, "<= +1%"),
    "form": ("1 KiB urlencoded form POST, policy-checked", 1.02, "<= +2%"),
    "json-expect": (
        "1 KiB JSON POST with Expect: 100-continue (stock: the 100 at Django's first receive)",
        1.02,
        "<= +2%",
    ),
}


def small_requests(cfg: dict, work: Path) -> list[dict]:
    """Per server, both columns up at once and warmed up; per kind of request the columns
    alternate (A B, then B A, ...) for ``cfg['small_pairs']`` pairs of ``cfg['small_requests']``
    requests on one keep-alive connection. CPU: the serving process's CPU-time clock (every
    thread, the ended ones included) across the run, divided by the requests. A run counts
    only when every response was a 200 with the expected body."""
    rows = []
    count = cfg["small_requests"]
    for label, kind in SMALL_SERVERS.items():
        with ExitStack() as stack:
            up = {}
            for mode, app in SMALL_MODES.items():
                server, pid = start_server(kind, app, work, f"small-{kind}-{mode}", mode)
                stack.callback(server.stop)
                up[mode] = (server.address, pid)
                for request in clients.SMALL_KINDS:  # warm up
                    clients.keepalive_kind(server.address, request, 50)
            for request in clients.SMALL_KINDS:
                for pair, mode in alternating(tuple(SMALL_MODES), cfg["small_pairs"]):
                    address, pid = up[mode]
                    before = cpu_seconds([pid])
                    seconds, wrong = clients.keepalive_kind(address, request, count)
                    cpu = cpu_seconds([pid]) - before
                    row = {
                        "asgi_server": label,
                        "kind": request,
                        "server": mode,
                        "pair": pair,
                        "count": count,
                        "seconds": seconds,
                        "cpu": cpu,
                    }
                    log(
                        f"small {label} {request} {mode}: {count / seconds:.0f} req/s, "
                        f"{cpu / count * 1e6:.0f} us CPU/request"
                    )
                    rows.append(
                        validate(row, f"{wrong} of {count} responses wrong" if wrong else None)
                    )
    return rows


def small_table(results: dict) -> list[str]:
    """The small-request rows: worker CPU per request of each column, the ratio of the medians
    with the per-pair range, and the target by the pair rule (bench/report.py pair_verdict)."""
    from bench.report import med, pair_verdict, paired, spread

    rows = results.get("small", [])
    if not rows:
        return []

    def us(v: float) -> str:
        return f"{v * 1e6:.0f} µs"

    def per_request(x: dict) -> float:
        return float(x["cpu"]) / int(x["count"])

    out = [
        "| server | request | Django's ASGIHandler, no django-expect | django_expect.asgi + "
        "ExpectMiddleware + @upload_policy | median of the per-pair ratios (range) | goal "
        "| met |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in SMALL_SERVERS:
        for kind, (name, goal, text) in SMALL_GOALS.items():
            group = [x for x in rows if x["asgi_server"] == label and x["kind"] == kind]
            if not group:
                continue
            ratios = sorted(a / b for a, b in paired(group, per_request) if b)
            middle = med(ratios)
            columns = [
                spread([per_request(x) for x in group if x["server"] == m and x["valid"]], us)
                for m in ("stock", "expect")
            ]
            measured = (
                f"{(middle - 1) * 100:+.1f}% ({(ratios[0] - 1) * 100:+.0f}% to "
                f"{(ratios[-1] - 1) * 100:+.0f}%, n={len(ratios)})"
                if middle is not None
                else "no valid pair"
            )
            met = pair_verdict(ratios, goal) if ratios else "-"
            out.append(
                f"| {label} | {name} | {columns[0]} | {columns[1]} | {measured} | {text} | {met} |"
            )
    return out


def small_section(results: dict) -> list[str]:
    """The small-request section of asgi_results.md and of the performance page."""
    table = small_table(results)
    if not table:
        return []
    cfg = results["config"]
    return [
        f"Small requests: {cfg['small_requests']:,} per run on one keep-alive connection, "
        f"{cfg['small_pairs']} alternating pairs per row (A B, then B A). Stock: Django's own "
        "ASGIHandler (django.core.asgi) with the bench project's settings minus django-expect "
        "(no app, no middleware, undecorated views); django-expect: django_expect.asgi, "
        "ExpectMiddleware and the views under @upload_policy (64 KiB; the form and JSON views "
        "also restrict the content type). The JSON request sends Expect: 100-continue and its "
        "body after the 100 (Django's handler has the server send it at its first receive(); "
        "django-expect's at the view's first read). CPU: the serving process's CPU-time clock "
        "(uvicorn's process, gunicorn's worker; every thread, the ended ones included) over the "
        "run, per request. Each pair gives one ratio (django-expect / stock); the row shows "
        "their median and range, and a goal is met when at least 80% of the pairs are within "
        "it (the rule of every paired row of the performance page).",
        "",
        *table,
        "",
    ]


def report(results: dict) -> str:
    """bench/asgi_results.md: the figures under a title."""
    return "# ASGI: Django's handler vs django-expect's (`make bench-asgi`)\n\n" + figures(results)


#: The block of docs/howto/asgi.md that ``make bench-asgi`` rewrites from asgi_results.json.
ASGI_PAGE = HERE.parent / "docs" / "howto" / "asgi.md"
ASGI_BEGIN = "<!-- bench:asgi (generated by bench/asgi.py from bench/asgi_results.json) -->"
ASGI_END = "<!-- /bench:asgi -->"


def write_page(results: dict, path: Path = ASGI_PAGE) -> None:
    """Replace the generated block of ``path`` (between the two markers) with the figures."""
    text = path.read_text()
    begin, end = text.index(ASGI_BEGIN), text.index(ASGI_END) + len(ASGI_END)
    block = f"{ASGI_BEGIN}\n{figures(results)}{ASGI_END}"
    path.write_text(text[:begin] + block + text[end:])


def rejection_rows(runs: list[dict], first: str) -> list[str]:
    """The rows of one rejected size (``first`` names it): body bytes, time to the 413 and, when
    measured, server CPU, one cell per column of :data:`APPS` over that column's ``runs``."""
    from bench.report import figure_cell, fmt_bytes, fmt_time

    groups = {label: [x for x in runs if x["server"] == label] for label in APPS}
    lines = [
        f"| {first} | body bytes | "
        + " | ".join(
            figure_cell(groups[label], lambda x: x["body_bytes"], fmt_bytes, plain_zero=True)
            for label in APPS
        )
        + " |",
        "| | time to the 413 (wall) | "
        + " | ".join(figure_cell(groups[label], lambda x: x["seconds"], fmt_time) for label in APPS)
        + " |",
    ]
    if any("cpu" in x for x in runs):
        lines.append(
            "| | server CPU | "
            + " | ".join(
                figure_cell([x for x in groups[label] if "cpu" in x], lambda x: x["cpu"], fmt_time)
                for label in APPS
            )
            + " |"
        )
    return lines


def zero_bytes(results: dict) -> str:
    """The promise over every django-expect rejection (PUT and form): the largest body-byte
    count of the valid runs, how many there were, and whether 0 held ("yes" only when every
    run is valid and none moved a byte; "**no**" when a valid run moved one; "not resolved"
    when runs failed, or there is none)."""
    runs = [
        x
        for section in ("put", "form")
        for x in results.get(section, [])
        if "django-expect" in x["server"]
    ]
    good = [x["body_bytes"] for x in runs if x.get("valid", True)]
    failed = len(runs) - len(good)
    if not good:
        return "- (no valid django-expect run): not resolved"
    met = "**no**" if max(good) else "not resolved (failed runs)" if failed else "yes"
    return (
        f"at most {max(good):,} body bytes over {len(good)} valid runs"
        + (f" ({failed} failed, listed below)" if failed else "")
        + f"; 0 on every run: {met}"
    )


def _runs(n: int) -> str:
    return f"{n} run{'' if n == 1 else 's'}"


def figures(results: dict) -> str:
    """Every cell ``median (min-max, n=N)`` over the valid runs; the failed runs counted in
    their cell and listed at the end."""
    from bench.report import figure_cell, fmt_size

    cfg = results["config"]
    lines = [
        f"{results['date']}; {results['environment']['cpus']} CPUs shared with other jobs; "
        f"Django {results['environment']['django']}, uvicorn {results['environment']['uvicorn']} "
        "(h11, one process) and gunicorn "
        f"{results['environment']['gunicorn']} -k asgi (one worker); the bench project with "
        "ExpectMiddleware in all; only asgi.py differs. Each cell: median (min-max, n=runs) over "
        "the runs that passed validation; failed runs are left out and listed at the end.",
        "",
        f"Rejected PUT: curl -T (Expect: 100-continue) to a 5 MiB view over loopback, body bytes "
        f"counted by a relay; the four servers up at once, the columns alternating, "
        f"{_runs(cfg['reject_runs'])} per cell; a run counts when it ends with a 413. The time "
        "(wall clock, head out to the 413) varies with the load on this shared machine; server "
        "CPU is the serving process's own CPU time (uvicorn's process, gunicorn's worker; every "
        "thread, the ended ones included) until the relay went quiet.",
        "",
        "| rejected PUT | | " + " | ".join(APPS) + " |",
        "|---|---|" + "---|" * len(APPS),
    ]
    for size in cfg["reject_sizes"]:
        lines += rejection_rows(
            [x for x in results["put"] if x["size"] == size], f"{size / MB:g} MB"
        )
    if "form" in results:
        lines += [
            "",
            f"Rejected form: the everyday Django form (`make bench`'s form scenario): curl -F of "
            f"a {fmt_size(cfg['form_size'])} file to a view whose policy allows 5 MB of "
            "multipart/form-data, over loopback, through the same servers (a relay of their "
            f"own), the columns alternating, {_runs(cfg['form_runs'])} per cell; a run counts when "
            "it ends with a 413. Under Django's handler the whole body is spooled to a temporary "
            "file before ExpectMiddleware can answer (the view never parses it); time and CPU as "
            "above.",
            "",
            "| rejected form | | " + " | ".join(APPS) + " |",
            "|---|---|" + "---|" * len(APPS),
            *rejection_rows(results["form"], fmt_size(cfg["form_size"])),
        ]
    lines += [
        "",
        "django-expect's columns, every rejection above (PUT and form): " + zero_bytes(results),
    ]
    size = cfg["accept_size"]
    lines += [
        "",
        f"Accepted {size / MiB:g} MiB PUT (a view reading 1 MiB at a time, answering the byte "
        "count and adler32 it read; a run counts only when both match what was sent), a fresh "
        f"server per run, the four columns alternating, {_runs(cfg['accept_pairs'])} each. CPU "
        "is the serving process's own CPU time (its CPU-time clock: every thread, including "
        "the per-request threads Django's handler runs sync code on, which end with the "
        "request); wall time varies with the load.",
        "",
        "| | server CPU | peak RSS | wall |",
        "|---|---|---|---|",
    ]
    for label in APPS:
        runs = [r for r in results["accepted"] if r["server"] == label]
        lines.append(
            f"| {label} | {figure_cell(runs, lambda x: x['cpu'], lambda v: f'{v:.2f} s')} | "
            f"{figure_cell(runs, lambda x: x['rss_peak'], lambda v: f'{v / MB:.1f} MB')} | "
            f"{figure_cell(runs, lambda x: x['seconds'], lambda v: f'{v:.2f} s')} |"
        )
    left_out = [
        f"- {what} {x['server']}, run {x['pair']}: {x['invalid']}"
        for what, section in (
            ("rejected PUT", "put"),
            ("rejected form", "form"),
            ("accepted upload", "accepted"),
        )
        for x in results.get(section, [])
        if not x.get("valid", True)
    ]
    if results.get("small"):
        lines += ["", *small_section(results)]
        left_out += [
            f"- small {x['asgi_server']} {x['kind']} {x['server']}, pair {x['pair']}: "
            f"{x['invalid']}"
            for x in results["small"]
            if not x.get("valid", True)
        ]
    lines += ["", "Runs left out:", "", *(left_out or ["- none: every run passed validation."])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="each scenario once, small sizes")
    parser.add_argument(
        "--report", action="store_true", help="only rewrite asgi_results.md from asgi_results.json"
    )
    args = parser.parse_args(argv)
    if args.report:
        stored = json.loads((HERE / "asgi_results.json").read_text())
        (HERE / "asgi_results.md").write_text(report(stored))
        write_page(stored)
        if stored.get("small"):
            from bench.report import rewrite_page

            rewrite_page()
        return 0
    cfg = SMOKE if args.smoke else FULL
    work, out_dir, results = start_run("asgi", args.smoke, cfg)
    prepare(work)
    with ExitStack() as stack:
        puts, forms, pids = serving(stack, work)
        results["put"] = rejections(cfg, puts, pids, work)
        results["form"] = form_rejections(cfg, forms, pids, work)
    results["accepted"] = accepted(cfg, work)
    results["small"] = small_requests(cfg, work)
    (out_dir / "asgi_results.json").write_text(json.dumps(results, indent=1) + "\n")
    summary = report(results)
    (out_dir / "asgi_results.md").write_text(summary)
    if publishing(args.smoke):
        write_page(results)
        from bench.report import rewrite_page

        rewrite_page()  # the performance page's ASGI rows and targets
    print(summary)
    broken = [
        x
        for x in results["put"] + results["form"] + results["accepted"]
        if "django-expect" in x["server"] and not x["valid"]
    ]
    broken += [x for x in results["small"] if x["server"] == "expect" and not x["valid"]]
    if broken:
        log(f"{len(broken)} django-expect runs failed validation (see the report)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
