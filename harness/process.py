"""Server processes the tests, bench/ and stress/ start: launch with a log file, wait until
serving, stop by PID.

``Process`` is the one launcher: ``launch()`` starts the command with its output in
``log_path``; ``wait_until(ready)`` polls until ``ready()`` answers true, failing with the log when
the process exits early or the timeout passes; ``stop()`` sends SIGTERM to the PID it started,
then SIGKILL if it lingers. The gunicorn, ASGI and other WSGI launchers (``harness.server``,
``harness.asgi_servers``, ``harness.wsgi_servers``) are subclasses that add their command and
their readiness test. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: ``manage.py`` of the test project (tests/settings.py), run from ROOT.
MANAGE = [sys.executable, "-m", "django"]


class Process:
    """One server process: its log file, its environment, the port it serves on.

    A base for dataclasses, which declare these attributes as fields in their own order.
    """

    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def launch(self, args: list[str], cwd: Path = ROOT) -> None:
        """Start ``args`` with stdout and stderr in ``log_path``."""
        log = open(self.log_path, "wb")  # noqa: SIM115 - owned by the child process
        try:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=cwd
            )
        finally:
            log.close()

    def wait_until(
        self, ready: Callable[[float], bool], timeout: float, interval: float = 0.05
    ) -> None:
        """Poll ``ready(deadline)`` until it answers true; stop the process and raise with its log
        if it exits first, ``ready`` raises, or ``timeout`` seconds pass."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            try:
                if ready(deadline):
                    return
            except BaseException:
                self.stop()
                raise
            time.sleep(interval)
        self.stop()
        raise RuntimeError(f"{self.name} did not start within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Stop a process this harness started, by its PID: SIGTERM, then SIGKILL if it lingers;
    then any of its descendants that outlived it, by theirs (hypercorn's worker, started with
    multiprocessing's spawn, stays behind when its parent is stopped)."""
    if process is None or process.poll() is not None:
        return
    descendants = _descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
    for pid in descendants:
        _stop_pid(pid, timeout)


def _descendants(pid: int) -> list[int]:
    """The PIDs of ``pid``'s children, their children and so on (Linux's /proc)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as children:
                    kids = [int(child) for child in children.read().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def _stop_pid(pid: int, timeout: float) -> None:
    """SIGTERM ``pid`` if it still runs, SIGKILL if it is still there after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def accepts(address: tuple[str, int]) -> bool:
    """True when something accepts a TCP connection at ``address``."""
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


# What a server's log shows when something went wrong: gunicorn's error log ("[ERROR]", worker
# timeouts, "[CRITICAL]") and Django's django.request errors (tests/settings.py LOGGING prints
# them as "[ERROR] django.request: Internal Server Error: ..." with the traceback).
ERROR_MARKERS = ("[ERROR]", "[CRITICAL]", "Traceback", "Internal Server Error", "WORKER TIMEOUT")


def error_lines(log: str) -> list[str]:
    """The lines of ``log`` that show an error (see ``ERROR_MARKERS``)."""
    return [line for line in log.splitlines() if any(m in line for m in ERROR_MARKERS)]


def project_env(db_path: Path, media_root: Path, **extra: str) -> dict[str, str]:
    """The environment of a process serving the test project (tests/settings.py)."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_DB=str(db_path),
        TEST_MEDIA_ROOT=str(media_root),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def prepare_database(env: dict[str, str]) -> None:
    """Migrate a fresh database and create the users and tokens the tests log in with (the demo's
    ``demo_setup``: ``demo`` / ``demo``, superuser, token ``demo-token``; ``plain``, no
    permissions, token ``plain-token``)."""
    manage(env, "migrate", "-v0", "--noinput")
    manage(env, "demo_setup")


def manage(env: dict[str, str], *command: str, timeout: float = 120) -> str:
    """Run a management command of the project ``env`` names in another process, as another host
    would; its output (a failure raises ``CalledProcessError``)."""
    return subprocess.run(
        [*MANAGE, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    ).stdout
