"""``make stress``: the runs behind the README's Reliability section (real gunicorn, 127.0.0.1).

Sections (each prints its figures; all of them go to stress/results.json):

* fuzz        -- 100,000 seeded raw-socket exchanges (harness/fuzz.py) over sync, gthread
                 and gevent, every invariant checked, then worker PIDs, sockets and logs;
* fuzz-servers -- the same fuzzer, 100,000 exchanges on every other server adapter (uvicorn and
                 gunicorn -k asgi and granian with django_expect.asgi, runserver, waitress,
                 uWSGI), with each server's ``fuzz.SERVER_PROFILES`` entry;
* load        -- 1,000 concurrent rejected Expect uploads (gevent, gthread): all answered, p50/p99
                 time to the rejection, worker fds before/after;
* mixed       -- accepted and rejected uploads interleaved, every accepted digest verified;
* slowloris   -- connections that send a head and then stop or trickle: 408 within the view's
                 ``body_timeout`` (1 s), and the throughput other clients get meanwhile;
* never-wait  -- curl -H 'Expect:', requests and httpx send 100 MB to a rejecting view: 413 or
                 reset, counted over 50 tries per client and worker.

Each section checks its own outcome per worker and records what failed under ``failures`` (the exact
status expected on each path, every connection answered, then the server's health: same worker
PIDs, the listener alone left open, no error line in gunicorn's or Django's log); the run exits 1
when any section recorded a failure. Run one section with ``python -m stress.run fuzz``
(``--quick`` divides the counts by 20; ``--merge`` replaces only that section in results.json);
replay one fuzz exchange with ``python -m stress.fuzz``.
Every gunicorn process started here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.servers import cpu_seconds  # noqa: E402
from harness import fuzz  # noqa: E402
from harness.fds import fd_count, quiescent_sockets  # noqa: E402
from harness.process import error_lines, prepare_database, project_env  # noqa: E402
from harness.server import Server  # noqa: E402

RESULTS: dict[str, Any] = {}
QUICK = 1


def log(message: str) -> None:
    print(message, flush=True)


class Lab:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="django-expect-stress-"))
        self.env = project_env(self.dir / "db.sqlite3", self.dir / "media")
        prepare_database(self.env)

    @contextmanager
    def server(self, worker: str, *extra: str) -> Iterator[Server]:
        args = ["--backlog", "4096", "--worker-connections", "4000", "--log-level", "info", *extra]
        server = Server(
            worker,
            True,
            self.dir / f"{worker}-{time.monotonic_ns()}.log",
            self.env,
            extra_args=args,
        )
        server.start()
        server.warm_up()  # figures are of a warm worker, not of its first request's imports
        try:
            yield server
        finally:
            server.stop()


def server_health(server: Server, pids: list[int], log_start: int) -> dict[str, Any]:
    errors = error_lines(server.log()[log_start:])
    return {
        "workers_unchanged": server.worker_pids() == pids,
        "sockets_after": quiescent_sockets(server, settle=10),
        "error_lines": len(errors),
        "first_error_lines": errors[:5],
    }


def health_failures(entry: dict[str, Any]) -> list[str]:
    """What ``server_health`` figures in ``entry`` show went wrong (empty: nothing)."""
    failures = []
    if not entry["workers_unchanged"]:
        failures.append("a worker died or was replaced")
    if entry["sockets_after"] != 1:
        failures.append(f"{entry['sockets_after']} sockets open afterwards (the listener is 1)")
    if entry["error_lines"]:
        failures.append(f"{entry['error_lines']} error lines in the log")
    return failures


# --------------------------------------------------------------------------- fuzz


def section_fuzz_servers(lab: Lab) -> None:
    from harness.asgi_servers import ASGIServer
    from harness.wsgi_servers import WSGIServer

    out: dict[str, Any] = {}
    for kind, profile in fuzz.SERVER_PROFILES.items():
        count = 100_000 // QUICK
        logfile = lab.dir / f"fuzz-{kind}.log"
        server: Any
        if kind in fuzz.ASGI_KINDS:
            server = ASGIServer(kind, "tests.asgi:application", logfile, lab.env)
        else:
            server = WSGIServer(kind, logfile, lab.env, lab.dir)
        server.start()
        try:
            start = len(server.log())
            report = fuzz.run(server.address, 2026, count, concurrency=16, profile=profile)
            errors = error_lines(server.log()[start:])
        finally:
            server.stop()
        out[kind] = {
            "exchanges": report.exchanges,
            "violations": len(report.violations),
            "first_violations": report.violations[:5],
            "statuses": dict(sorted(report.statuses.items())),
            "seconds": round(report.seconds, 1),
            "error_lines": len(errors),
            "failures": [f"{len(report.violations)} exchanges broke an invariant"]
            if report.violations
            else [],
        }
        log(f"fuzz {kind}: {json.dumps(out[kind])}")
    RESULTS["fuzz-servers"] = out


def section_fuzz(lab: Lab) -> None:
    plan = {"sync": 20_000, "gthread": 40_000, "gevent": 40_000}
    out = {}
    for worker, count in plan.items():
        count //= QUICK
        with lab.server(worker) as server:
            pids = server.worker_pids()
            start = len(server.log())
            report = fuzz.run(server.address, 2026, count, concurrency=24)
            health = server_health(server, pids, start)
        out[worker] = {
            "exchanges": report.exchanges,
            "requests": report.requests,
            "final_statuses": report.finals,
            "continues": report.continues,
            "violations": len(report.violations),
            "first_violations": report.violations[:5],
            "statuses": dict(sorted(report.statuses.items())),
            "modes": dict(report.modes),
            "seconds": round(report.seconds, 1),
            **health,
        }
        out[worker]["failures"] = (
            [f"{len(report.violations)} exchanges broke an invariant"] if report.violations else []
        ) + health_failures(out[worker])
        log(f"fuzz {worker}: {json.dumps(out[worker])}")
    RESULTS["fuzz"] = out


# --------------------------------------------------------------------------- load


async def _rejected_upload(
    address: tuple[str, int], go: asyncio.Event, ready: list[int]
) -> tuple[float, int]:
    try:
        reader, writer = await asyncio.open_connection(*address)
    finally:
        ready[0] += 1  # connected, or failed to: either way the barrier need not wait for it
    await go.wait()
    head = (
        b"POST /lab/small HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Length: 50000000\r\n\r\n"
    )
    started = time.monotonic()
    writer.write(head)
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 60)
    elapsed = time.monotonic() - started
    status = int(line.split()[1]) if line.startswith(b"HTTP/") else 0
    await asyncio.wait_for(reader.read(), 30)  # until the server closes
    writer.close()
    return elapsed, status


async def _load(address: tuple[str, int], n: int) -> list[tuple[float, int] | BaseException]:
    go = asyncio.Event()
    ready = [0]  # connections opened (or failed)
    tasks = [asyncio.ensure_future(_rejected_upload(address, go, ready)) for _ in range(n)]
    deadline = time.monotonic() + 60  # bounded: a hang fails the section, not the machine
    while ready[0] < n and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    go.set()  # every connection is open (or failed): all heads go out together
    return await asyncio.gather(*tasks, return_exceptions=True)


def section_load(lab: Lab) -> None:
    out = {}
    n = 1000 // QUICK
    for worker, extra in (("gevent", ()), ("gthread", ("--threads", "16"))):
        with lab.server(worker, *extra) as server:
            pids = server.worker_pids()
            start = len(server.log())
            fds_before = fd_count(server)
            cpu_before = cpu_seconds(pids)
            began = time.monotonic()
            results = asyncio.run(_load(server.address, n))
            wall = time.monotonic() - began
            cpu = cpu_seconds(pids) - cpu_before
            ok = [r for r in results if isinstance(r, tuple)]
            times = [t for t, status in ok if status == 413]
            health = server_health(server, pids, start)
            out[worker] = {
                "concurrent": n,
                "answered_413": len(times),
                "other": dict(Counter(str(s) for _, s in ok if s != 413)),
                "client_errors": dict(
                    Counter(type(r).__name__ for r in results if not isinstance(r, tuple))
                ),
                # Every sample (head out -> 413 in, ms, wall clock); stress/report.py computes
                # the percentiles from them.
                "ms_to_413": sorted(round(t * 1000, 2) for t in times),
                "worker_cpu_s": round(cpu, 3),
                "wall_s": round(wall, 2),
                "fds_before": fds_before,
                "fds_after": fd_count(server),
                **health,
            }
            out[worker]["failures"] = (
                [f"{n - len(times)} of {n} not answered 413"] if len(times) != n else []
            ) + health_failures(out[worker])
        log(f"load {worker}: {json.dumps(out[worker])}")
    RESULTS["load"] = out


# --------------------------------------------------------------------------- mixed


async def _mixed_one(
    address: tuple[str, int], rng: random.Random, sem: asyncio.Semaphore
) -> tuple[str, bool]:
    async with sem:
        reader, writer = await asyncio.open_connection(*address)
        try:
            if rng.random() < 0.5:  # accepted: Expect, wait for the 100, then the body
                body = rng.randbytes(rng.randint(1, 512 * 1024))
                writer.write(
                    f"PUT /lab/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                )
                await writer.drain()
                interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                if not interim.startswith(b"HTTP/1.1 100 "):
                    return "accepted", False
                writer.write(body)
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                document = json.loads(await reader.readexactly(length))
                return "accepted", (
                    head.startswith(b"HTTP/1.1 200 ")
                    and document == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
                )
            path, extra, expected = rng.choice(
                [
                    ("/lab/small", "Content-Length: 5000000\r\n", b"413"),
                    ("/lab/types", "Content-Length: 1000\r\nContent-Type: text/plain\r\n", b"415"),
                    ("/lab/login", "Content-Length: 1000\r\n", b"401"),
                ]
            )
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                f"{extra}\r\n".encode()
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            return "rejected", head.split(b" ")[1] == expected
        finally:
            writer.close()


def section_mixed(lab: Lab) -> None:
    out = {}
    n = 4000 // QUICK
    for worker, extra in (("gevent", ()), ("gthread", ("--threads", "16")), ("sync", ())):
        with lab.server(worker, *extra) as server:
            pids = server.worker_pids()
            start = len(server.log())

            async def main(address: tuple[str, int] = server.address) -> list[Any]:
                rng = random.Random(7)
                sem = asyncio.Semaphore(100)
                return await asyncio.gather(
                    *(_mixed_one(address, random.Random(rng.random()), sem) for _ in range(n)),
                    return_exceptions=True,
                )

            began = time.monotonic()
            results = asyncio.run(main())
            wall = time.monotonic() - began
            good = Counter(kind for r in results if isinstance(r, tuple) for kind in [r[0]] if r[1])
            kinds = Counter(r[0] for r in results if isinstance(r, tuple))
            out[worker] = {
                "requests": n,
                "accepted_verified": good["accepted"],
                "accepted": kinds["accepted"],
                "rejected_correctly": good["rejected"],
                "rejected": kinds["rejected"],
                "errors": dict(
                    Counter(type(r).__name__ for r in results if not isinstance(r, tuple))
                ),
                "wall_s": round(wall, 1),
                **server_health(server, pids, start),
            }
            entry = out[worker]
            entry["failures"] = (
                [
                    f"{what}: {entry[right]} of {entry[what]} right"
                    for what, right in (
                        ("accepted", "accepted_verified"),
                        ("rejected", "rejected_correctly"),
                    )
                    if entry[right] != entry[what]
                ]
                + ([f"errors: {entry['errors']}"] if entry["errors"] else [])
                + health_failures(entry)
            )
        log(f"mixed {worker}: {json.dumps(out[worker])}")
    RESULTS["mixed"] = out


# --------------------------------------------------------------------------- slowloris


async def _slow(address: tuple[str, int], trickle: bool) -> tuple[str, float, int]:
    """A head, then nothing (or a byte every 1.5 s): (final status, seconds from the client's last
    byte -- or the 100 -- to it, bytes written). Past the first byte the figure is ambiguous: the
    server's 1 s idle timer ran out in an earlier gap whenever its 408 came more than 1.5 s after
    a byte, so the report keeps those apart."""
    reader, writer = await asyncio.open_connection(*address)
    writer.write(
        b"POST /lab/timeout HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    await writer.drain()
    first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 120)
    if not first.startswith(b"HTTP/1.1 100 "):
        return first.split(b" ")[1].decode(), 0.0, 0
    stalled = time.monotonic()
    written = 0
    read = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
    while trickle and not read.done():
        try:
            writer.write(b"x")
            await writer.drain()
        except OSError:
            break
        stalled = time.monotonic()
        written += 1
        await asyncio.wait([read], timeout=1.5)  # slower than the 1 s body_timeout
    head = await asyncio.wait_for(read, 120)
    waited = time.monotonic() - stalled
    writer.close()
    return head.split(b" ")[1].decode(), waited, written


async def _good_client(address: tuple[str, int], stop: float) -> list[tuple[bool, float]]:
    """Small uploads one after another until ``stop``: (answered 200, seconds) of each."""
    samples = []
    body = b"g" * 800
    while time.monotonic() < stop:
        began = time.monotonic()
        reader, writer = await asyncio.open_connection(*address)
        writer.write(
            b"POST /lab/small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 800\r\n\r\n" + body
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        samples.append((head.startswith(b"HTTP/1.1 200 "), time.monotonic() - began))
        writer.close()
    return samples


async def _good_clients(address: tuple[str, int], seconds: float) -> dict[str, Any]:
    stop = time.monotonic() + seconds
    runs = await asyncio.gather(*(_good_client(address, stop) for _ in range(8)))
    samples = [sample for run in runs for sample in run]
    return {
        "ms": sorted(round(t * 1000, 2) for ok, t in samples if ok),
        "not_200": sum(not ok for ok, _ in samples),
    }


async def _slowloris(address: tuple[str, int], slow: int, seconds: float) -> dict[str, Any]:
    alone = await _good_clients(address, seconds)
    slow_tasks = [asyncio.ensure_future(_slow(address, trickle=i % 2 == 1)) for i in range(slow)]
    await asyncio.sleep(0.5)
    during = await _good_clients(address, seconds)
    results = await asyncio.gather(*slow_tasks, return_exceptions=True)
    ok = [r for r in results if isinstance(r, tuple)]
    answered = [(w, n) for status, w, n in ok if status == "408"]
    waits = [w for w, n in answered if n <= 1]
    late = [w for w, n in answered if n > 1]
    return {
        "slow_connections": slow,
        "answered_408": len(answered),
        "other": dict(Counter(s for s, _, _ in ok if s != "408")),
        "client_errors": dict(
            Counter(type(r).__name__ for r in results if not isinstance(r, tuple))
        ),
        # Every sample (wall clock): the stall to each 408 (from the 100, or from a trickling
        # client's only byte), the 408s that came after a second byte (seconds since that byte:
        # the server's timer had run out in an earlier gap), and each good request (connect,
        # upload 800 bytes, 200) in a window of ``window_s`` alone and beside the slow ones.
        "s_stall_to_408": sorted(round(w, 3) for w in waits),
        "s_late_408_since_last_byte": sorted(round(w, 3) for w in late),
        "window_s": seconds,
        "good_ms_alone": alone["ms"],
        "good_ms_during": during["ms"],
        "good_not_200": alone["not_200"] + during["not_200"],
    }


def section_slowloris(lab: Lab) -> None:
    out = {}
    for worker, extra, slow in (("gevent", (), 500 // QUICK), ("gthread", ("--threads", "32"), 24)):
        with lab.server(worker, *extra) as server:
            pids = server.worker_pids()
            start = len(server.log())
            out[worker] = asyncio.run(_slowloris(server.address, slow, 4.0))
            if extra:
                out[worker]["threads"] = int(extra[1])
            out[worker].update(server_health(server, pids, start))
            entry = out[worker]
            entry["failures"] = (
                (
                    [f"{entry['answered_408']} of {slow} slow connections answered 408"]
                    if entry["answered_408"] != slow
                    else []
                )
                + ([f"client errors: {entry['client_errors']}"] if entry["client_errors"] else [])
                + (
                    [f"{entry['good_not_200']} good requests not answered 200"]
                    if entry["good_not_200"]
                    else []
                )
                + health_failures(entry)
            )
        log(f"slowloris {worker}: {json.dumps(out[worker])}")
    RESULTS["slowloris"] = out


# --------------------------------------------------------------------------- never-wait clients


def _curl(url: str, path: Path) -> str:
    done = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Expect:",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            f"@{path}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.stdout.strip() not in ("", "000"):
        return done.stdout.strip()
    named = {55: "reset(send)", 56: "reset(recv)"}
    return named.get(done.returncode, f"curl-exit-{done.returncode}")


def _requests(url: str, data: bytes) -> str:
    import requests

    try:
        return str(
            requests.post(
                url, data=data, timeout=60, headers={"Content-Type": "application/octet-stream"}
            ).status_code
        )
    except requests.ConnectionError as error:
        return (
            "reset"
            if "reset" in str(error).lower() or "aborted" in str(error).lower()
            else f"error:{type(error).__name__}"
        )


def _httpx(url: str, data: bytes) -> str:
    import httpx

    try:
        return str(
            httpx.post(
                url, content=data, timeout=60, headers={"Content-Type": "application/octet-stream"}
            ).status_code
        )
    except (httpx.ReadError, httpx.WriteError) as error:  # ECONNRESET / EPIPE on the socket
        return f"reset:{type(error).__name__}"
    except httpx.TransportError as error:  # a timeout, a close without an answer, ...
        return f"error:{type(error).__name__}"


#: What a never-wait client may see. The 413 is decided from the head; the close policy then
#: drains what can arrive within its budget and otherwise closes with a reset while the client is
#: still sending (docs/howto/browsers-sent-anyway.md, "The policy", step 3). A reset is that
#: documented close, so it is a correct outcome here -- counted apart from the 413s, never
#: merged with them. Anything else (another status, a timeout, a close with no answer) fails.
NEVER_WAIT_OK = "413"


def is_reset(outcome: str) -> bool:
    return outcome.startswith("reset")


def never_wait_failures(outcomes: dict[str, dict[str, int]]) -> list[str]:
    """``outcomes``: client -> outcome -> count. The outcomes that fail the section."""
    wrong = {
        f"{client}: {outcome}": count
        for client, counted in outcomes.items()
        for outcome, count in counted.items()
        if outcome != NEVER_WAIT_OK and not is_reset(outcome)
    }
    return [f"neither 413 nor a reset: {wrong}"] if wrong else []


def section_never_wait(lab: Lab) -> None:
    out: dict[str, Any] = {}
    tries = 50 // QUICK
    data = os.urandom(1024 * 1024) * 100  # 100 MiB
    path = lab.dir / "100MiB.bin"
    path.write_bytes(data)
    clients: dict[str, Callable[[str], str]] = {
        "curl": lambda url: _curl(url, path),
        "requests": lambda url: _requests(url, data),
        "httpx": lambda url: _httpx(url, data),
    }
    for worker in ("sync", "gthread", "gevent"):
        with lab.server(worker) as server:
            pids = server.worker_pids()
            start = len(server.log())
            out[worker] = {}
            cpu_before = cpu_seconds(pids)
            for name, client in clients.items():
                samples = []
                for _ in range(tries):
                    began = time.monotonic()
                    outcome = client(server.url + "/lab/small")
                    samples.append([outcome, round(time.monotonic() - began, 4)])
                # Every try: its outcome and its wall-clock seconds.
                out[worker][name] = {
                    "outcomes": dict(Counter(o for o, _ in samples)),
                    "tries": samples,
                }
            out[worker]["worker_cpu_s"] = round(cpu_seconds(pids) - cpu_before, 3)
            out[worker].update(server_health(server, pids, start))
            out[worker]["failures"] = never_wait_failures(
                {name: out[worker][name]["outcomes"] for name in clients}
            ) + health_failures(out[worker])
        log(f"never-wait {worker}: {json.dumps(out[worker])}")
    RESULTS["never_wait"] = out


def environment() -> dict[str, Any]:
    """The machine and the versions the figures were measured with."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        **{name: installed(name) for name in ("django", "gunicorn", "gevent", "requests", "httpx")},
        "curl": curl[1] if len(curl) > 1 else "?",
    }


SECTIONS = {
    "fuzz": section_fuzz,
    "fuzz-servers": section_fuzz_servers,
    "load": section_load,
    "mixed": section_mixed,
    "slowloris": section_slowloris,
    "never-wait": section_never_wait,
}


def main() -> int:
    global QUICK
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", default=list(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="counts divided by 20")
    parser.add_argument("--out", default=str(ROOT / "stress" / "results.json"))
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the sections run in --out, keep the others",
    )
    args = parser.parse_args()
    if args.merge:
        RESULTS.update(json.loads(Path(args.out).read_text()))
    QUICK = 20 if args.quick else 1
    lab = Lab()
    began = time.monotonic()
    for name in args.sections:
        t0 = time.monotonic()
        SECTIONS[name](lab)
        log(f"[{name}: {time.monotonic() - t0:.0f} s]")
    if args.merge:
        RESULTS.setdefault("rerun", {}).update(
            {name: time.strftime("%Y-%m-%d %H:%M:%S %Z") for name in args.sections}
        )
    else:
        RESULTS["total_seconds"] = round(time.monotonic() - began, 1)
    RESULTS["invariants"] = 2  # issue 13: the checks stress/report.py describes
    RESULTS["samples"] = 1  # every sample stored; stress/report.py computes every figure
    RESULTS["machine"] = environment()
    Path(args.out).write_text(json.dumps(RESULTS, indent=2, default=str) + "\n")
    log(f"total {RESULTS['total_seconds']} s; results in {args.out}")
    failed = [
        f"{section} {worker}: {'; '.join(entry['failures'])}"
        for section, by_worker in RESULTS.items()
        if isinstance(by_worker, dict)
        for worker, entry in by_worker.items()
        if isinstance(entry, dict) and entry.get("failures")
    ]
    for line in failed:
        log(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
