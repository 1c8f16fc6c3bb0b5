"""`make bench` / `make bench-smoke`: issue 4, stock vs django-expect (vs uvicorn).

    python -m bench.run            # full run (< 10 min): bench/results.{json,md,png}
    python -m bench.run --smoke    # each scenario once at small sizes: bench/.work/full-smoke/

Method: in every section stock and django-expect runs alternate (A B, then B A, ...), at least 5
runs per column in the full run (uvicorn: fewer, and its columns say how many). Every run is
validated -- the final status, and for an accepted upload the byte count and checksum the view
received, for small requests each response's body -- and a run that fails validation is kept in
results.json with ``valid: false`` and its reason, left out of every figure, and listed in the
report. CPU is the server workers' own CPU time from /proc; bytes are counted by a relay between
client and server (harness/relay.py), which also emulates the WAN. Everything binds
127.0.0.1; every process started here is stopped by its PID. The run exits non-zero when the
harness breaks (an exception) or a django-expect run fails validation; never on a missed target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench import clients, report
from bench.servers import Uvicorn, bench_env, cpu_seconds, gunicorn, peak_rss, prepare
from harness.relay import Relay

HERE = Path(__file__).resolve().parent
MB = 1_000_000
MiB = 1024 * 1024
GiB = 1024 * MiB
NETS = {"loopback": {"delay": 0.0, "rate": None}, "wan": {"delay": 0.02, "rate": 25e6}}

FULL = {
    "reject_sizes": [10 * MB, 100 * MB, 1000 * MB],
    "pairs": 5,
    "uvicorn_reps": 1,
    "uvicorn_wan_max": 1000 * MB,  # largest body sent to uvicorn over the slow WAN
    "form_size": 300 * MB,
    "servers_size": 1000 * MB,
    "accept_size": GiB,
    "accept_pairs": 7,
    "small_requests": 1000,
    "small_pairs": 15,
    "overhead_iterations": 20000,
    "latency": {"1": (1, 100), "50": (50, 2)},  # clients, requests per client per round
    "latency_rounds": 5,
    # bench/scale.py: URL patterns, overrides in force, override rows refreshed
    "scale": {
        "patterns": [1, 100, 10000],
        "overrides": [0, 100, 10000],
        "rows": 10000,
        "iterations": 20000,
    },
}
SMOKE = {
    "reject_sizes": [6 * MB],
    "pairs": 1,
    "uvicorn_reps": 1,
    "uvicorn_wan_max": 6 * MB,
    "form_size": 6 * MB,
    "servers_size": 6 * MB,
    "accept_size": 8 * MiB,
    "accept_pairs": 1,
    "small_requests": 50,
    "small_pairs": 1,
    "overhead_iterations": 200,
    "latency": {"1": (1, 10), "50": (5, 2)},
    "latency_rounds": 2,
    "scale": {"patterns": [1, 100], "overrides": [0, 100], "rows": 100, "iterations": 200},
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def validate(row: dict, problem: str | None) -> dict:
    """Mark ``row`` valid, or invalid with the reason (it is then left out of every figure)."""
    row["valid"] = problem is None
    if problem is not None:
        row["invalid"] = problem
        log(f"INVALID RUN: {problem}")
    return row


def status_problem(status: int, wanted: int) -> str | None:
    return None if status == wanted else f"status {status}, expected {wanted}"


def wait_idle(relay: Relay, timeout: float = 10.0, quiet: float = 0.3) -> None:
    """Until the relay's byte counts are final: every connection closed, or no client byte for
    ``quiet`` seconds (a client may keep an idle keep-alive connection in its pool)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if all(c.closed is not None for c in list(relay.connections)):
            return
        now_bytes = relay.from_client()
        if now_bytes != last:
            last, since = now_bytes, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.02)


def sparse_file(work: Path, size: int) -> Path:
    """A file of ``size`` zero bytes that takes no disk space (read as zeros)."""
    path = work / f"body-{size}.bin"
    with open(path, "wb") as f:
        f.truncate(size)
    return path


# -- scenarios 1 and 2: rejections -----------------------------------------------------------------


def _through(relay: Relay, send, pids: list[int] | None = None) -> dict:  # type: ignore[no-untyped-def]
    """One exchange through ``relay``: status, wall seconds, body bytes the client sent and, given
    the server's ``pids``, their CPU seconds until the relay went quiet (the drain included)."""
    relay.reset()
    before = cpu_seconds(pids) if pids else 0.0
    status, seconds = send()
    wait_idle(relay)
    row = {
        "status": status,
        "seconds": seconds,
        "body_bytes": relay.body_bytes(),
        "connections": len(relay.connections),
    }
    if pids:
        row["cpu"] = cpu_seconds(pids) - before
    return row


def alternating(names: tuple[str, ...], pairs: int) -> list[tuple[int, str]]:
    """(pair, name) in the order runs are made: A B C, then C B A, then A B C..."""
    order = []
    for pair in range(pairs):
        for name in names if pair % 2 == 0 else tuple(reversed(names)):
            order.append((pair, name))
    return order


#: The rejected-PUT columns: (label, server, URL prefix). "stock" checks Content-Length before
#: reading; "stock-read" streams the body and gives up past the limit.
PUT_TARGETS = {
    "stock": ("stock", "objects"),
    "stock-read": ("stock", "objects-read"),
    "expect": ("expect", "objects"),
    "uvicorn": ("uvicorn", "objects"),
}
PAIRED = ("stock", "stock-read", "expect")


def rejections(servers: dict, cfg: dict, work: Path) -> list[dict]:
    rows = []
    for net, shape in NETS.items():
        relays = {name: Relay(server.address, **shape) for name, server in servers.items()}
        try:
            for size in cfg["reject_sizes"]:
                file = sparse_file(work, size)
                senders = {
                    "curl": lambda relay, prefix, f=file: clients.curl_put(
                        f"{relay.url}/{prefix}/k", f
                    ),
                    "botocore": lambda relay, prefix, f=file: clients.botocore_put(
                        relay.url, f, bucket=prefix
                    ),
                }
                for client, send in senders.items():
                    runs = alternating(PAIRED, cfg["pairs"])
                    if net == "loopback" or size <= cfg["uvicorn_wan_max"]:
                        runs += [(-1, "uvicorn")] * cfg["uvicorn_reps"]
                    for pair, target in runs:
                        server, prefix = PUT_TARGETS[target]
                        relay = relays[server]
                        row = _through(
                            relay,
                            lambda s=send, r=relay, p=prefix: s(r, p),
                            servers[server].worker_pids(),
                        )
                        row.update(
                            scenario="put",
                            net=net,
                            size=size,
                            client=client,
                            server=target,
                            pair=pair,
                        )
                        log(
                            f"reject {net} {client} {size / MB:g} MB {target}: {row['status']} "
                            f"{row['body_bytes']} B {row['seconds'] * 1000:.1f} ms"
                        )
                        # Bytes are measured whatever the outcome; a time to the 413 needs a 413.
                        rows.append(validate(row, status_problem(row["status"], 413)))
                file.unlink()
        finally:
            for relay in relays.values():
                relay.close()
    return rows


#: WSGI servers other than gunicorn that keep the promise (docs/howto/servers.md), each run with and
#: without django-expect: runserver (Django's own command when django_expect is not installed),
#: Apache mod_wsgi in embedded mode, uWSGI directly and behind its router (without
#: ``lazy_continue`` in the stock column).
OTHER_SERVERS = ("runserver", "mod_wsgi", "uwsgi-http-socket", "uwsgi-http")


def other_servers(cfg: dict, work: Path) -> list[dict]:
    """Rejected PUT of ``cfg['servers_size']`` bytes (curl, loopback) on each other server, in
    three columns: stock (the view refuses on Content-Length), stock-read (the view streams the
    body and gives up past the limit) and django-expect. Both servers of a kind (without and
    with django-expect) are up at once and the three columns alternate (A B C, then C B A, ...),
    ``cfg['pairs']`` runs each. Every column's view answers 413: a run that ends otherwise (a
    reset, a timeout) is kept with ``valid: false`` and left out of every figure."""
    import urllib.request

    from harness.wsgi_servers import WSGIServer

    rows = []
    file = sparse_file(work, cfg["servers_size"])
    try:
        for kind in OTHER_SERVERS:
            with ExitStack() as stack:
                relays = {}
                for mode in ("stock", "expect"):
                    server = WSGIServer(
                        kind, work / f"{kind}-{mode}.log", bench_env(mode, work), work
                    )
                    if mode == "stock":
                        server.uwsgi_module = "harness.plain_wsgi:application"
                    server.start()
                    stack.callback(server.stop)
                    # Warm up: the first request loads Django in the worker.
                    urllib.request.urlopen(f"{server.url}/small", timeout=30).read()
                    relays[mode] = stack.enter_context(Relay(server.address))
                for pair, column in alternating(SERVER_COLUMNS, cfg["pairs"]):
                    relay = relays["expect" if column == "expect" else "stock"]
                    prefix = "objects-read" if column == "stock-read" else "objects"
                    row = _through(
                        relay,
                        lambda r=relay, p=prefix, n=pair: clients.curl_put(
                            f"{r.url}/{p}/k{n}", file
                        ),
                    )
                    row.update(
                        scenario="servers",
                        server=kind,
                        mode=column,
                        pair=pair,
                        size=cfg["servers_size"],
                    )
                    log(
                        f"{kind} {column} {cfg['servers_size'] / MB:g} MB: {row['status']} "
                        f"{row['body_bytes']} B {row['seconds'] * 1000:.1f} ms"
                    )
                    rows.append(validate(row, status_problem(row["status"], 413)))
    finally:
        file.unlink()
    return rows


#: The other servers' columns, in the order of a pair's runs.
SERVER_COLUMNS = ("stock", "stock-read", "expect")


def servers_document(rows: list[dict], cfg: dict, command: str) -> dict:
    """bench/servers.json: the other servers' runs (every sample, valid or not) and how."""
    return {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "environment": environment(),
        "pairs": cfg["pairs"],
        "size": cfg["servers_size"],
        "rows": rows,
    }


#: The form scenario's route (bench/urls.py: the everyday form view, 5 MB multipart limit) and the
#: network it runs over.
FORM_PATH = "/upload/form"
FORM_NET = "loopback"


def form_relay(address: tuple[str, int]) -> Relay:
    """The byte-counting relay of the form scenario (shaped as ``NETS[FORM_NET]``)."""
    return Relay(address, **NETS[FORM_NET])


def form_run(relay: Relay, file: Path, pids: list[int], server: str, pair: int) -> dict:
    """One form rejection through ``relay``: curl ``-F`` of ``file`` to :data:`FORM_PATH`; the
    row validated (a 413, whatever the bytes that crossed)."""
    row = _through(relay, lambda r=relay: clients.curl_form(f"{r.url}{FORM_PATH}", file), pids)
    row.update(
        scenario="form",
        net=FORM_NET,
        size=file.stat().st_size,
        client="curl",
        server=server,
        pair=pair,
    )
    log(
        f"form {file.stat().st_size / MB:g} MB {server}: {row['status']} {row['body_bytes']} B "
        f"{row['seconds'] * 1000:.1f} ms"
    )
    return validate(row, status_problem(row["status"], 413))


def form_rejections(servers: dict, cfg: dict, work: Path) -> list[dict]:
    rows = []
    file = sparse_file(work, cfg["form_size"])
    relays = {name: form_relay(server.address) for name, server in servers.items()}
    try:
        runs = alternating(("stock", "expect"), cfg["pairs"])
        runs += [(-1, "uvicorn")] * cfg["uvicorn_reps"]
        for pair, server in runs:
            rows.append(form_run(relays[server], file, servers[server].worker_pids(), server, pair))
    finally:
        for relay in relays.values():
            relay.close()
        file.unlink()
    return rows


# -- scenarios 3 and 5: accepted 1 GiB upload, CPU and peak RSS ------------------------------------


def accepted(cfg: dict, work: Path) -> dict:
    """Fresh servers for every pair, so each run's peak RSS (VmHWM) is its own."""
    size = cfg["accept_size"]
    checksum = clients.zeros_adler32(size)
    runs = []
    for pair in range(cfg["accept_pairs"]):
        for mode in ("stock", "expect") if pair % 2 == 0 else ("expect", "stock"):
            server = gunicorn(mode, work, f"accept-{mode}-{pair}")
            try:
                clients.keepalive_requests(server.address, "GET", "/small", 20)  # warm up
                pid = server.worker_pids()[0]
                rss_before = peak_rss(pid)
                before = cpu_seconds([pid])
                status, seconds, answer = clients.streaming_put(server.address, "/accept/big", size)
                cpu = cpu_seconds([pid]) - before
                rss = peak_rss(pid)
            finally:
                server.stop()
            log(
                f"accept {mode}: {status}, {seconds:.2f} s wall, {cpu:.2f} s worker CPU, "
                f"peak RSS {rss / MB:.1f} MB"
            )
            row = {
                "server": mode,
                "pair": pair,
                "status": status,
                "seconds": seconds,
                "cpu": cpu,
                "rss_before": rss_before,
                "rss_peak": rss,
            }
            runs.append(validate(row, accepted_problem(status, answer, size, checksum)))
    return {"size": size, "runs": runs}


def accepted_problem(status: int, answer: bytes, size: int, checksum: int) -> str | None:
    """Why an accepted upload's run does not count (None: the view got every byte, intact)."""
    if status != 200:
        return f"status {status}, expected 200"
    try:
        document = json.loads(answer)
    except ValueError:
        return f"the response is not JSON: {answer[:80]!r}"
    if document.get("size") != size:
        return f"the view read {document.get('size')} bytes of {size}"
    if document.get("adler32") != checksum:
        return f"checksum {document.get('adler32')}, expected {checksum}"
    return None


# -- scenario 4: small requests --------------------------------------------------------------------


def small_requests(servers: dict, cfg: dict) -> list[dict]:
    count = cfg["small_requests"]
    rows = []
    kinds = {"GET": b"", "POST": b"x" * 1024}
    for method, body in kinds.items():
        for server in ("stock", "expect"):  # warm up both
            clients.keepalive_requests(servers[server].address, method, "/small", 50, body)
        for pair, mode in alternating(("stock", "expect"), cfg["small_pairs"]):
            server = servers[mode]
            before = cpu_seconds(server.worker_pids())
            seconds, wrong = clients.keepalive_requests(
                server.address, method, "/small", count, body
            )
            cpu = cpu_seconds(server.worker_pids()) - before
            row = {
                "method": method,
                "server": mode,
                "pair": pair,
                "count": count,
                "seconds": seconds,
                "cpu": cpu,
            }
            rows.append(validate(row, f"{wrong} of {count} responses wrong" if wrong else None))
            log(
                f"small {method} {mode}: {count / seconds:.0f} req/s, "
                f"{cpu / count * 1e6:.0f} us CPU/request"
            )
    return rows


def hook_overhead(count: int, work: Path) -> dict:
    """The middleware + hook per request, in-process (no sockets): µs per GET and per small POST."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.overhead", str(count)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=HERE.parent,
        check=True,
        env=bench_env("expect", work),
    )
    return json.loads(out.stdout)


def scale(cfg: dict, work: Path) -> dict:
    """bench/scale.py: per-request cost with many URL patterns and overrides, refresh time."""
    out = subprocess.run(
        [
            sys.executable, "-m", "bench.scale",
            "--patterns", ",".join(map(str, cfg["patterns"])),
            "--overrides", ",".join(map(str, cfg["overrides"])),
            "--rows", str(cfg["rows"]),
            "--iterations", str(cfg["iterations"]),
        ],
        capture_output=True, text=True, timeout=1800, cwd=HERE.parent, check=True,
        env=bench_env("expect", work),
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- scenario 6: decision latency ------------------------------------------------------------------


def latency(servers: dict, cfg: dict) -> list[dict]:
    """Rounds alternate django-expect and stock (A B, then B A, ...); each sample is checked:
    django-expect answers 100 to the accepted head and 413 to the oversized one, stock 100 to
    both (gunicorn invites before Django runs). A sample with another status is left out."""
    rows = []
    kinds = {"continue": ("/accept/x", 1000), "reject": ("/objects/x", 50 * MB)}
    wanted = {
        ("expect", "continue"): 100,
        ("expect", "reject"): 413,
        ("stock", "continue"): 100,
        ("stock", "reject"): 100,
    }
    for label, (concurrency, per_client) in cfg["latency"].items():
        for kind, (path, length) in kinds.items():
            for round_, mode in alternating(("expect", "stock"), cfg["latency_rounds"]):
                samples = clients.decision_latency(
                    servers[mode].address, path, length, concurrency, per_client
                )
                good = sorted(s for status, s in samples if status == wanted[mode, kind])
                wrong = sorted({status for status, _ in samples if status != wanted[mode, kind]})
                row = {
                    "clients": concurrency,
                    "kind": kind,
                    "server": mode,
                    "round": round_,
                    "times": good,
                    "excluded": len(samples) - len(good),
                    "excluded_statuses": wrong,
                }
                if wrong:
                    log(f"INVALID SAMPLES: latency {label} {kind} {mode}: statuses {wrong}")
                log(
                    f"latency {label} clients {kind} {mode} round {round_}: "
                    f"p50 {percentile(good, 50) * 1000:.2f} ms"
                    if good
                    else "no valid sample"
                )
                rows.append(row)
    return rows


def percentile(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


# -- main ------------------------------------------------------------------------------------------


def environment() -> dict:
    def version(module: str) -> str:
        try:
            return __import__(module).__version__
        except Exception:
            return "?"

    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
        "django": version("django"),
        "gunicorn": version("gunicorn"),
        "uvicorn": version("uvicorn"),
        "botocore": version("botocore"),
        "curl": curl[1] if len(curl) > 1 else "?",
    }


#: Where a full run's results go: bench/, or ``BENCH_RESULTS_DIR`` (``make bench
#: BENCH_DJANGO=5.2`` runs the bench in a virtualenv of that Django series and keeps its results
#: in bench/django-5.2/; the performance page shows that run's targets beside the main run's).
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR") or HERE).resolve()


def publishing(smoke: bool) -> bool:
    """Whether this run rewrites the docs pages: a full run whose results go to bench/."""
    return not smoke and RESULTS_DIR == HERE


def start_run(name: str, smoke: bool, cfg: dict) -> tuple[Path, Path, dict]:
    """A fresh work directory (``bench/.work/<name>[-smoke]``), where the results go (the work
    directory for a smoke run, :data:`RESULTS_DIR` otherwise) and the results' header, for every
    bench module's ``main``."""
    suffix = "" if RESULTS_DIR == HERE else f"-{RESULTS_DIR.name}"
    work = HERE / ".work" / (f"{name}{suffix}-smoke" if smoke else f"{name}{suffix}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if not smoke:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    header = {
        "smoke": smoke,
        "config": cfg,
        "environment": environment(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    return work, (work if smoke else RESULTS_DIR), header


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="each scenario once, small sizes")
    parser.add_argument(
        "--servers-only",
        action="store_true",
        help="only the other WSGI servers' rejected PUT: bench/servers.json, docs/howto/servers.md",
    )
    args = parser.parse_args(argv)
    if args.servers_only:
        return servers_only(SMOKE if args.smoke else FULL, args.smoke)
    cfg = SMOKE if args.smoke else FULL
    work, out_dir, results = start_run("full", args.smoke, cfg)
    started = time.monotonic()
    prepare(work)
    try:
        with ExitStack() as stack:
            servers = {}
            for mode in ("stock", "expect"):
                servers[mode] = gunicorn(mode, work, mode)
                stack.callback(servers[mode].stop)
            servers["uvicorn"] = Uvicorn(work)
            stack.callback(servers["uvicorn"].stop)
            log(f"servers up: { {n: s.address[1] for n, s in servers.items()} }")

            results["put"] = rejections(servers, cfg, work)
            results["form"] = form_rejections(servers, cfg, work)
            results["small"] = small_requests(servers, cfg)
            results["latency"] = latency(servers, cfg)
        results["servers"] = other_servers(cfg, work)
        if publishing(args.smoke):
            write_servers(servers_document(results["servers"], cfg, "make bench"))
        elif not args.smoke:
            document = servers_document(results["servers"], cfg, "make bench")
            (out_dir / "servers.json").write_text(json.dumps(document, indent=1) + "\n")
        results["accepted"] = accepted(cfg, work)
        results["overhead"] = hook_overhead(cfg["overhead_iterations"], work)
        results["scale"] = scale(cfg["scale"], work)
    finally:
        for leftover in work.glob("body-*.bin"):
            leftover.unlink()
    results["duration"] = time.monotonic() - started
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    page = report.PERFORMANCE_PAGE if publishing(args.smoke) else out_dir / "performance.md"
    summary = report.write(results, out_dir, page)
    print(summary)
    log(f"done in {results['duration']:.0f} s: {out_dir / 'results.md'}, {page}, {report.PLOT}")
    broken = [
        row
        for row in results["put"] + results["form"] + results["accepted"]["runs"] + results["small"]
        if row["server"] == "expect" and not row["valid"]
    ]
    broken += [row for row in results["servers"] if row["mode"] == "expect" and not row["valid"]]
    broken += [row for row in results["latency"] if row["server"] == "expect" and row["excluded"]]
    if broken:
        log(f"{len(broken)} django-expect runs failed validation (see the report)")
        return 1
    return 0


def servers_only(cfg: dict, smoke: bool) -> int:
    """The other-servers scenario alone: bench/servers.json and docs/howto/servers.md's figures
    (a smoke run writes bench/.work/servers/servers.json only), without rewriting results.json."""
    work = HERE / ".work" / "servers"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    prepare(work)
    rows = other_servers(cfg, work)
    command = "python -m bench.run --servers-only" + (" --smoke" if smoke else "")
    document = servers_document(rows, cfg, command)
    if smoke:
        (work / "servers.json").write_text(json.dumps(document, indent=1) + "\n")
    else:
        write_servers(document)
    print(report.servers_block(document))
    broken = [row for row in rows if row["mode"] == "expect" and not row["valid"]]
    return 1 if broken else 0


def write_servers(document: dict) -> None:
    """bench/servers.json, and the block of docs/howto/servers.md generated from it."""
    (HERE / "servers.json").write_text(json.dumps(document, indent=1) + "\n")
    report.write_servers_page(document)


if __name__ == "__main__":
    sys.exit(main())
