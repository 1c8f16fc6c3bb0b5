"""Open file descriptors of gunicorn workers, read from /proc/<pid>/fd.

Client connections are sockets; the listener, the arbiter pipe and SQLite files are steady. A
worker that leaks shows more sockets once every client has gone, so the tests compare socket
counts at quiescence (after the server's own bounded lingering close has finished).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from harness.server import Server


def descriptors(pid: int) -> list[str]:
    """What each open descriptor of ``pid`` points at (``socket:[...]``, a path, a pipe)."""
    targets = []
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed while listing
            targets.append(os.readlink(entry))
    return targets


def socket_count(server: Server) -> int:
    return sum(
        target.startswith("socket:") for pid in server.worker_pids() for target in descriptors(pid)
    )


def fd_count(server: Server) -> int:
    return sum(len(descriptors(pid)) for pid in server.worker_pids())


def quiescent_sockets(server: Server, settle: float = 8.0) -> int:
    """The workers' socket count once only listeners remain, or after ``settle`` seconds.

    An idle worker of any class holds exactly one socket per listener (measured: sync, gthread
    and gevent all hold 1 with one bind); closes and lingering closes finish within seconds.
    """
    idle = len(server.worker_pids())
    deadline = time.monotonic() + settle
    count = socket_count(server)
    while count > idle and time.monotonic() < deadline:
        time.sleep(0.1)
        count = socket_count(server)
    return count


def descriptors_of(server: Server) -> list[str]:
    """Every worker descriptor's target (for assertion messages)."""
    return [target for pid in server.worker_pids() for target in descriptors(pid)]


def quiescent_fds(server: Server, target: int, settle: float = 8.0) -> int:
    """The workers' descriptor count once it is at most ``target``, or after ``settle`` seconds
    (a bound on the server's own closes, not a figure: only a leak or a hang reaches it)."""
    deadline = time.monotonic() + settle
    count = fd_count(server)
    while count > target and time.monotonic() < deadline:
        time.sleep(0.1)
        count = fd_count(server)
    return count


#: SQLite's files: a thread's database connection stays open by design (the stats thread's,
#: and each gthread thread's between requests), so the database is not a leaked file.
_DATABASE_SUFFIXES = (".sqlite3", ".sqlite3-journal", ".sqlite3-wal", ".sqlite3-shm")


def file_count(server: Server) -> int:
    """Open regular files of the workers (uploads, media; not the database, sockets, pipes or
    /dev): a view or a rejection that leaks one shows up here."""
    return sum(
        target.startswith("/")
        and not target.startswith("/dev/")
        and not target.endswith(_DATABASE_SUFFIXES)
        for pid in server.worker_pids()
        for target in descriptors(pid)
    )


def quiescent_files(server: Server, target: int, settle: float = 8.0) -> int:
    """The workers' open-file count once it is at most ``target``, or after ``settle`` seconds
    (a bound on the server's own closes: only a leak or a hang reaches it)."""
    deadline = time.monotonic() + settle
    count = file_count(server)
    while count > target and time.monotonic() < deadline:
        time.sleep(0.1)
        count = file_count(server)
    return count
