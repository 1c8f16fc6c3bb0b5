"""The servers under test: gunicorn (stock or with the hook) and uvicorn, each stopped by PID.

gunicorn is started by ``harness.server.Server`` (the end-to-end tests' launcher) with the
bench settings; uvicorn by ``Uvicorn`` below. ``cpu_seconds`` reads each process's CPU-time
clock, ``peak_rss`` ``/proc``.
"""

from __future__ import annotations

import os
import sys
import time
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
            "--log-level",
            "info",
            "--no-control-socket",
            "--threads",
            str(threads),
            "--timeout",
            "120",
        ],
    ).start()


#: Django's own ASGI handler, and django-expect's (django_expect.asgi.get_asgi_application).
STOCK_ASGI = "tests.asgi_stock:application"
EXPECT_ASGI = "tests.asgi:application"


class Uvicorn(Process):
    """Django's ASGI handler (``app``) under uvicorn (h11), with the django-expect settings."""

    def __init__(
        self, work: Path, name: str = "uvicorn", app: str = STOCK_ASGI, mode: str = "expect"
    ) -> None:
        self.log_path = work / f"{name}.log"
        self.env = bench_env(mode, work)  # "stock": settings without the app and middleware
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
    """CPU time of the processes, in seconds: every thread they ran, the ended ones included.

    Each process's CPU-time clock (``clock_gettime`` on the clock id ``MAKE_PROCESS_CPUCLOCK(pid,
    CPUCLOCK_SCHED)``, Linux's include/linux/posix-timers.h: the scheduler's nanoseconds of the
    whole thread group, the threads that exited included); ``stat``'s utime+stime (10 ms ticks,
    ended threads included too) where that clock cannot be read. Summing the live threads'
    ``schedstat`` instead loses the share of every thread that ended in between: Django's ASGI
    handler runs each request's sync code on a thread of its own that ends with the request, so
    such a sum missed the view's work and could even go down (a -19 ms "rejection").
    """
    total = 0.0
    for pid in pids:
        try:
            total += time.clock_gettime((~pid << 3) | 2)  # CPUCLOCK_SCHED = 2
        except OSError:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK  # fields 14, 15 of proc(5)
    return total


def peak_rss(pid: int) -> int:
    """VmHWM (peak resident set size) of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for {pid}")
