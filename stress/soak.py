"""A bounded soak under mixed hostile load: nothing may grow, every answer must be precise.

``make soak`` (``python -m stress.soak``) runs ``SOAK_SECONDS`` (default 600) split evenly over
gunicorn gthread, gunicorn gevent and uvicorn with ``django_expect.asgi``. Clients (``SOAK_CLIENTS``
threads, default 6) draw actions from ``Random(f"{seed}:{client}:{n}")``: accepted uploads,
refused uploads (declared and chunked), tricklers (cut by ``min_rate``), stallers (cut by
``body_timeout``), clients that never wait for the 100, resets mid-body, keep-alive reuse after a
refusal, small GET/POST. Every response is checked for its precise status (and its error code);
a response to bytes sent after a refusal is a leftover parsed as a request.

Every ``SOAK_SAMPLE`` seconds (default 2) the worker processes are sampled from /proc: RSS, open
fds, threads; the gevent worker's live greenlets (the test project's ``/lab/greenlets`` counts
them with ``gc.get_objects()`` inside the worker); and the package's database rows (rejection
counts and quota reservations) and the rejections they have counted. The rule: a least-squares
slope over the second half of each server's samples, times that half's duration, must stay
under ``BOUNDS`` (growth over the half); any wrong status or 5xx fails the run. The statistics
keep one row per day, route, reason and status, so their row count levels off at once and
proves nothing by itself: after each server stops (its last flush), the rejections counted for
its run must be the refusals its clients saw (``stats_problems``), so a flush that never ran,
or counts that are lost, fail the run. The servers flush every 2 s here (``TEST_EXPECT_FLUSH``).

Results: stress/soak-results.json, docs/images/soak.svg (drawn here from the samples, no
plotting library), summarised in docs/explanation/soak.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import socket
import sqlite3
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from harness.asgi_servers import ASGIServer
from harness.process import ROOT, prepare_database, project_env
from harness.raw import Exchange, chunked
from harness.server import Server

RESULTS = ROOT / "stress" / "soak-results.json"
SVG = ROOT / "docs" / "images" / "soak.svg"
#: Allowed growth over the second half of a server's run (slope x duration).
BOUNDS = {"rss_kib": 8192.0, "fds": 4.0, "threads": 2.0, "greenlets": 20.0, "db_rows": 60.0}
#: The actions whose every run the package counts as one rejection, and the reason it counts.
COUNTED = {
    "refused-declared": "content_too_large",
    "refused-chunked": "content_too_large",
    "trickler": "body_too_slow",
    "staller": "body_timeout",
    "reuse": "login_required",
}
#: Resets are counted when the view was already reading (``incomplete_body``), not otherwise.
MAYBE_COUNTED = {"reset": "incomplete_body"}
#: The interval at which the soak's servers write their counts (seconds).
FLUSH_SECONDS = "2"
BODY = bytes(range(256)) * 3  # 768 bytes, under /lab/small's 1000


def _head(path: str, headers: dict[str, str], method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _closed(conn: Exchange) -> bool:
    return conn.closed_by_server(timeout=10)


def action(kind: str, address: tuple[str, int], rng: random.Random) -> str | None:
    """Run one action; None if every answer was right, else what was wrong."""
    octet = {"Content-Type": "application/octet-stream"}
    with Exchange(address, timeout=30) as conn:
        if kind == "accepted":
            conn.request_head(
                "POST", "/lab/small", {**octet, "Content-Length": "768", "Expect": "100-continue"}
            )
            if conn.read_response(timeout=10).status != 100:
                return "no 100 for an accepted upload"
            conn.send_body(BODY)
            final = conn.read_final(timeout=10)[1]
            return None if final.status == 200 and final.json()["size"] == 768 else "accepted"
        if kind == "refused-declared":
            conn.request_head(
                "POST",
                "/lab/small",
                {**octet, "Content-Length": "5000", "Expect": "100-continue"},
            )
            interim, final = conn.read_final(timeout=10)
            ok = not interim and final.status == 413 and final.header("Connection") == "close"
            return None if ok and _closed(conn) else f"refused-declared {final.status}"
        if kind == "refused-chunked":
            conn.request_head("POST", "/lab/small", {**octet, "Transfer-Encoding": "chunked"})
            with contextlib.suppress(OSError):
                conn.send_body(chunked(BODY * 4, 700))
            final = conn.read_final(timeout=10)[1]
            return None if final.status == 413 and _closed(conn) else f"chunked {final.status}"
        if kind == "trickler":
            conn.request_head("POST", "/lab/slow", {**octet, "Content-Length": "10000"})
            for _ in range(30):
                if select.select([conn.sock], [], [], 0.6)[0]:
                    break
                try:
                    conn.send_body(b"y")
                except OSError:
                    break
            final = conn.read_final(timeout=10)[1]
            ok = final.status == 408 and final.json()["error"]["code"] == "body_too_slow"
            return None if ok and _closed(conn) else f"trickler {final.status}"
        if kind == "staller":
            conn.request_head("POST", "/lab/timeout", {**octet, "Content-Length": "5000"})
            conn.send_body(BODY)
            final = conn.read_final(timeout=10)[1]
            return None if final.status == 408 and _closed(conn) else f"staller {final.status}"
        if kind == "never-waits":
            conn.send(
                _head("/lab/small", {**octet, "Content-Length": "768", "Expect": "100-continue"})
                + BODY
            )
            final = conn.read_final(timeout=10)[1]
            return None if final.status == 200 else f"never-waits {final.status}"
        if kind == "reset":
            conn.send(_head("/lab/echo", {**octet, "Content-Length": "50000"}) + BODY)
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return None
        if kind == "reuse":
            # A refusal (401) for a small body sent whole, then a GET on the same connection:
            # answered only if the server kept the connection; never the body as a request.
            conn.send(_head("/lab/login", {**octet, "Content-Length": "768"}) + BODY)
            final = conn.read_final(timeout=10)[1]
            if final.status != 401:
                return f"reuse {final.status}"
            if final.header("Connection") == "close":
                return None if _closed(conn) else "reuse: not closed"
            conn.send(_head("/lab/small", {}, "GET"))
            second = conn.read_final(timeout=10)[1]
            return None if second.status == 200 else f"reuse second {second.status}"
        if kind == "get":
            conn.send(_head("/lab/small", {}, "GET"))
            return None if conn.read_final(timeout=10)[1].status == 200 else "get"
        # small POST, no Expect
        conn.send(_head("/lab/echo", {**octet, "Content-Length": "100"}) + BODY[:100])
        final = conn.read_final(timeout=10)[1]
        return None if final.status == 200 else f"post {final.status}"


KINDS = {
    "accepted": 20,
    "refused-declared": 15,
    "refused-chunked": 8,
    "trickler": 4,
    "staller": 4,
    "never-waits": 10,
    "reset": 6,
    "reuse": 8,
    "get": 15,
    "post": 10,
}


def _proc(pid: int) -> tuple[float, int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss = float(fields["VmRSS"].split()[0])
    threads = int(fields["Threads"])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads


def _db_rows(db: Path | None) -> int:
    """Rows the package keeps: rejection counts and quota reservations."""
    if db is None:
        return 0
    with contextlib.closing(sqlite3.connect(db)) as conn:
        counts = conn.execute("SELECT COUNT(*) FROM django_expect_rejectioncount").fetchone()[0]
        held = conn.execute("SELECT COUNT(*) FROM django_expect_quotareservation").fetchone()[0]
        return int(counts) + int(held)


def counted(db: Path | None) -> Counter[str]:
    """Rejections the statistics have written, by reason."""
    if db is None:
        return Counter()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT reason, SUM(count) FROM django_expect_rejectioncount GROUP BY reason"
        ).fetchall()
    return Counter({reason: int(total) for reason, total in rows})


def stats_problems(totals: Counter[str], before: Counter[str], after: Counter[str]) -> list[str]:
    """What the statistics got wrong for one server's run: every action in ``COUNTED`` is one
    rejection under its reason; a reset at most one (``MAYBE_COUNTED``)."""
    expected: Counter[str] = Counter()
    maybe: Counter[str] = Counter()
    for kind, reason in COUNTED.items():
        expected[reason] += totals.get(kind, 0)
    for kind, reason in MAYBE_COUNTED.items():
        maybe[reason] += totals.get(kind, 0)
    problems = []
    for reason in sorted(set(expected) | set(maybe) | set(after)):
        got = after[reason] - before[reason]
        low, high = expected[reason], expected[reason] + maybe[reason]
        if not low <= got <= high:
            want = str(low) if low == high else f"{low}..{high}"
            problems.append(f"{reason}: {got} counted, {want} expected")
    return problems


def settled_counts(db: Path, totals: Counter[str], before: Counter[str]) -> Counter[str]:
    """The counts once the server's flush thread has written this run's rejections: polled
    (at most 20 flush intervals) while the server still runs, so what is checked is the
    periodic flush, not the one at shutdown (tests/operations/test_asgi_shutdown_flush.py)."""
    after = counted(db)
    for _ in range(20 * 4):
        if not stats_problems(totals, before, after):
            break
        time.sleep(float(FLUSH_SECONDS) / 4)
        after = counted(db)
    return after


def greenlets(address: tuple[str, int]) -> int:
    """Live greenlets in the (one) gevent worker, counted inside it by ``/lab/greenlets``."""
    with Exchange(address, timeout=30) as conn:
        conn.send(_head("/lab/greenlets", {"Connection": "close"}, "GET"))
        final = conn.read_final(timeout=30)[1]
    return int(final.json()["greenlets"] or 0)


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (per second) of (t, value)."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return 0.0 if den == 0 else sum((t - mt) * (v - mv) for t, v in points) / den


def soak(
    name: str, server: Any, pids: list[int], db: Path | None, seconds: float, seed: int
) -> dict[str, Any]:
    clients = int(os.environ.get("SOAK_CLIENTS", "6"))
    every = float(os.environ.get("SOAK_SAMPLE", "2"))
    stop = time.monotonic() + seconds
    totals: Counter[str] = Counter()
    wrong: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        n = 0
        while time.monotonic() < stop:
            rng = random.Random(f"{seed}:{name}:{index}:{n}")
            kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
            try:
                problem = action(kind, server.address, rng)
            except Exception as error:  # a wrong or missing answer
                problem = f"{kind}: {error!r}"
            with lock:
                totals[kind] += 1
                if problem:
                    wrong.append(f"{name} {kind} #{index}:{n}: {problem}")
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    samples: list[dict[str, float]] = []
    while time.monotonic() < stop:
        rss = fds = nthreads = 0.0
        for pid in pids:
            r, f, t = _proc(pid)
            rss, fds, nthreads = rss + r, fds + f, nthreads + t
        samples.append(
            {
                "t": time.monotonic() - began,
                "rss_kib": rss,
                "fds": fds,
                "threads": nthreads,
                "greenlets": greenlets(server.address) if name == "gevent" else 0,
                "db_rows": _db_rows(db),
                "counted": sum(counted(db).values()),
            }
        )
        time.sleep(every)
    for thread in threads:
        thread.join()
    half = samples[len(samples) // 2 :]
    span = (half[-1]["t"] - half[0]["t"]) if len(half) > 1 else 0.0
    growth = {k: slope([(s["t"], s[k]) for s in half]) * span for k in BOUNDS}
    grew = [
        f"{name}: {k} grew {v:.1f} over {span:.0f} s" for k, v in growth.items() if v > BOUNDS[k]
    ]
    return {
        "server": name,
        "seconds": seconds,
        "totals": dict(totals),
        "wrong": wrong[:50],
        "wrong_count": len(wrong),
        "growth_second_half": growth,
        "grew": grew,
        "samples": samples,
    }


def svg(results: list[dict[str, Any]]) -> str:
    """One small chart per (server, metric), normalised to its own range."""
    metrics = [*BOUNDS, "counted"]
    w, h, pad = 220, 90, 28
    cols, rows = len(metrics), len(results)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * (w + pad) + pad}" '
        f'height="{rows * (h + pad + 14) + pad}" font-family="sans-serif" font-size="10">'
    ]
    for r, result in enumerate(results):
        for c, metric in enumerate(metrics):
            x0, y0 = pad + c * (w + pad), pad + r * (h + pad + 14)
            points = [(s["t"], s[metric]) for s in result["samples"]]
            out.append(f'<text x="{x0}" y="{y0 - 4}">{result["server"]}: {metric}</text>')
            out.append(
                f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>'
            )
            if len(points) < 2:
                continue
            t_max = max(t for t, _ in points) or 1.0
            lo, hi = min(v for _, v in points), max(v for _, v in points)
            span = (hi - lo) or 1.0
            path = " ".join(
                f"{x0 + t / t_max * w:.1f},{y0 + h - (v - lo) / span * h:.1f}" for t, v in points
            )
            out.append(f'<polyline fill="none" stroke="#1f6feb" points="{path}"/>')
            out.append(f'<text x="{x0}" y="{y0 + h + 11}">{lo:g} .. {hi:g}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    total = float(os.environ.get("SOAK_SECONDS", "600"))
    seed = int(os.environ.get("SOAK_SEED", "24"))
    base = Path(tempfile.mkdtemp(prefix="soak-"))
    db = base / "db.sqlite3"
    env = project_env(db, base / "media", TEST_EXPECT_FLUSH=FLUSH_SECONDS)
    prepare_database(env)
    each = total / 3
    results = []
    for name in ("gthread", "gevent", "uvicorn-h11"):
        if name == "uvicorn-h11":
            server: Any = ASGIServer(name, "tests.asgi:application", base / f"{name}.log", env)
            server.start()
            assert server.process is not None
            pids = [server.process.pid]
        else:
            server = Server(name, True, base / f"{name}.log", env).start()
            pids = server.worker_pids()
        # The harness's warm-up requests (the ASGI one is a 413) are written within one flush
        # interval: let them land before the run's counts start.
        time.sleep(2 * float(FLUSH_SECONDS))
        before = counted(db)
        try:
            results.append(soak(name, server, pids, db, each, seed))
            after = settled_counts(db, Counter(results[-1]["totals"]), before)
        finally:
            server.stop()
        results[-1]["counted"] = dict(after - before)
        results[-1]["stats_wrong"] = stats_problems(Counter(results[-1]["totals"]), before, after)
        print(
            f"{name}: {sum(results[-1]['totals'].values())} actions, "
            f"{results[-1]['wrong_count']} wrong, growth {results[-1]['growth_second_half']}, "
            f"counted {results[-1]['counted']} {results[-1]['stats_wrong'] or 'as expected'}",
            flush=True,
        )
    RESULTS.write_text(
        json.dumps({"seconds": total, "bounds": BOUNDS, "results": results}, indent=1) + "\n"
    )
    SVG.write_text(svg(results))
    failed = [
        line
        for r in results
        for line in r["wrong"] + r["grew"] + [f"{r['server']}: {p}" for p in r["stats_wrong"]]
    ]
    for line in failed[:40]:
        print("FAIL", line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
