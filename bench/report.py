"""Turn bench results (the JSON written by bench/run.py) into the performance page and plot.

    python -m bench.report [results.json]   # rewrite the performance page, results.md, plot
                                            # (and docs/howto/servers.md from bench/servers.json)

Rules the page keeps: every figure is computed from measured runs and printed with its spread and
count -- ``median (min-max, n=N)`` -- and a run that failed validation is left out of every figure
and listed at the end. A ratio column is the ratio of the medians printed beside it; the per-pair
range next to it says how much the pairs agree. A target is "met" only when every pair meets it,
"missed" when none does, and "not resolved" otherwise. Nothing is derived by subtracting one
row's figure from another's.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

MB = 1_000_000
SERVERS = {"stock": "stock gunicorn", "expect": "django-expect", "uvicorn": "uvicorn (ASGI)"}
PUT_COLUMNS = {
    "stock": "stock (checks Content-Length)",
    "stock-read": "stock (reads, then 413)",
    "expect": "django-expect",
    "uvicorn": "uvicorn (ASGI)",
}
Fmt = Callable[[float], str]


# -- numbers ------------------------------------------------------------------------------------


def med(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    if n == 0:
        return "**0**"
    if n >= 10 * MB:
        return f"{n / MB:,.0f} MB"
    if n >= MB:
        return f"{n / MB:.1f} MB"
    return f"{n / 1000:,.0f} kB" if n >= 1000 else f"{n:.0f} B"


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.2f} s" if s >= 1 else f"{s * 1000:.1f} ms" if s >= 0.01 else f"{s * 1000:.2f} ms"


def fmt_binary(n: int) -> str:
    return f"{n / 2**30:g} GiB" if n >= 2**30 else f"{n / 2**20:g} MiB"


def fmt_size(n: int) -> str:
    return f"{n / MB:g} MB" if n < 1000 * MB else f"{n / (1000 * MB):g} GB"


def fmt_plain(n: float) -> str:
    return f"{n:.3g}"


def spread(values: Iterable[float], fmt: Fmt, plain_zero: bool = False) -> str:
    """``median (min-max, n=N)``; one run says so; none is "-"."""
    values = sorted(values)
    if not values:
        return "- (no valid run)"
    middle = statistics.median(values)

    def show(v: float) -> str:
        return "0" if plain_zero and v == 0 else fmt(v)

    if len(values) == 1:
        return f"{show(values[0])} (1 run)"
    return f"{show(middle)} ({show(values[0])}-{show(values[-1])}, n={len(values)})"


def valid(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("valid", True)]


def paired(
    rows: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], float],
    a: str = "expect",
    b: str = "stock",
) -> list[tuple[float, float]]:
    """(a, b) figures of each pair in which both runs are valid."""
    by_pair: dict[int, dict[str, float]] = {}
    for row in valid(rows):
        if row["server"] in (a, b) and row.get("pair", -1) >= 0:
            by_pair.setdefault(row["pair"], {})[row["server"]] = key(row)
    return [(p[a], p[b]) for p in by_pair.values() if len(p) == 2]


def verdict(worst: float, best: float, goal: float) -> str:
    """ "yes" when every pair meets the goal (a figure <= goal), "**no**" when none does."""
    if worst <= goal:
        return "yes"
    if best > goal:
        return "**no**"
    return "not resolved (pairs on both sides)"


#: The share of pairs that must be within a goal for a paired target to count as met (the rule
#: every paired row uses: per-pair figures straddle a goal on this shared machine).
MET_SHARE = 0.8


def pair_verdict(values: list[float], goal: float) -> str:
    """Met when at least :data:`MET_SHARE` of the per-pair figures are within ``goal`` (a figure
    <= goal); "**no**" otherwise; the count is shown either way."""
    within = sum(1 for v in values if v <= goal)
    shown = f"{within} of {len(values)} pairs within"
    return f"yes ({shown})" if within >= MET_SHARE * len(values) else f"**no** ({shown})"


def ratio_cell(
    pairs: list[tuple[float, float]], a_median: float | None, b_median: float | None
) -> str:
    """The ratio of the two medians, then the range of the per-pair ratios."""
    if not a_median or not b_median:
        return "-"
    ratios = sorted(x / y for x, y in pairs if y)
    cell = f"{a_median / b_median:.3f}"
    if ratios:
        cell += f" (pairs {ratios[0]:.2f}-{ratios[-1]:.2f}, n={len(ratios)})"
    return cell


# -- sections -----------------------------------------------------------------------------------


def _put_rows(
    r: dict[str, Any], net: str, client: str, size: int, server: str
) -> list[dict[str, Any]]:
    return [
        x
        for x in r["put"]
        if x["net"] == net and x["client"] == client and x["size"] == size and x["server"] == server
    ]


def figure_cell(
    rows: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], float],
    fmt: Fmt,
    plain_zero: bool = False,
) -> str:
    """``median (min-max, n=N)`` over the valid runs of ``rows``; the failed ones are counted
    after it (and listed under "Runs left out"). A cell whose runs all failed says so and
    prints no figure; a cell with no run at all is "-"."""
    if not rows:
        return "-"
    good = valid(rows)
    failed = len(rows) - len(good)
    if not good:
        return f"no valid run ({failed} failed) †"
    cell = spread((key(x) for x in good), fmt, plain_zero=plain_zero)
    if failed:
        cell += f"; {failed} of {len(rows)} runs failed †"
    return cell


def _bytes_cell(rows: list[dict[str, Any]]) -> str:
    return figure_cell(rows, lambda x: x["body_bytes"], fmt_bytes, plain_zero=True)


def _time_cell(rows: list[dict[str, Any]]) -> str:
    return figure_cell(rows, lambda x: x["seconds"], fmt_time)


def _cpu_cell(rows: list[dict[str, Any]]) -> str:
    return figure_cell([x for x in rows if "cpu" in x], lambda x: x["cpu"], fmt_time)


def rejection_tables(r: dict[str, Any], sizes: list[int]) -> list[str]:
    out = [
        "| network | client | declared | | " + " | ".join(PUT_COLUMNS.values()) + " |",
        "|---|---|---|---|" + "---|" * len(PUT_COLUMNS),
    ]
    for net in ("loopback", "wan"):
        for client in ("curl", "botocore"):
            for size in sizes:
                groups = {c: _put_rows(r, net, client, size, c) for c in PUT_COLUMNS}
                if not any(groups.values()):
                    continue
                where = ["loopback" if net == "loopback" else "WAN", client, fmt_size(size)]
                out.append(
                    "| "
                    + " | ".join(where)
                    + " | body bytes sent | "
                    + " | ".join(_bytes_cell(groups[c]) for c in PUT_COLUMNS)
                    + " |"
                )
                out.append(
                    "| | | | time to the 413 (wall) | "
                    + " | ".join(_time_cell(groups[c]) for c in PUT_COLUMNS)
                    + " |"
                )
                if any("cpu" in x for g in groups.values() for x in g):
                    out.append(
                        "| | | | server CPU | "
                        + " | ".join(_cpu_cell(groups[c]) for c in PUT_COLUMNS)
                        + " |"
                    )
    return out


def form_table(r: dict[str, Any]) -> list[str]:
    by = {s: [x for x in r["form"] if x["server"] == s] for s in SERVERS}
    return [
        "| | " + " | ".join(SERVERS.values()) + " |",
        "|---|---|---|---|",
        "| body bytes sent | " + " | ".join(_bytes_cell(by[s]) for s in SERVERS) + " |",
        "| time to the 413 (wall) | " + " | ".join(_time_cell(by[s]) for s in SERVERS) + " |",
        *(
            ["| server CPU | " + " | ".join(_cpu_cell(by[s]) for s in SERVERS) + " |"]
            if any("cpu" in x for x in r["form"])
            else []
        ),
    ]


def costs_table(r: dict[str, Any]) -> list[str]:
    acc = r["accepted"]["runs"]
    size = r["accepted"]["size"]

    def column(
        rows: list[dict[str, Any]], server: str, key: Callable[[dict[str, Any]], float]
    ) -> list[float]:
        return [key(x) for x in valid(rows) if x["server"] == server]

    def row(
        label: str, rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], float], fmt: Fmt
    ) -> str:
        a, b = column(rows, "expect", key), column(rows, "stock", key)
        return (
            f"| {label} | {spread(b, fmt)} | {spread(a, fmt)} "
            f"| {ratio_cell(paired(rows, key), med(a), med(b))} |"
        )

    def us(v: float) -> str:
        return f"{v * 1e6:.0f} µs"

    out = [
        "| | stock gunicorn | django-expect | django-expect / stock: ratio of the medians "
        "(per-pair range) |",
        "|---|---|---|---|",
        row(
            f"{fmt_binary(size)} PUT read by the view: worker CPU",
            acc,
            lambda x: x["cpu"],
            lambda v: f"{v:.2f} s",
        ),
        row(
            f"{fmt_binary(size)} PUT: throughput",
            acc,
            lambda x: size / x["seconds"],
            lambda v: f"{v / MB:,.0f} MB/s",
        ),
    ]
    for method, label in (("GET", "small GET, keep-alive"), ("POST", "small POST (1 KiB)")):
        rows = [x for x in r["small"] if x["method"] == method]
        out.append(
            row(f"{label}: worker CPU per request", rows, lambda x: x["cpu"] / x["count"], us)
        )
    a = column(acc, "expect", lambda x: x["rss_peak"])
    b = column(acc, "stock", lambda x: x["rss_peak"])
    out.append(
        f"| worker peak RSS (VmHWM) during the {fmt_binary(size)} upload "
        f"| {spread(b, lambda v: f'{v / MB:.1f} MB')} "
        f"| {spread(a, lambda v: f'{v / MB:.1f} MB')} | {rss_difference(acc)[0]} |"
    )
    return out


def rss_difference(runs: list[dict[str, Any]]) -> tuple[str, list[float]]:
    """The one RSS statistic the page prints (the costs table and the Targets row alike): the
    django-expect median minus the stock median over the valid runs, then the range of the
    per-pair differences; and those per-pair differences (the verdict's evidence)."""
    a = [x["rss_peak"] for x in valid(runs) if x["server"] == "expect"]
    b = [x["rss_peak"] for x in valid(runs) if x["server"] == "stock"]
    deltas = sorted(x - y for x, y in paired(runs, lambda x: x["rss_peak"]))
    if not a or not b:
        return "- (no valid run)", deltas
    difference = statistics.median(a) - statistics.median(b)
    cell = f"{difference / MB:+.2f} MB (difference of the medians"
    if deltas:
        cell += f"; pairs {deltas[0] / MB:+.2f} to {deltas[-1] / MB:+.2f} MB, n={len(deltas)}"
    return cell + ")", deltas


def latency_stats(
    r: dict[str, Any], clients: int, kind: str, server: str
) -> tuple[list[float], list[float], int]:
    """Pooled valid samples, each round's p99, and the samples left out."""
    rows = [
        x
        for x in r["latency"]
        if x["clients"] == clients and x["kind"] == kind and x["server"] == server
    ]
    pooled = sorted(t for x in rows for t in x["times"])
    per_round = [percentile(x["times"], 99) for x in rows if x["times"]]
    return pooled, per_round, sum(x["excluded"] for x in rows)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def latency_table(r: dict[str, Any]) -> list[str]:
    out = [
        "| clients | head answered with | server | samples (rounds) | p50 | p99 "
        "| p99 per round: range | left out |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for clients in sorted({x["clients"] for x in r["latency"]}):
        for kind, answer in (
            ("continue", "100 (accepted)"),
            ("reject", "django-expect 413, stock 100 (oversized)"),
        ):
            for server in ("stock", "expect"):
                pooled, rounds, left = latency_stats(r, clients, kind, server)
                if not pooled:
                    out.append(
                        f"| {clients} | {answer} | {SERVERS[server]} | 0 | - | - | - | {left} |"
                    )
                    continue
                out.append(
                    f"| {clients} | {answer} | {SERVERS[server]} | {len(pooled)} ({len(rounds)}) "
                    f"| {fmt_time(percentile(pooled, 50))} | {fmt_time(percentile(pooled, 99))} "
                    f"| {fmt_time(min(rounds))}-{fmt_time(max(rounds))} | {left} |"
                )
    return out


def inprocess(r: dict[str, Any]) -> str:
    ov = r["overhead"]

    def total(a: str, b: str) -> list[float]:
        return [x + y for x, y in zip(ov[a], ov[b], strict=True)]

    def us(v: float) -> str:
        return f"{v:.1f} µs"

    return (
        f"Measured in-process ({ov['rounds']} rounds of {ov['iterations']:,} requests; median "
        "(min-max) of the rounds), on stand-ins for gunicorn's request and socket objects and "
        "with no network: the hooks and the middleware take "
        f"{spread(total('hook_get_us', 'middleware_get_us'), us)} per GET and "
        f"{spread(total('hook_post_us', 'middleware_post_us'), us)} per POST with a policy; "
        "the body wrapper adds "
        f"{spread(ov['wrapper_read_us_per_gib'], lambda v: f'{v / 1000:.2f} ms')} per GiB read "
        "in 1 MiB chunks. This is the work django-expect's own code does, not an end-to-end "
        "figure: it leaves out everything a real socket and a real server add."
    )


def scale_tables(r: dict[str, Any]) -> list[str]:
    """bench/scale.py's figures: django-expect's per-request share against the number of URL
    patterns and of overrides in force, and the refresh time of the override rows."""
    sc = r.get("scale")
    if not sc:
        return []

    def us(v: float) -> str:
        return f"{v:.1f} µs"

    def ms(v: float) -> str:
        return f"{v * 1000:.1f} ms"

    lines = [
        "## Flat as the project grows",
        "",
        f"In-process ({sc['rounds']} rounds of {sc['iterations']:,} requests; median (min-max) "
        "of the rounds): a 1 KiB POST to the upload view, through ExpectMiddleware (building the "
        "request stand-in included, the same in every row). Django's own URL resolution is shown "
        "beside it: it grows with the patterns before the upload view with or without "
        "django-expect.",
        "",
        "| URL patterns (upload view last) | Django's resolve() | django-expect's middleware |",
        "|---|---|---|",
        *(
            f"| {row['patterns']:,} | {spread(row['resolve_us'], us)} | "
            f"{spread(row['middleware_us'], us)} |"
            for row in sc["patterns"]
        ),
        "",
        "| overrides in force | django-expect's middleware |",
        "|---|---|",
        *(
            f"| {row['overrides']:,} | {spread(row['middleware_us'], us)} |"
            for row in sc["overrides"]
        ),
        "",
    ]
    ref = sc["refresh"]
    lines += [
        f"Refresh with {ref['rows']:,} override rows (SQLite, by the refresher thread, never by "
        f"a request): first load {spread(ref['first_load_s'], ms)}, a refresh with nothing "
        f"changed (the counter only) {spread(ref['unchanged_s'], ms)}.",
        "",
    ]
    return lines


#: bench/asgi.py's results (``make bench`` runs it after bench/run.py): the page shows their
#: small-request rows and targets, and bench/asgi.py rewrites the page once they are in.
ASGI_RESULTS = Path(__file__).parent / "asgi_results.json"


def asgi_document(r: dict[str, Any]) -> dict[str, Any] | None:
    """The ASGI results the page shows: ``r["asgi"]`` when the caller put them there, else a
    full run's bench/asgi_results.json (never for a smoke page), when it has small requests."""
    doc = r.get("asgi")
    if doc is None and not r.get("smoke") and ASGI_RESULTS.exists():
        doc = json.loads(ASGI_RESULTS.read_text())
    return doc if doc and doc.get("small") else None


def asgi_targets(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The ASGI small-request targets, by the same pair rule as the WSGI rows."""
    from bench.asgi import SMALL_GOALS, SMALL_SERVERS

    doc = asgi_document(r)
    if doc is None:
        return []
    out = []
    for label in SMALL_SERVERS:
        for kind, (name, goal, text) in SMALL_GOALS.items():
            rows = [x for x in doc["small"] if x["asgi_server"] == label and x["kind"] == kind]
            ratios = sorted(a / b for a, b in paired(rows, lambda x: x["cpu"] / x["count"]) if b)
            if not ratios:
                continue
            middle = med(ratios)
            assert middle is not None
            out.append(
                (
                    f"ASGI, {label}: {name}, worker CPU per request vs Django's own handler",
                    text,
                    f"{(middle - 1) * 100:+.1f}% (median of the per-pair ratios; pairs "
                    f"{(ratios[0] - 1) * 100:+.0f}% to {(ratios[-1] - 1) * 100:+.0f}%, "
                    f"n={len(ratios)})",
                    pair_verdict(ratios, goal),
                )
            )
    return out


def asgi_section(r: dict[str, Any]) -> list[str]:
    """The page's ASGI small-request section (bench/asgi.py's table)."""
    from bench.asgi import small_section

    doc = asgi_document(r)
    if doc is None:
        return []
    return [
        "## Under ASGI: small requests",
        "",
        f"Measured {doc['date']} by `python -m bench.asgi` (part of `make bench`; "
        "bench/asgi_results.{md,json}).",
        "",
        *small_section(doc),
    ]


#: bench/breakdown.py's results (``make bench`` runs it after bench/asgi.py): the page shows
#: the decision latency explained, and bench/breakdown.py rewrites the page once they are in.
LATENCY_RESULTS = Path(__file__).parent / "latency_results.json"


def latency_document(r: dict[str, Any]) -> dict[str, Any] | None:
    """The breakdown the page shows: ``r["breakdown"]`` when the caller put it there, else a
    full run's bench/latency_results.json (never for a smoke page)."""
    doc = r.get("breakdown")
    if doc is None and not r.get("smoke") and LATENCY_RESULTS.exists():
        doc = json.loads(LATENCY_RESULTS.read_text())
    return doc if doc and doc.get("rows") else None


def latency_breakdown(r: dict[str, Any]) -> list[str]:
    from bench.breakdown import section

    doc = latency_document(r)
    if doc is None:
        return []
    return [
        "### Explained: Django's request path and django-expect's share",
        "",
        *section(doc, with_targets=False),
    ]


def latency_targets(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    from bench.breakdown import targets as breakdown_targets

    doc = latency_document(r)
    return breakdown_targets(doc) if doc is not None else []


def other_stacks(r: dict[str, Any]) -> list[str]:
    """The targets of the runs on other Django series (``make bench BENCH_DJANGO=5.2``: its
    results in bench/django-5.2/), each as its own table, on the main run's page."""
    if r.get("smoke"):
        return []
    out = []
    for source in sorted(Path(__file__).parent.glob("django-*/results.json")):
        other = json.loads(source.read_text())
        for key, name in (("asgi", "asgi_results.json"), ("breakdown", "latency_results.json")):
            if (source.parent / name).exists():
                other[key] = json.loads((source.parent / name).read_text())
        env = other["environment"]
        out += [
            f"### The same targets on Django {env['django']} (Python {env['python']})",
            "",
            f"`make bench BENCH_DJANGO={source.parent.name.removeprefix('django-')}` "
            f"({other['date']}; results in bench/{source.parent.name}/), by the same rules:",
            "",
            "| target | goal | measured | met |",
            "|---|---|---|---|",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(other)),
            "",
        ]
    return out


def targets(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    expect_runs = [x for x in r["put"] + r["form"] if x["server"] == "expect"]
    expect_bytes = [x["body_bytes"] for x in valid(expect_runs)]
    failed = len(expect_runs) - len(expect_bytes)
    if expect_bytes:
        out.append(
            (
                "body bytes on every rejection (PUT, form; curl, botocore; loopback, WAN)",
                "0",
                f"max {max(expect_bytes):,} over {len(expect_bytes)} valid runs"
                + (f" ({failed} failed, listed below)" if failed else ""),
                "yes"
                if max(expect_bytes) == 0 and not failed
                else "**no**"
                if max(expect_bytes)
                else "not resolved (failed runs)",
            )
        )
    form_pairs = paired(r["form"], lambda x: x["seconds"], "stock", "expect")
    if form_pairs:
        speedups = sorted(x / y for x, y in form_pairs)
        stock_t = med(x["seconds"] for x in valid(r["form"]) if x["server"] == "stock")
        expect_t = med(x["seconds"] for x in valid(r["form"]) if x["server"] == "expect")
        assert stock_t and expect_t
        out.append(
            (
                f"{fmt_size(r['config']['form_size'])} form rejection, stock time / "
                "django-expect time",
                ">= 50x",
                f"{stock_t / expect_t:,.0f}x (ratio of the medians; pairs "
                f"{speedups[0]:,.0f}x-{speedups[-1]:,.0f}x, n={len(speedups)})",
                verdict(-speedups[0], -speedups[-1], -50),
            )
        )
    size = r["accepted"]["size"]
    goals = [
        (
            f"accepted {fmt_binary(size)} PUT, worker CPU vs stock",
            r["accepted"]["runs"],
            lambda x: x["cpu"],
            1.01,
            "<= +1%",
        ),
        (
            "small GET, worker CPU per request vs stock",
            [x for x in r["small"] if x["method"] == "GET"],
            lambda x: x["cpu"] / x["count"],
            1.01,
            "<= +1%",
        ),
        (
            "small POST (1 KiB), worker CPU per request vs stock",
            [x for x in r["small"] if x["method"] == "POST"],
            lambda x: x["cpu"] / x["count"],
            1.02,
            "<= +2%",
        ),
    ]
    for name, rows, key, goal, text in goals:
        pairs = paired(rows, key)
        a = med(key(x) for x in valid(rows) if x["server"] == "expect")
        b = med(key(x) for x in valid(rows) if x["server"] == "stock")
        if not pairs or not a or not b:
            out.append((name, text, "no valid pair", "-"))
            continue
        ratios = sorted(x / y for x, y in pairs)
        middle = med(ratios)
        assert middle is not None
        out.append(
            (
                name,
                text,
                f"{(middle - 1) * 100:+.1f}% (median of the per-pair ratios; pairs "
                f"{(ratios[0] - 1) * 100:+.0f}% to {(ratios[-1] - 1) * 100:+.0f}%, "
                f"n={len(ratios)})",
                pair_verdict(ratios, goal),
            )
        )
    rss_cell, deltas = rss_difference(r["accepted"]["runs"])
    if deltas:
        out.append(
            (
                "worker peak RSS during the accepted upload, above stock",
                "<= 1 MB",
                rss_cell,
                pair_verdict(deltas, 1 * MB),
            )
        )
    for clients, goal in ((1, 0.001), (max(x["clients"] for x in r["latency"]), 0.020)):
        pooled, rounds, _ = latency_stats(r, clients, "reject", "expect")
        stock_pooled, _, _ = latency_stats(r, clients, "continue", "stock")
        if not pooled:
            continue
        out.append(
            (
                f"decision latency p99 (head to 413), {clients} client"
                + ("s" if clients > 1 else ""),
                f"<= {fmt_time(goal)}",
                f"{fmt_time(percentile(pooled, 99))} over {len(pooled)} samples (per-round "
                f"p99 {fmt_time(min(rounds))}-{fmt_time(max(rounds))}, {len(rounds)} "
                "rounds); stock's own 100, measured in alternating rounds: p99 "
                f"{fmt_time(percentile(stock_pooled, 99)) if stock_pooled else '-'}",
                verdict(max(rounds), min(rounds), goal),
            )
        )
    return out + asgi_targets(r) + latency_targets(r)


def excluded(r: dict[str, Any]) -> list[str]:
    out = []
    for section in ("put", "form", "small"):
        labels = PUT_COLUMNS if section == "put" else SERVERS
        for x in r[section]:
            if not x.get("valid", True):
                where = ", ".join(str(x[k]) for k in ("net", "client", "size", "method") if k in x)
                moved = (
                    f" ({fmt_bytes(x['body_bytes']).strip('*')} body bytes, "
                    f"{fmt_time(x['seconds'])})"
                    if "body_bytes" in x
                    else ""
                )
                out.append(
                    f"- {section} ({where}), {labels.get(x['server'], x['server'])}, "
                    f"pair {x['pair']}: {x['invalid']}{moved}"
                )
    for x in r["accepted"]["runs"]:
        if not x.get("valid", True):
            out.append(
                f"- accepted upload, {SERVERS[x['server']]}, pair {x['pair']}: {x['invalid']}"
            )
    out += [
        f"- other servers: {line[2:]}"
        for line in servers_excluded(r.get("servers", []))
        if not line.startswith("- none")
    ]
    for x in r["latency"]:
        if x["excluded"]:
            out.append(
                f"- latency, {x['clients']} clients, {x['kind']}, {SERVERS[x['server']]}, "
                f"round {x['round']}: {x['excluded']} samples answered "
                f"{x['excluded_statuses']}"
            )
    return out or ["None: every run passed validation."]


# -- the page -----------------------------------------------------------------------------------


# -- other WSGI servers (docs/howto/servers.md) -------------------------------------------------

OTHER_SERVER_LABELS = {
    "runserver": "`manage.py runserver` (stock: Django's own command)",
    "mod_wsgi": "Apache mod_wsgi, embedded mode",
    "uwsgi-http-socket": "uWSGI `--http-socket` (django-expect: `lazy_continue`)",
    "uwsgi-http": "uWSGI `--http` router (django-expect: `lazy_continue`)",
}


SERVER_MODES = {
    "stock": "stock: the view refuses on `Content-Length`",
    "stock-read": "stock-read: the view streams, then 413",
    "expect": "django-expect",
}


def servers_table(rows: list[dict[str, Any]], pairs: int) -> list[str]:
    """Body bytes and time to the 413 of a rejected PUT, per server and column: ``median
    (min-max, n=N)`` over the valid runs (a 413), the failed runs counted in the cell and listed
    by :func:`servers_excluded`."""
    size = rows[0]["size"] if rows else 0
    out = [
        f"curl 7.88 `-T` of {fmt_size(size)} to the 5 MiB view over loopback, through the "
        f"byte-counting relay; {pairs} run{'s' if pairs > 1 else ''} per cell, the three "
        "columns of a server alternating "
        "(A B C, then C B A, ...), both servers (without and with django-expect) up at once. "
        "Without django-expect: 'stock' = the view refuses on `Content-Length` without "
        "reading; 'stock-read' = the view streams the body and gives up past the limit. Every "
        "run must end with a 413; a run that does not is left out of both figures (the cell "
        "counts it, †) and listed below the table. Body bytes are counted by the relay; the "
        "time (wall clock, from the request head leaving curl to the 413) varies with the load "
        "on this shared machine.",
        "",
        "| server | column | body bytes sent | time to the 413 |",
        "|---|---|---|---|",
    ]
    for kind, label in OTHER_SERVER_LABELS.items():
        for mode, column in SERVER_MODES.items():
            runs = [x for x in rows if x["server"] == kind and x["mode"] == mode]
            if not runs:
                continue
            out.append(f"| {label} | {column} | {_bytes_cell(runs)} | {_time_cell(runs)} |")
    return [*out, "", "Runs left out:", "", *servers_excluded(rows)]


def servers_excluded(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        f"- {OTHER_SERVER_LABELS.get(x['server'], x['server'])}, {x['mode']}, pair "
        f"{x['pair']}: {x['invalid']} ({fmt_bytes(x['body_bytes']).strip('*')} body bytes, "
        f"{fmt_time(x['seconds'])})"
        for x in rows
        if not x.get("valid", True)
    ]
    return out or ["- none: every run ended with a 413."]


#: The block of docs/howto/servers.md that ``python -m bench.run`` (and ``--servers-only``)
#: rewrites from the stored runs (bench/servers.json).
SERVERS_PAGE = Path(__file__).parents[1] / "docs" / "howto" / "servers.md"
SERVERS_BEGIN = "<!-- bench:servers (generated by bench/report.py from bench/servers.json) -->"
SERVERS_END = "<!-- /bench:servers -->"


def servers_block(doc: dict[str, Any]) -> str:
    """The measured section of docs/howto/servers.md, from a bench/servers.json document."""
    env = doc["environment"]
    return "\n".join(
        [
            SERVERS_BEGIN,
            f"`{doc['command']}` ({doc['date']}; {env['cpus']} CPUs shared with other jobs; "
            f"Django {env['django']}, curl {env['curl']}; Apache with deploy/apache-expect.conf, "
            "uWSGI from requirements-dev.txt; samples: `bench/servers.json`):",
            "",
            *servers_table(doc["rows"], doc["pairs"]),
            SERVERS_END,
        ]
    )


def write_servers_page(doc: dict[str, Any], path: Path = SERVERS_PAGE) -> None:
    """Replace the generated block of ``path`` (between the two markers) with ``doc``'s."""
    text = path.read_text()
    begin, end = text.index(SERVERS_BEGIN), text.index(SERVERS_END) + len(SERVERS_END)
    path.write_text(text[:begin] + servers_block(doc) + text[end:])


def page(r: dict[str, Any], all_sizes: bool = False) -> str:
    env = r["environment"]
    cfg = r["config"]
    big = max(cfg["reject_sizes"])
    uvicorn_runs = cfg["uvicorn_reps"]
    title = "# Performance" + (" (SMOKE RUN: tiny sizes, not figures)" if r["smoke"] else "")
    out = [
        title,
        "",
        f"Measured {r['date']} by `make bench` in {r['duration']:.0f} s on {env['cpus']} shared "
        f"CPUs ({env['machine']}): Python {env['python']}, Django {env['django']}, gunicorn "
        f"{env['gunicorn']} (gthread, 1 worker, 4 threads), uvicorn {env['uvicorn']} (h11), "
        f"curl {env['curl']}, botocore {env['botocore']}. The same Django project and views, "
        "served by stock gunicorn, by gunicorn with django-expect, and by uvicorn (ASGI). Bytes "
        "are counted by a relay between client and server, which also emulates a WAN (20 ms "
        "each way, 200 Mbit/s).",
        "",
        "How to read the figures: each cell is `median (min-max, n=runs)` over the runs that "
        "passed validation (the final status; for accepted uploads the byte count and checksum "
        "the view received; for small requests every response body). Runs that failed are left "
        "out of every figure -- body bytes and times alike -- and listed at the end with what "
        "they measured; a cell whose runs all failed prints no figure. Body bytes are counted "
        "by the relay and CPU is the worker's own CPU time (both hold up on this shared "
        "machine); every time and throughput is wall clock and moves with the load other jobs "
        "put on the 2 CPUs. Stock and django-expect "
        f"runs alternate in every section ({cfg['pairs']} pairs "
        f"for rejections, {cfg['accept_pairs']} for the accepted upload, {cfg['small_pairs']} "
        f"for small requests, {cfg['latency_rounds']} rounds each for latency); uvicorn runs "
        f"{uvicorn_runs} time{'s' if uvicorn_runs > 1 else ''} per cell after them (its cells "
        "say so).",
        "",
        f"## A {fmt_size(big)} PUT to a view that accepts 5 MiB",
        "",
        "Two stock views: one checks `Content-Length` and answers 413 without reading, one "
        "streams the body and gives up past the limit (as an S3-style view does); gunicorn has "
        "invited the body either way. uvicorn: Django's ASGI handler reads the whole body "
        "before any view runs. curl 7.88 `-T file` and botocore `put_object` (one attempt), "
        "both sending `Expect: 100-continue`. Time (wall clock) runs from the request head "
        "leaving the client to the final status. Server CPU is the serving process's own CPU "
        "time (gunicorn's worker, uvicorn's process) from the head until the relay went quiet, "
        "so a lingering drain after the 413 is included.",
        "",
        *rejection_tables(r, sorted(cfg["reject_sizes"]) if all_sizes else [big]),
        "",
        "†: runs that ended without a 413 (a reset connection; botocore then also sent the "
        "body again on a new connection) count in neither figure of their cell; they are "
        'listed, with the bytes they moved, under "Runs left out". botocore with '
        "django-expect gets its 413 at once, but "
        "`put_object` returns only after urllib3 has read the rest of the file locally and "
        "discarded it; not a byte of it is sent.",
        "",
        f"## The everyday Django form: a {fmt_size(cfg['form_size'])} file, 5 MB limit",
        "",
        "Stock: the view validates `request.FILES` with a form (Django parses the whole "
        "multipart body first) and answers 413; django-expect: the same view with "
        "`@upload_policy(max_size=5_000_000, content_types=['multipart/form-data'])`. "
        "curl `-F`, loopback; server CPU as above.",
        "",
        *form_table(r),
        "",
        "## What accepting costs",
        "",
        f"A raw client sends `Expect: 100-continue`, waits for the 100 and streams "
        f"{fmt_binary(r['accepted']['size'])} of zeros over loopback; the view reads 1 MiB "
        "chunks and keeps only an adler32 checksum; fresh servers for every run, so each peak "
        "RSS is its own. Small requests: "
        f"{cfg['small_requests']} per run on one keep-alive connection, through the full "
        "middleware stack. CPU = the worker's own CPU time from /proc.",
        "",
        *costs_table(r),
        "",
        inprocess(r),
        "",
        *asgi_section(r),
        *scale_tables(r),
        "## Decision latency",
        "",
        "Request head out to the first status line in, over loopback, a new connection per "
        "request. Stock gunicorn answers 100 to both heads before Django runs; django-expect "
        "answers 100 to the accepted head and 413 to the oversized one (50 MB declared). "
        "Percentiles are over the samples of all rounds pooled.",
        "",
        *latency_table(r),
        "",
        *latency_breakdown(r),
        "## Targets",
        "",
        "| target | goal | measured | met |",
        "|---|---|---|---|",
        *(f"| {name} | {goal} | {measured} | {met} |" for name, goal, measured, met in targets(r)),
        "",
        "This machine has 2 CPUs shared with other work: the worker's CPU for the same 1 GiB "
        "upload varies from run to run in both columns, and so do per-request figures. The rule "
        "for every paired target: stock and django-expect alternate (A B, then B A), each pair "
        "gives one ratio (or difference), the row shows their median and range, and the target "
        f"is met when at least {MET_SHARE:.0%} of the pairs are within the goal.",
        "",
        *other_stacks(r),
        *(
            [
                "## Other WSGI servers: a rejected oversized PUT",
                "",
                *servers_table(r["servers"], cfg["pairs"]),
                "",
            ]
            if r.get("servers")
            else []
        ),
        "## Runs left out",
        "",
        *excluded(r),
        "",
        "![Body bytes sent and time to the rejection against the declared size: stock gunicorn, "
        "django-expect and uvicorn, over loopback and an emulated WAN]"
        f"({'../images/bench-results.png' if not r['smoke'] else 'results.png'})",
        "",
        "Reproduce: `make bench` (about 20 minutes) runs this page's scenarios (`python -m "
        "bench.run`, about 10 minutes; rewrites this page, bench/results.md, "
        "docs/images/bench-results.png and bench/results.json), then the browsers "
        "(`python -m bench.browsers`: bench/browsers.{md,json}, "
        "[Browsers that send anyway](../howto/browsers-sent-anyway.md)) and the ASGI "
        "comparison (`python -m bench.asgi`: Django's ASGI handler vs django-expect's on "
        "uvicorn and gunicorn `-k asgi`, rejected PUTs and form, the accepted 1 GiB upload, the "
        "small requests against Django's handler without django-expect; "
        "bench/asgi_results.{md,json}, [ASGI](../howto/asgi.md#measured)) and the decision "
        "latency explained (`python -m bench.breakdown`: bench/latency_results.{md,json}); each "
        "of the last two rewrites this page once its results are in:",
        "",
        "```sh",
        "make bench         # every scenario, stock and django-expect alternating",
        "make bench-smoke   # every scenario once at small sizes (CI runs it)",
        "make bench-asgi    # the ASGI comparison alone",
        "make bench-latency # the decision latency explained alone",
        "make profile       # where the time goes: cProfile + py-spy on live workers",
        "```",
        "",
        "`make profile` (bench/profile.py) explains these figures rather than adding to them: "
        "cProfile of the hooks and the middleware for a GET and a 1 KiB POST, summed per "
        "django-expect module (hook, stream wrapping, middleware, decision, policy resolution, "
        "identity, statistics, response), and py-spy (`--format raw`, 500 Hz) sampling one "
        "worker of gunicorn sync and gthread, and of uvicorn with Django's ASGI handler and with "
        "`django_expect.asgi`, each with and without the package, under a keep-alive load of "
        "small GETs and POSTs: the share of samples with a django-expect frame and the top "
        "frames. Output: bench/.work/profile/ (profile.json, *.txt, folded stacks for flame "
        "graphs).",
        "",
    ]
    return "\n".join(out)


# -- plot ---------------------------------------------------------------------------------------


def plot_points(
    r: dict[str, Any], net: str, client: str, server: str, metric: str
) -> list[tuple[float, float]]:
    """(declared MB, median of the valid runs) for one line of the plot: MB for body bytes,
    seconds for times. A size whose runs all failed has no point."""
    points = []
    for size in r["config"]["reject_sizes"]:
        value = med(x[metric] for x in valid(_put_rows(r, net, client, size, server)))
        if value is not None:
            points.append((size / MB, value / MB if metric == "body_bytes" else value))
    return points


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "stock": "tab:orange",
        "stock-read": "tab:red",
        "expect": "tab:green",
        "uvicorn": "tab:blue",
    }
    styles = {"curl": "-", "botocore": "--"}
    fig, axes = plt.subplots(2, 2, figsize=(12, 9), sharex=True)
    for col, net in enumerate(("loopback", "wan")):
        for metric, row_axis, label in (
            ("body_bytes", 0, "body bytes sent (MB)"),
            ("seconds", 1, "time to final status (s)"),
        ):
            ax = axes[row_axis][col]
            for server in PUT_COLUMNS:
                for client, style in styles.items():
                    points = plot_points(r, net, client, server, metric)
                    if points:
                        xs, ys = zip(*points, strict=True)
                        ax.plot(
                            xs,
                            ys,
                            style,
                            marker="o",
                            color=colors[server],
                            label=f"{PUT_COLUMNS[server]}, {client}",
                        )
            ax.set_xscale("log")
            if metric == "body_bytes":
                ax.set_yscale("symlog", linthresh=0.1)
                ax.set_ylim(bottom=-0.03)
            else:
                ax.set_yscale("log")
            ax.set_ylabel(label + ", median of the valid runs")
            ax.grid(True, which="both", alpha=0.3)
            title = "loopback" if net == "loopback" else "WAN (40 ms RTT, 200 Mbit/s)"
            ax.set_title(f"Rejected PUT, {title}")
            if row_axis == 1:
                ax.set_xlabel("declared body size (MB)")
    axes[0][0].legend(fontsize=7, ncol=2)
    cfg = r["config"]
    fig.suptitle(
        "django-expect vs stock gunicorn vs uvicorn: a 5 MiB limit meets bigger uploads\n"
        f"each point: the median of the valid runs (stock, django-expect: {cfg['pairs']}; "
        f"uvicorn: {cfg['uvicorn_reps']}); a size whose runs all failed has no point; "
        "times are wall clock"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: The page ``make bench`` rewrites, and the plot it shows.
PERFORMANCE_PAGE = Path(__file__).parents[1] / "docs" / "explanation" / "performance.md"
PLOT = Path(__file__).parents[1] / "docs" / "images" / "bench-results.png"


def write(r: dict[str, Any], out_dir: Path, page_path: Path) -> str:
    """Write results.md (every size) to ``out_dir`` and the page to ``page_path``; the plot goes
    to :data:`PLOT` (a smoke run: results.png in ``out_dir``)."""
    plot_path = PLOT if page_path == PERFORMANCE_PAGE else out_dir / "results.png"
    text = page(r, all_sizes=True).replace(
        "](../images/bench-results.png)", "](../docs/images/bench-results.png)"
    )
    (out_dir / "results.md").write_text(text)
    page_path.parent.mkdir(parents=True, exist_ok=True)
    page_path.write_text(page(r))
    plot(r, plot_path)
    return "\n".join(text.splitlines()[:12])


def rewrite_page() -> None:
    """The performance page again from bench/results.json (bench/asgi.py calls it once its own
    results are in, so the page shows them)."""
    source = Path(__file__).parent / "results.json"
    results = json.loads(source.read_text())
    if not results["smoke"]:
        PERFORMANCE_PAGE.write_text(page(results))


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results.json"
    results = json.loads(source.read_text())
    target = source.parent / "performance.md" if results["smoke"] else PERFORMANCE_PAGE
    write(results, source.parent, target)
    servers = source.parent / "servers.json"
    if not results["smoke"] and servers.exists():
        write_servers_page(json.loads(servers.read_text()))
