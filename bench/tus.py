"""`make bench` row for tus (django_expect.tus): the whole-file policy at creation vs accepting
then checking, and accepted tus throughput vs a plain PUT.

    python -m bench.tus            # full run: bench/tus_results.{json,md}
    python -m bench.tus --smoke    # each scenario once at small sizes: bench/.work/tus-smoke/

One gthread worker with the hooks (bench/settings.py, BENCH_MODE=expect), the bench's SQLite
database and MEDIA_ROOT; raw-socket clients streaming zeros (bounded memory), through the
byte-counting relay (harness/relay.py) over loopback. Scenarios, columns alternating:

1. a file over a 5 MiB limit (1 GB in the full run): refused at creation (``POST`` with
   ``Upload-Length`` to ``/tus-limited/``: 413) vs accept-then-check (django-tus's way: the
   creation is accepted, the whole file is PATCHed to ``/tus-open/``, and only then can the size
   be refused): body bytes the client sent and seconds until it learns the answer;
2. an accepted 1 GiB upload: tus in one PATCH (tuspy's and Uppy's default), tus in 64 MiB chunks,
   and a plain PUT of the same bytes to a view writing them to the same storage in the same
   64 KiB reads (``/stored/``): seconds and MB/s.

Every run is validated (the statuses; the upload's offset by HEAD; the PUT's stored size),
kept with ``valid`` and left out of the figures when it failed. Every process started here is
stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench.clients import _ZEROS, _Conn, _MiB
from bench.run import MB, GiB, MiB, alternating, log, start_run, validate
from bench.servers import gunicorn, prepare
from harness.relay import Relay

FULL = {"reject_size": 1000 * MB, "accept_size": GiB, "chunk": 64 * MiB, "pairs": 3}
SMOKE = {"reject_size": 20 * MB, "accept_size": 16 * MiB, "chunk": 4 * MiB, "pairs": 1}
TUS = "Tus-Resumable: 1.0.0"


def _send(conn: _Conn, head: list[str]) -> None:
    conn.sock.sendall(("\r\n".join([*head, "Host: 127.0.0.1", "", ""])).encode())


def _headers(conn: _Conn) -> tuple[int, dict[str, str], bytes]:
    """Read one response keeping its headers (the _Conn reader drops them)."""
    while b"\r\n\r\n" not in conn.buffer:
        data = conn.sock.recv(65536)
        if not data:
            raise ConnectionError("closed before a response")
        conn.buffer += data
    raw, _, rest = conn.buffer.partition(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        data = conn.sock.recv(65536)
        if not data:
            break
        rest += data
    conn.buffer = rest[length:]
    return int(lines[0][9:12]), headers, rest[:length]


def _stream(conn: _Conn, size: int) -> None:
    left = size
    while left:
        n = min(left, _MiB)
        conn.sock.sendall(_ZEROS[:n])
        left -= n


def create(address: tuple[str, int], route: str, size: int) -> tuple[int, str]:
    conn = _Conn(address, timeout=300)
    try:
        _send(
            conn, [f"POST /{route}/ HTTP/1.1", TUS, f"Upload-Length: {size}", "Content-Length: 0"]
        )
        status, headers, _ = _headers(conn)
        return status, headers.get("location", "")
    finally:
        conn.close()


def patch(address: tuple[str, int], path: str, offset: int, size: int) -> tuple[int, int]:
    """One PATCH with Expect: wait for the 100, stream ``size`` zeros; (status, new offset)."""
    conn = _Conn(address, timeout=300)
    try:
        _send(
            conn,
            [
                f"PATCH {path} HTTP/1.1",
                TUS,
                "Content-Type: application/offset+octet-stream",
                f"Upload-Offset: {offset}",
                f"Content-Length: {size}",
                "Expect: 100-continue",
            ],
        )
        status, headers, _ = _headers(conn)
        if status == 100:
            _stream(conn, size)
            status, headers, _ = _headers(conn)
        return status, int(headers.get("upload-offset", "-1"))
    finally:
        conn.close()


def head_offset(address: tuple[str, int], path: str) -> int:
    conn = _Conn(address)
    try:
        _send(conn, [f"HEAD {path} HTTP/1.1", TUS])
        conn.sock.shutdown(1)
        data = b""
        while chunk := conn.sock.recv(65536):
            data += chunk
        for line in data.decode("latin-1").split("\r\n"):
            if line.lower().startswith("upload-offset:"):
                return int(line.split(":", 1)[1])
        return -1
    finally:
        conn.close()


def tus_upload(address: tuple[str, int], route: str, size: int, chunk: int) -> tuple[int, str]:
    status, location = create(address, route, size)
    if status != 201:
        return status, location
    path = "/" + location.split("/", 3)[3]
    offset = 0
    while offset < size:
        status, offset = patch(address, path, offset, min(chunk, size - offset))
        if status != 204:
            return status, path
    return 204, path


def put(address: tuple[str, int], size: int, key: str) -> tuple[int, int]:
    conn = _Conn(address, timeout=300)
    try:
        _send(
            conn,
            [
                f"PUT /stored/{key} HTTP/1.1",
                f"Content-Length: {size}",
                "Content-Type: application/octet-stream",
                "Expect: 100-continue",
            ],
        )
        status, _, body = _headers(conn)
        if status == 100:
            _stream(conn, size)
            status, _, body = _headers(conn)
        return status, json.loads(body or b"{}").get("size", -1)
    finally:
        conn.close()


def _clean(work: Path) -> None:
    """Remove the finished files (1 GB each in the full run) between runs."""
    shutil.rmtree(work / "media" / "tus", ignore_errors=True)


def refusals(cfg: dict, address: tuple[str, int], work: Path) -> list[dict]:
    size = cfg["reject_size"]
    rows = []
    for pair, column in alternating(("refused at creation", "accept then check"), cfg["pairs"]):
        with Relay(address) as relay:
            started = time.perf_counter()
            if column == "refused at creation":
                status, _ = create(relay.address, "tus-limited", size)
                problem = None if status == 413 else f"status {status}, not 413"
            else:
                status, _ = tus_upload(relay.address, "tus-open", size, size)
                # The check django-tus leaves to the application, after the last byte.
                status = 413 if status == 204 and size > 5 * MiB else status
                problem = None if status == 413 else f"upload failed: {status}"
            seconds = time.perf_counter() - started
            relay.wait_quiet(quiet=0.3)
            sent = relay.body_bytes()
        row = {"column": column, "pair": pair, "size": size, "seconds": seconds, "bytes": sent}
        rows.append(validate(row, problem))
        _clean(work)
        log(f"tus refusal {column}: {sent} bytes, {seconds:.3f} s")
    return rows


def accepted(cfg: dict, address: tuple[str, int], work: Path) -> list[dict]:
    size, chunk = cfg["accept_size"], cfg["chunk"]
    columns = ("tus, 1 PATCH", f"tus, {chunk // MiB} MiB chunks", "plain PUT")
    rows = []
    for pair, column in alternating(columns, cfg["pairs"]):
        started = time.perf_counter()
        if column == "plain PUT":
            status, stored = put(address, size, f"bench-{pair}")
            problem = None if status == 200 and stored == size else f"{status}, {stored} bytes"
        else:
            status, path = tus_upload(
                address, "tus-open", size, size if column == "tus, 1 PATCH" else chunk
            )
            offset = head_offset(address, path) if status == 204 else -1
            problem = None if status == 204 and offset == size else f"{status}, offset {offset}"
        seconds = time.perf_counter() - started
        row = {
            "column": column,
            "pair": pair,
            "size": size,
            "seconds": seconds,
            "mb_per_s": size / MB / seconds,
        }
        rows.append(validate(row, problem))
        _clean(work)
        log(f"tus accepted {column}: {seconds:.3f} s")
    return rows


def _median(rows: list[dict], column: str, key: str) -> str:
    values = [r[key] for r in rows if r["column"] == column and r["valid"]]
    if not values:
        return "-"
    value = statistics.median(values)
    return (
        f"{value:,.0f}"
        if key == "bytes"
        else f"{value:.2f}"
        if key != "seconds"
        else f"{value:.3f}"
    )


def report(results: dict) -> str:
    refusal, accept = results["refusal"], results["accepted"]
    reject_size = results["config"]["reject_size"]
    lines = [
        "# tus: the whole-file policy (bench/tus.py)",
        "",
        f"Generated {results['date']}{' (smoke run: tiny sizes)' if results['smoke'] else ''}; "
        "medians of the valid runs; one gthread worker with the hooks, loopback.",
        "",
        f"## A {reject_size / MB:,.0f} MB file over a 5 MiB limit",
        "",
        "| | body bytes sent | seconds to the answer | runs |",
        "|---|---:|---:|---:|",
    ]
    for column in ("refused at creation", "accept then check"):
        runs = sum(1 for r in refusal if r["column"] == column and r["valid"])
        lines.append(
            f"| {column} | {_median(refusal, column, 'bytes')} | "
            f"{_median(refusal, column, 'seconds')} | {runs} |"
        )
    lines += [
        "",
        f"## An accepted {results['config']['accept_size'] / MiB:,.0f} MiB upload, to storage",
        "",
        "| | seconds | MB/s | runs |",
        "|---|---:|---:|---:|",
    ]
    for column in dict.fromkeys(r["column"] for r in accept):
        runs = sum(1 for r in accept if r["column"] == column and r["valid"])
        lines.append(
            f"| {column} | {_median(accept, column, 'seconds')} | "
            f"{_median(accept, column, 'mb_per_s')} | {runs} |"
        )
    left_out = [
        f"- {r['column']} (pair {r['pair']}): {r['invalid']}"
        for r in refusal + accept
        if not r["valid"]
    ]
    lines += ["", "Runs left out:", "", *(left_out or ["- none: every run passed validation."])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="each scenario once, small sizes")
    args = parser.parse_args(argv)
    cfg = SMOKE if args.smoke else FULL
    work, out_dir, results = start_run("tus", args.smoke, cfg)
    prepare(work)
    server = gunicorn("expect", work, "tus")
    try:
        results["refusal"] = refusals(cfg, server.address, work)
        results["accepted"] = accepted(cfg, server.address, work)
    finally:
        server.stop()
    (out_dir / "tus_results.json").write_text(json.dumps(results, indent=1) + "\n")
    summary = report(results)
    (out_dir / "tus_results.md").write_text(summary)
    print(summary)
    broken = [r for r in results["refusal"] + results["accepted"] if not r["valid"]]
    if broken:
        log(f"{len(broken)} tus runs failed validation (see the report)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
