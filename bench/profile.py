"""`make profile`: where a small GET and a 1 KiB POST spend their time, with and without
django-expect.

    python -m bench.profile            # bench/.work/profile/: *.txt, *.folded, profile.json
    python -m bench.profile --smoke    # the same, a few hundred requests and 1 s samples

Two views of the same requests:

* **In-process (cProfile)**: the gunicorn hooks and ExpectMiddleware on stand-ins for gunicorn's
  request (bench/overhead.py's), GET and POST; the functions sorted by own time, and the total
  own time per django-expect module (hook, stream wrapping, middleware, policy resolution,
  identity, statistics, response) in ``profile.json``.
* **A live worker (py-spy, from PyPI)**: ``py-spy record --format raw`` samples one worker of
  gunicorn (sync, gthread) and of uvicorn (Django's ASGI handler vs ``django_expect.asgi``)
  while a keep-alive client sends small GETs and POSTs; for each run, the share of samples whose
  stack holds a django-expect frame, and the top frames, in ``profile.json`` (the folded stacks
  are kept, for flame graphs). py-spy needs ptrace rights on the worker (root, or
  ``kernel.yama.ptrace_scope=0``); without them that part records why it was skipped.

Nothing here is a pass/fail figure: it explains the costs ``make bench`` measures.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import pstats
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import clients
from bench.servers import EXPECT_ASGI, STOCK_ASGI, Uvicorn, bench_env, prepare
from harness.server import Server

HERE = Path(__file__).resolve().parent
KINDS = {"GET": b"", "POST": b"x" * 1024}
#: django-expect's modules, grouped as the performance page names the costs.
GROUPS = {
    "gunicorn.py": "hook",
    "continuation.py": "stream wrapping",
    "fileobj.py": "stream wrapping",
    "streams.py": "stream wrapping",
    "bodylimit.py": "stream wrapping",
    "middleware.py": "middleware",
    "core.py": "decision",
    "resolution.py": "policy resolution",
    "policies.py": "policy resolution",
    "sitewide.py": "policy resolution",
    "overrides.py": "policy resolution",
    "frameworks.py": "policy resolution",
    "conf.py": "policy resolution",
    "identity.py": "identity",
    "stats.py": "statistics",
    "responses.py": "response",
}


def in_process(requests: int, out: Path) -> dict[str, Any]:
    """cProfile of the hooks + middleware (a subprocess with the bench settings)."""
    code = f"""
import cProfile, json, pstats, sys
import bench.overhead as o
from django.http import HttpResponse
from django.urls import resolve
view = resolve("/small").func
response = HttpResponse("ok")
mw = o.ExpectMiddleware(lambda r: response)
worker = o._Worker()
result = {{}}
for method, body in (("GET", b""), ("POST", o.BODY)):
    reqs = [(o._Req(body), o._request(method, body)) for _ in range({requests})]
    profile = cProfile.Profile()
    profile.enable()
    for req, request in reqs:
        o.hooks.pre_request(worker, req)
        mw.process_view(request, view, (), {{}})
        mw(request)
        o.hooks.post_request(worker, req, {{}}, None)
    profile.disable()
    profile.dump_stats(sys.argv[1] + "/" + method + ".pstats")
"""
    subprocess.run(
        [sys.executable, "-c", code, str(out)],
        check=True,
        cwd=HERE.parent,
        env=bench_env("expect", out),
        timeout=600,
    )
    result: dict[str, Any] = {}
    for method in KINDS:
        stats = pstats.Stats(str(out / f"{method}.pstats"))
        text = io.StringIO()
        pstats.Stats(str(out / f"{method}.pstats"), stream=text).sort_stats("tottime").print_stats(
            30
        )
        (out / f"inprocess-{method}.txt").write_text(text.getvalue())
        groups: collections.Counter[str] = collections.Counter()
        for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
            if "django_expect" in filename:
                groups[GROUPS.get(Path(filename).name, Path(filename).name)] += row[2]
        result[method] = {
            name: round(seconds / requests * 1e6, 3) for name, seconds in groups.most_common()
        }
        result[method]["unit"] = "µs of own time per request, under cProfile"
    return result


#: Packages whose frames under django-expect's are their own work, not django-expect's.
FOREIGN = ("django/", "gunicorn/", "uvicorn/", "h11/", "httptools/", "asgiref/", "bench/")


def _foreign(frame: str) -> bool:
    """Whether a py-spy frame (``func (path:line)``) is another package's code."""
    path = frame.rpartition("(")[2]
    return path.startswith(FOREIGN) or "site-packages/" in path


def _load(address: tuple[str, int], method: str, stop: threading.Event, per: int) -> None:
    """Requests until ``stop``, ``per`` on each connection (1 for gunicorn's sync worker, which
    closes after every response)."""
    while not stop.is_set():
        clients.keepalive_requests(address, method, "/small", per, KINDS[method])


def sampled(
    pid: int, address: tuple[str, int], method: str, seconds: float, out: Path, per: int = 200
) -> Any:
    """py-spy's raw samples of ``pid`` while a client loads ``address``; a summary."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    stop = threading.Event()
    load = threading.Thread(target=_load, args=(address, method, stop, per), daemon=True)
    load.start()
    try:
        done = subprocess.run(
            [py_spy, "record", "--pid", str(pid), "--duration", str(int(max(1, seconds))),
             "--rate", "500", "--format", "raw", "--output", str(out), "--nonblocking"],
            capture_output=True, text=True, timeout=seconds + 60,
        )  # fmt: skip
    except FileNotFoundError:
        return {"skipped": "py-spy is not installed (pip install -r requirements-bench.txt)"}
    finally:
        stop.set()
        load.join(30)
    if done.returncode != 0 or not out.exists():
        return {"skipped": (done.stderr or done.stdout).strip()[-300:]}
    total = ours = 0
    frames: collections.Counter[str] = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        total += count
        calls = stack.split(";")
        mine = [i for i, frame in enumerate(calls) if "django_expect" in frame]
        # django-expect's own work: its innermost frame and the standard library under it; not
        # another package under it (Django's chain and the view under the middleware's
        # __call__, the server's send under the ASGI wrapper's).
        if mine and not any(_foreign(f) for f in calls[mine[-1] + 1 :]):
            ours += count
            frames[calls[mine[-1]]] += count
    return {
        "samples": total,
        "django_expect_share": round(ours / total, 4) if total else None,
        "top_django_expect_frames": frames.most_common(10),
    }


def live(seconds: float, work: Path) -> list[dict[str, Any]]:
    rows = []
    for worker in ("sync", "gthread"):
        for mode in ("stock", "expect"):
            server = Server(
                worker,
                hook=(mode == "expect"),
                log_path=work / f"{worker}-{mode}.log",
                env=bench_env(mode, work),
                extra_args=["--no-control-socket", "--timeout", "120"],
            ).start()
            try:
                per = 1 if worker == "sync" else 200
                for _ in range(max(1, 20 // per)):  # warm up
                    clients.keepalive_requests(server.address, "GET", "/small", per)
                pid = server.worker_pids()[0]
                for method in KINDS:
                    folded = work / f"gunicorn-{worker}-{mode}-{method}.folded"
                    summary = sampled(pid, server.address, method, seconds, folded, per)
                    rows.append({"server": f"gunicorn {worker}", "mode": mode, "method": method,
                                 **summary})  # fmt: skip
            finally:
                server.stop()
    for mode, app in (("stock", STOCK_ASGI), ("expect", EXPECT_ASGI)):
        uvicorn = Uvicorn(work, f"uvicorn-{mode}", app, mode=mode)
        try:
            clients.keepalive_requests(uvicorn.address, "GET", "/small", 20)
            for method in KINDS:
                folded = work / f"uvicorn-{mode}-{method}.folded"
                pid = uvicorn.worker_pids()[0]
                summary = sampled(pid, uvicorn.address, method, seconds, folded)
                rows.append({"server": "uvicorn", "mode": mode, "method": method, **summary})
        finally:
            uvicorn.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="few requests, 1 s samples")
    args = parser.parse_args(argv)
    work = HERE / ".work" / "profile"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    prepare(work)
    started = time.monotonic()
    result = {
        "in_process": in_process(300 if args.smoke else 20000, work),
        "live": live(1.0 if args.smoke else 10.0, work),
    }
    result["duration"] = round(time.monotonic() - started, 1)
    (work / "profile.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
