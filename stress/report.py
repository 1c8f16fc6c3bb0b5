"""Render stress/results.json as the Markdown tables of the README's Reliability section."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("results.json"))
    r = json.loads(path.read_text())
    out = []
    f = r["fuzz"]
    out += ["**Fuzz** (seed 2026)", "",
            "| worker | exchanges | requests | final statuses | 100s | violations | seconds "
            "| workers unchanged | sockets after | error lines |", "|---|" + "---|" * 9]
    for w, x in f.items():
        out.append(f"| {w} | {x['exchanges']:,} | {x['requests']:,} | {x['final_statuses']:,} | "
                   f"{x['continues']:,} | {x['violations']} | {x['seconds']} | "
                   f"{x['workers_unchanged']} | {x['sockets_after']} | {x['error_lines']} |")
    total = sum(x["exchanges"] for x in f.values())
    out += ["", f"Total: {total:,} exchanges.", ""]
    out += ["**1,000 concurrent rejected Expect uploads** (50 MB declared, /lab/small: 413)", "",
            "| worker | answered 413 | other | p50 ms | p99 ms | max ms | worker fds before/after "
            "| sockets after |", "|---|" + "---|" * 7]
    for w, x in r["load"].items():
        out.append(f"| {w} | {x['answered_413']}/{x['concurrent']} | {x['other'] or '-'} | "
                   f"{x['p50_ms']} | {x['p99_ms']} | {x['max_ms']} | "
                   f"{x['fds_before']}/{x['fds_after']} | {x['sockets_after']} |")
    out += ["", "**Mixed load** (4,000 uploads, 100 at a time; accepted: 1 B-512 KiB via Expect, "
            "digest verified; rejected: 413/415/401)", "",
            "| worker | accepted, digest verified | rejected correctly | errors | seconds |",
            "|---|---|---|---|---|"]
    for w, x in r["mixed"].items():
        out.append(f"| {w} | {x['accepted_verified']}/{x['accepted']} | "
                   f"{x['rejected_correctly']}/{x['rejected']} | {x['errors'] or 0} | "
                   f"{x['wall_s']} |")
    out += ["", "**Slowloris** (/lab/timeout, body_timeout=1 s; half stop after the 100, half "
            "trickle 1 byte per 1.5 s; 8 other clients upload meanwhile)", "",
            "| worker | slow connections | answered 408 | stall to 408 p50 / max s "
            "| others' req/s alone | others' req/s during |", "|---|" + "---|" * 5]
    for w, x in r["slowloris"].items():
        label = f"{w} (threads {x['threads']})" if "threads" in x else w
        out.append(f"| {label} | {x['slow_connections']} | {x['answered_408']} | "
                   f"{x['stall_to_408_p50_s']} / {x['stall_to_408_max_s']} | "
                   f"{x['good_rps_alone']} | {x['good_rps_during']} |")
    out += ["", "**Clients that never wait** (100 MiB to /lab/small, limit 1000 bytes; 50 tries "
            "per client and worker)", "", "| worker | curl -H 'Expect:' | requests | httpx |",
            "|---|---|---|---|"]
    for w, x in r["never_wait"].items():
        cells = []
        for c in ("curl", "requests", "httpx"):
            d = dict(x[c])
            each = d.pop("seconds_each")
            cells.append(", ".join(f"{k}: {v}" for k, v in d.items()) + f" ({each} s each)")
        out.append(f"| {w} | " + " | ".join(cells) + " |")
    out += ["", f"`make stress` took {r['total_seconds']} s in all."]
    print("\n".join(out))


if __name__ == "__main__":
    main()
