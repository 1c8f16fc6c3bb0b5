"""Render stress/results.json as docs/explanation/reliability-figures.md (``make stress``).

    python -m stress.report [results.json] [out.md]

Every table has a "failures" column: what the section's own checks found (the exact status per
path, every connection answered, then worker PIDs, sockets and error lines); ``make stress``
exits 1 when any is non-empty.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _failures(x: dict[str, Any]) -> str:
    if "failures" not in x:
        return "(not checked)"
    return "; ".join(x["failures"]) or "none"


def render(r: dict[str, Any]) -> str:
    out = ["# Reliability figures (`make stress`)", ""]
    if r.get("invariants") != 2:
        out += [
            "**These figures were measured before the checks of issue 13** (a 100 before a "
            "declared-length 413, 5xx on every final status, Django's errors in the checked "
            "log, a verdict per section). Re-run `make stress` to replace them.",
            "",
        ]
    machine = r.get("machine", {})
    versions = ", ".join(
        f"{name} {machine[key]}"
        for name, key in (
            ("Django", "django"),
            ("gunicorn", "gunicorn"),
            ("gevent", "gevent"),
            ("curl", "curl"),
            ("requests", "requests"),
            ("httpx", "httpx"),
        )
        if key in machine
    )
    out += [
        f"{machine.get('cpus', '?')} CPUs shared with other jobs, Python "
        f"{machine.get('python', '?')}"
        + (f", {versions}" if versions else "")
        + "; real gunicorn workers over 127.0.0.1, one worker per server. Counts and CPU "
        "seconds hold up on a shared machine; every time is wall clock and moves with the "
        "load. Percentiles are nearest-rank over the stored samples (stress/results.json). "
        "Reproduce: `make stress` "
        "(`python -m stress.run SECTION` for one; `python -m stress.fuzz --seed S --worker W "
        "--only INDEX` replays one fuzz exchange).",
        "",
    ]
    f = r["fuzz"]
    out += [
        "**Fuzz** (seed 2026)",
        "",
        "| worker | exchanges | requests | final statuses | 100s | violations | wall seconds "
        "| workers unchanged | sockets after | error lines | failures |",
        "|---|" + "---|" * 10,
    ]
    for w, x in f.items():
        out.append(
            f"| {w} | {x['exchanges']:,} | {x['requests']:,} | {x['final_statuses']:,} | "
            f"{x['continues']:,} | {x['violations']} | {x['seconds']} | "
            f"{x['workers_unchanged']} | {x['sockets_after']} | {x['error_lines']} | "
            f"{_failures(x)} |"
        )
        for seed, problems in x.get("first_violations", []):
            out.append(f"|  | exchange {seed}: {'; '.join(problems)} |" + " |" * 9)
    total = sum(x["exchanges"] for x in f.values())
    out += ["", f"Total: {total:,} exchanges.", ""]
    burst = next(iter(r["load"].values()))["concurrent"]
    out += [
        f"**{burst:,} concurrent rejected Expect uploads** (50 MB declared, /lab/small: "
        f"413). Time from each head out to its 413 in (wall clock: all {burst:,} wait on one "
        "worker "
        "sharing 2 CPUs, so it measures the queue); the worker's CPU time for the whole "
        "burst, from /proc.",
        "",
        "| worker | answered 413 | other | head to 413: p50 / p99 (min-max, n) | worker CPU "
        "| worker fds before/after | sockets after | failures |",
        "|---|" + "---|" * 7,
    ]
    for w, x in r["load"].items():
        out.append(
            f"| {w} | {x['answered_413']}/{x['concurrent']} | {x['other'] or '-'} | "
            f"{samples_cell(x.get('ms_to_413'), ms)} | {cpu_cell(x)} | "
            f"{x['fds_before']}/{x['fds_after']} | {x['sockets_after']} | "
            f"{_failures(x)} |"
        )
    out += [
        "",
        "**Mixed load** (4,000 uploads, 100 at a time; accepted: 1 B-512 KiB via Expect, "
        "digest verified; rejected: /lab/small 413, /lab/types 415, /lab/login 401, each "
        "checked for its own status; seconds: wall clock for the whole run)",
        "",
        "| worker | accepted, digest verified | rejected correctly | errors | wall seconds "
        "| failures |",
        "|---|---|---|---|---|---|",
    ]
    for w, x in r["mixed"].items():
        out.append(
            f"| {w} | {x['accepted_verified']}/{x['accepted']} | "
            f"{x['rejected_correctly']}/{x['rejected']} | {x['errors'] or 0} | "
            f"{x['wall_s']} | {_failures(x)} |"
        )
    out += [
        "",
        "**Slowloris** (/lab/timeout, body_timeout=1 s; half stop after the 100, half "
        "trickle 1 byte per 1.5 s; 8 other clients upload 800 bytes each, one request after "
        "another, for a window alone and then a window beside the slow connections). Every "
        "figure is wall clock: the stall to each 408 (from the 100, or from a trickling "
        "client's only byte), and each good request's time (connect, upload, 200); n is the "
        "number of good requests completed in the window. A 408 that came more than 1.5 s "
        "after a trickled byte finds the client has written again; the server's idle timer "
        "had run out in the earlier gap, so its stall is unknown from the client's side: "
        "those are counted apart, with the seconds since that last byte.",
        "",
        "| worker | slow connections | answered 408 | stall to 408: p50 / p99 (min-max, n) "
        "| 408 after a second byte | good request alone: p50 / p99 (min-max, n) "
        "| good request during | failures |",
        "|---|" + "---|" * 7,
    ]
    for w, x in r["slowloris"].items():
        label = f"{w} (threads {x['threads']})" if "threads" in x else w
        late = x.get("s_late_408_since_last_byte")
        late_cell = (
            "-"
            if late is None
            else (
                f"{len(late)} ({seconds(min(late))}-{seconds(max(late))} after it)" if late else "0"
            )
        )
        out.append(
            f"| {label} | {x['slow_connections']} | {x['answered_408']} | "
            f"{samples_cell(x.get('s_stall_to_408'), seconds)} | {late_cell} | "
            f"{samples_cell(x.get('good_ms_alone'), ms)} | "
            f"{samples_cell(x.get('good_ms_during'), ms)} | {_failures(x)} |"
        )
    tries = max(
        (
            len(x[c].get("tries", []))
            for x in r["never_wait"].values()
            for c in ("curl", "requests", "httpx")
        ),
        default=0,
    )
    out += [
        "",
        "**Clients that never wait** (100 MiB to /lab/small, limit 1000 bytes; "
        f"{tries or 50} tries per client and worker). 413 is the answer from the head; a "
        "reset is the close policy's documented close when the rest of the body cannot "
        "arrive within the drain budget (see [the close policy]"
        "(../howto/browsers-sent-anyway.md)), so it is accepted but counted in its own "
        "column; anything else fails the section. Seconds "
        "per try: wall clock, the 100 MiB included.",
        "",
        "| worker | client | 413 | reset | other | seconds per try: p50 / p99 (min-max, n) "
        "| worker CPU, all three clients' tries | failures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w, x in r["never_wait"].items():
        for c in ("curl", "requests", "httpx"):
            counts, times = never_wait_counts(x[c])
            first = c == "curl"
            out.append(
                f"| {w if first else ''} | {c} | {counts['413']} | {counts['reset']} | "
                f"{counts['other'] or '-'} | {samples_cell(times, seconds)} | "
                f"{cpu_cell(x) if first else ''} | {_failures(x) if first else ''} |"
            )
    reruns = "; ".join(
        f"`python -m stress.run {name} --merge` re-ran {name} on {when}"
        for name, when in r.get("rerun", {}).items()
    )
    out += [
        "",
        f"`make stress` took {r['total_seconds']} s in all (wall clock)"
        + (f"; {reruns}." if reruns else "."),
        "",
        *FINDINGS,
    ]
    return "\n".join(out)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least ``q`` % of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(v: float) -> str:
    return f"{v:,.1f} ms"


def seconds(v: float) -> str:
    return f"{v:.2f} s"


def samples_cell(values: list[float] | None, fmt: Callable[[float], str]) -> str:
    """``p50 / p99 (min-max, n=N)`` computed here from the stored samples."""
    if values is None:
        return "(samples not stored: re-run `make stress`)"
    if not values:
        return "no sample"
    return (
        f"{fmt(percentile(values, 50))} / {fmt(percentile(values, 99))} "
        f"({fmt(min(values))}-{fmt(max(values))}, n={len(values)})"
    )


def cpu_cell(x: dict[str, Any]) -> str:
    return f"{x['worker_cpu_s']:.2f} s" if "worker_cpu_s" in x else "-"


def never_wait_counts(x: dict[str, Any]) -> tuple[dict[str, Any], list[float] | None]:
    """A never-wait client's 413s, resets (apart) and other outcomes, and its seconds per try."""
    outcomes = x.get("outcomes", {k: v for k, v in x.items() if k != "seconds_each"})
    counts: dict[str, Any] = {"413": outcomes.get("413", 0), "reset": 0, "other": {}}
    for outcome, n in outcomes.items():
        if outcome.startswith("reset"):
            counts["reset"] += n
        elif outcome != "413":
            counts["other"][outcome] = n
    times = [t for _, t in x["tries"]] if "tries" in x else None
    return counts, times


FINDINGS = [
    "## Found by the stronger checks (issue 13)",
    "",
    "With Django's own errors in the log the runs check, and the 5xx check on every final "
    "status, the 1,500-exchange fuzz slice (`tests/wire/test_fuzz.py`, seed 6) found two causes of "
    "500s that earlier runs did not report (the first answers a client that is already gone, "
    "so only the log shows it):",
    "",
    '- `expect="after-checks"` sends its 100 from the middleware, before the view; a client '
    "that had already reset the connection made that send raise into Django (a 500 with a "
    "traceback). It is now `incomplete_body`, logged at DEBUG (regression: "
    "`test_client_disconnects_leave_nothing_behind[...-before-eager-100-...]`).",
    "- On gthread, two threads rejecting at once both created the Prometheus counter; the second "
    "registration raised `DuplicateTimeseries` into the request (regression: "
    "`test_the_prometheus_counter_is_created_once_by_concurrent_first_rejections`).",
    "",
]


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("results.json"))
    default = ROOT / "docs" / "explanation" / "reliability-figures.md"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else default
    target.write_text(render(json.loads(path.read_text())))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
