"""The servers under test: gunicorn (stock or with the hook) and uvicorn, each stopped by PID.

gunicorn is started by ``harness.server.Server`` (the end-to-end tests' launcher) with the
bench settings; uvicorn by ``Uvicorn`` below. ``cpu_seconds``/``peak_rss`` read ``/proc``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.process import ROOT, Process, accepts, prepare_database
from harness.server import Server
from harness.tools import free_port

_TICK = os.sysconf("SC_CLK_TCK")


def bench_env(mode: str, work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        BENCH_MODE=mode,
        TEST_DB=str(work / "db.sqlite3"),
        TEST_MEDIA_ROOT=str(work / "media"),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        TMPDIR=str(work / "tmp"),  # Django's upload temp files, uvicorn's spooled bodies
    )
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    return env


def prepare(work: Path) -> None:
    """Migrate the bench's own SQLite database (django-expect's overrides and statistics)."""
    prepare_database(bench_env("expect", work))


def gunicorn(mode: str, work: Path, name: str, threads: int = 4) -> Server:
    """One gthread worker; ``mode`` 'expect' = the hook + middleware + decorators."""
    return Server(
        "gthread",
        hook=(mode == "expect"),
        log_path=work / f"{name}.log",
        env=bench_env(mode, work),
        extra_args=[
            "--log-level", "info", "--no-control-socket",
            "--threads", str(threads), "--timeout", "120",
        ],
    ).start()


#: Django's own ASGI handler, and django-expect's (django_expect.asgi.get_asgi_application).
STOCK_ASGI = "tests.asgi_stock:application"
EXPECT_ASGI = "tests.asgi:application"


class Uvicorn(Process):
    """Django's ASGI handler (``app``) under uvicorn (h11), with the django-expect settings."""

    def __init__(self, work: Path, name: str = "uvicorn", app: str = STOCK_ASGI) -> None:
        self.log_path = work / f"{name}.log"
        self.env = bench_env("expect", work)
        self.port = free_port()
        self.launch([
            sys.executable, "-m", "uvicorn", app,
            "--host", "127.0.0.1", "--port", str(self.port), "--http", "h11",
            "--lifespan", "off", "--log-level", "warning", "--no-access-log",
        ])  # fmt: skip
        self.wait_until(lambda _deadline: accepts(self.address), 30)

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return [self.process.pid]


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of the live threads of the processes, in seconds (a difference of two readings
    loses the share of a thread that ended in between: :func:`cpu_between` tells).

    From each thread's ``schedstat`` (nanoseconds on the CPU), which resolves a few hundred
    requests; ``stat``'s utime+stime (10 ms ticks) where schedstat is missing.
    """
    total = 0.0
    for pid in pids:
        try:
            total += sum(_task_ns(task) for task in Path(f"/proc/{pid}/task").iterdir()) / 1e9
        except (FileNotFoundError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK  # fields 14, 15 of proc(5)
    return total


def _task_ns(task: Path) -> int:
    """A thread's nanoseconds on the CPU; 0 for a thread that ended while the directory was read
    (ProcessLookupError, or its directory already gone): a pool thread that exits between two
    readings loses its share."""
    if not task.exists():
        return 0
    try:
        return int((task / "schedstat").read_text().split()[0])
    except ProcessLookupError:
        return 0


def cpu_snapshot(pids: list[int]) -> dict[tuple[int, int], int]:
    """Nanoseconds on the CPU of every live thread of the processes, by (pid, tid): each
    thread's ``schedstat`` (its ``stat`` utime+stime, 10 ms ticks, where schedstat is missing).
    A thread that ends while the directory is read is left out."""
    snapshot = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                try:
                    ns = int((task / "schedstat").read_text().split()[0])
                except FileNotFoundError:
                    if not task.exists():
                        raise
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                    ns = (int(fields[11]) + int(fields[12])) * 10**9 // _TICK
            except (FileNotFoundError, ProcessLookupError):
                continue  # the thread ended while we read
            snapshot[pid, int(task.name)] = ns
    return snapshot


#: Why a run has no CPU figure (see :func:`cpu_between`).
CPU_LOST = "a server thread ended during the run: its CPU time since the start is lost"


def cpu_between(before: dict[tuple[int, int], int], after: dict[tuple[int, int], int]
                ) -> float | None:
    """CPU seconds the threads spent from snapshot ``before`` to ``after`` (a thread started in
    between counts whole); None when a thread of ``before`` is gone from ``after``: what it spent
    since ``before`` left with it, so any sum would be too low (even negative), not a figure."""
    if any(key not in after for key in before):
        return None
    return sum(ns - before.get(key, 0) for key, ns in after.items()) / 1e9


def peak_rss(pid: int) -> int:
    """VmHWM (peak resident set size) of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for {pid}")
