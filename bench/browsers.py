"""The browser section of `make bench`: real browsers post a file the route refuses, no script.

    python -m bench.browsers            # 5 runs per case: bench/browsers.{json,md}
    python -m bench.browsers --smoke    # 1 run per case, into bench/.work/browsers-smoke/

Chromium (Playwright, Debian ``chromium``) and Firefox ESR (puppeteer-core over WebDriver BiDi,
Debian ``firefox-esr``) submit the demo's script-free ``/upload/plain`` form to ``/upload/form``
(5 MB limit) through a relay shaped
like a home uplink (20 Mbit/s, 20 ms each way; harness/relay.py). Servers: one gthread
worker (4 threads) of the demo project, stock gunicorn (no hooks: the middleware still refuses
from the head, gunicorn closes as it always does) and django-expect (the hooks: the close
policy of docs/howto/browsers-sent-anyway.md). Runs alternate stock / django-expect.

Per run: what the browser showed (validated: a 413 page, or an error page), seconds from the
submit click to that page (the browser's own clock, page load included), and body bytes that
crossed the relay. Reported: medians with min-max, and how many runs showed the 413 page.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from harness.drain_browsers import BROWSERS
from harness.process import prepare_database, project_env
from harness.relay import Relay
from harness.server import Server

HERE = Path(__file__).resolve().parent
MB = 1_000_000
RATE = 2_500_000  # 20 Mbit/s
DELAY = 0.020
#: (browser, file size): Chromium's close path (300 MB), Firefox's drain path (10 MB), and each
#: browser in the other's case.
CASES = [("chromium", 300 * MB), ("firefox", 10 * MB), ("chromium", 10 * MB)]
SERVERS = {"stock": "stock gunicorn", "expect": "django-expect"}


def log(message: str) -> None:
    print(f"[bench browsers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def settle(relay: Relay, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(c.closed is None for c in relay.connections):
        time.sleep(0.05)


def run(work: Path, runs: int) -> list[dict]:
    env = project_env(work / "db.sqlite3", work / "media")
    prepare_database(env)
    files = {}
    for _, size in CASES:
        path = work / f"upload-{size}.bin"
        with open(path, "wb") as f:
            f.truncate(size)
        files[size] = path
    servers = {
        mode: Server("gthread", mode == "expect", work / f"{mode}.log", env).start()
        for mode in SERVERS
    }
    rows = []
    try:
        for browser, size in CASES:
            for i in range(2 * runs):
                mode = ("stock", "expect")[i % 2]
                with Relay(servers[mode].address, delay=DELAY, rate=RATE) as relay:
                    shown = BROWSERS[browser]("form", f"{relay.url}/upload/plain", files[size])
                    settle(relay)
                    row = {
                        "browser": browser,
                        "size": size,
                        "server": mode,
                        "run": i // 2,
                        "outcome": shown.outcome,
                        "status": shown.status,
                        "shows_413": shown.shows_413,
                        "error": shown.error[:200],
                        "seconds": shown.seconds,
                        "body_bytes": relay.body_bytes(),
                        "connections": len(relay.connections),
                    }
                what = "413 page" if row["shows_413"] else f"{row['outcome']} {row['error'][:60]}"
                log(
                    f"{browser} {size // MB} MB {mode}: {what} "
                    f"{row['seconds']:.2f} s {row['body_bytes'] / MB:.2f} MB"
                )
                rows.append(row)
    finally:
        for server in servers.values():
            server.stop()
        for path in files.values():
            path.unlink(missing_ok=True)
    return rows


def _median(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    return (
        f"{fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))}-{fmt.format(max(values))})"
    )


def markdown(rows: list[dict]) -> str:
    lines = [
        "## Browsers: a refused file sent anyway (no script, HTTP/1.1)",
        "",
        "Demo `/upload/plain` form posting to `/upload/form` (5 MB limit) through a relay at "
        "20 Mbit/s, 20 ms each way; one",
        "gthread worker. Median (min-max) over the runs; time from the submit click to the page.",
        "",
        "| browser | file | server | shown | time to page | body bytes sent |",
        "|---|---|---|---|---|---|",
    ]
    for browser, size in CASES:
        for mode, label in SERVERS.items():
            key = (browser, size, mode)
            mine = [r for r in rows if (r["browser"], r["size"], r["server"]) == key]
            if not mine:
                continue
            ok = [r for r in mine if r["shows_413"]]
            others = sorted({r["error"].split("(")[0][:40] or r["outcome"] for r in mine} - {""})
            shown = f"413 page {len(ok)}/{len(mine)}"
            if len(ok) < len(mine):
                shown += f"; else: {', '.join(others) if others else 'error'}"
            lines.append(
                f"| {browser} | {size // MB} MB | {label} | {shown} | "
                f"{_median([r['seconds'] for r in mine], '{:.2f} s')} | "
                f"{_median([r['body_bytes'] / MB for r in mine], '{:.2f} MB')} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one run per case")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    runs = 1 if args.smoke else args.runs
    work = HERE / ".work" / ("browsers-smoke" if args.smoke else "browsers")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    from bench.run import RESULTS_DIR

    out_dir = work if args.smoke else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows = run(work, runs)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "runs": runs,
        "rows": rows,
        "duration": time.monotonic() - started,
    }
    (out_dir / "browsers.json").write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(rows)
    (out_dir / "browsers.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
