"""Replay fuzz exchanges (harness/fuzz.py) against a fresh gunicorn + django-expect.

``python -m stress.fuzz --seed 6 --worker gthread --only 1234`` runs exchange 1234 of seed 6 on
its own and prints the scenario (every request's bytes, the mode, the cut), what the server sent
back, and the violations; ``--start N --count M`` runs a range (16 at a time) and prints the
violations only. Exit status 1 when any exchange, or the server afterwards (worker PIDs, sockets,
error lines in its log), breaks an invariant. The server is stopped by its PID.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import fuzz  # noqa: E402
from harness.server import WORKERS  # noqa: E402
from stress.run import Lab, server_health  # noqa: E402


def describe(result: fuzz.Result) -> str:
    scenario = result.scenario
    lines = [
        f"exchange {scenario.seed}: mode={scenario.mode} cut={scenario.cut} "
        f"splits={scenario.splits} body_after_rejection={scenario.send_body_after_rejection}"
    ]
    for i, request in enumerate(scenario.requests):
        lines.append(
            f"request {i}: asks_continue={request.asks_continue} "
            f"well_formed={request.well_formed} declared_length={request.declared_length}"
        )
        body = len(request.wire) - request.head_len
        lines.append(f"  {request.wire[: request.head_len]!r} + {body} body bytes")
    for response in result.responses:
        lines.append(f"<- {response.status} {response.headers} {response.body[:200]!r}")
    if result.trailing:
        lines.append(f"<- unparsed: {result.trailing[:200]!r}")
    lines.append(f"reset={result.reset} error={result.error}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--worker", choices=WORKERS, default="gthread")
    parser.add_argument("--only", type=int, help="the one exchange index to replay")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args()
    lab = Lab()
    failed = False
    with lab.server(args.worker) as server:
        pids = server.worker_pids()
        log_start = len(server.log())
        if args.only is not None:
            result = fuzz.run_one(server.address, fuzz.generate(f"{args.seed}:{args.only}"))
            print(describe(result))
            problems = fuzz.check(result)
            print("violations:", problems or "none")
            failed = bool(problems)
        else:
            report = fuzz.run(server.address, args.seed, args.count, start=args.start)
            for seed, problems in report.violations:
                print(seed, problems)
            print(f"{report.exchanges} exchanges, {len(report.violations)} with violations")
            failed = bool(report.violations)
        health = server_health(server, pids, log_start)
    print("server afterwards:", health)
    failed = (
        failed
        or not health["workers_unchanged"]
        or health["sockets_after"] != len(pids)
        or bool(health["error_lines"])
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
