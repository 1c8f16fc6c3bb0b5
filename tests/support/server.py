"""Real gunicorn processes for the end-to-end tests: start, wait until serving, stop by PID.

Each server binds 127.0.0.1:0 (the port is read from gunicorn's own log line), logs to a file the
tests can read, and is stopped with SIGTERM (then SIGKILL) of the PID this module started.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: ``manage.py`` of the test project (tests/settings.py), run from ROOT.
MANAGE = [sys.executable, "-m", "django"]
WORKERS = ("sync", "gthread", "gevent")
_LISTENING = re.compile(r"Listening at: https?://127\.0\.0\.1:(\d+)")


@dataclass
class Server:
    worker: str
    hook: bool
    log_path: Path
    env: dict[str, str]
    extra_args: list[str] = field(default_factory=list)
    #: The WSGI application and the directory it is served from (the demo's smoke test
    #: serves testproject/).
    app: str = "tests.wsgi:application"
    chdir: Path = ROOT
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self, timeout: float = 30.0) -> Server:
        args = [sys.executable, "-m", "gunicorn", "--chdir", str(self.chdir)]
        # Always name a config: gunicorn would otherwise load a ./gunicorn.conf.py.
        config = "django_expect.gunicorn" if self.hook else "tests.support.stock_gunicorn"
        args += ["-c", f"python:{config}"]
        args += [
            "--bind",
            "127.0.0.1:0",
            "--worker-class",
            self.worker,
            "--workers",
            "1",
            "--log-level",
            "debug",
            "--error-logfile",
            "-",
            "--graceful-timeout",
            "3",
        ]
        if self.worker == "gthread":
            args += ["--threads", "4"]
        args += [*self.extra_args, self.app]
        log = open(self.log_path, "wb")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.chdir
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log()}")
            match = _LISTENING.search(self.log())
            if match and "Booting worker" in self.log():
                self.port = int(match.group(1))
                tls = "--certfile" in self.extra_args
                if _accepts(self.address) and _warm_up(self.address, deadline, tls):
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gunicorn did not start within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        stop_process(self.process)

    def warm_up(self, requests: int = 1, tls_ca: str | None = None) -> None:
        """``requests`` rejected upload heads (a few reach every worker), so the first request of a
        test does not pay for the worker's lazy imports (the first rejection imports
        prometheus-client and starts the stats thread): on a loaded machine that first answer can
        take longer than curl's 1 s wait for a 100, and curl then sends its body, which the
        byte-counting tests would (rightly) see.
        Bounded by socket timeouts; the answer is not checked here."""
        for _ in range(requests):
            self._warm_up_once(tls_ca)

    def _warm_up_once(self, tls_ca: str | None) -> None:
        sock = socket.create_connection(self.address, timeout=30)
        if tls_ca is not None:
            import ssl

            sock = ssl.create_default_context(cafile=tls_ca).wrap_socket(
                sock, server_hostname="127.0.0.1")
        try:
            sock.sendall(
                b"PUT /objects/warm-up HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/octet-stream\r\nContent-Length: 20000000\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            received = b""
            while b"\r\n\r\n" not in received:  # the 413 (a stock server: its 100)
                data = sock.recv(65536)
                if not data:
                    break
                received += data
        except OSError:
            pass
        finally:
            sock.close()

    def worker_pids(self) -> list[int]:
        """PIDs of this arbiter's workers (children), read from /proc."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


# What a server's log shows when something went wrong: gunicorn's error log ("[ERROR]", worker
# timeouts, "[CRITICAL]") and Django's django.request errors (tests/settings.py LOGGING
# prints them as "[ERROR] django.request: Internal Server Error: ..." with the traceback).
ERROR_MARKERS = ("[ERROR]", "[CRITICAL]", "Traceback", "Internal Server Error", "WORKER TIMEOUT")


def error_lines(log: str) -> list[str]:
    """The lines of ``log`` that show an error (see ``ERROR_MARKERS``)."""
    return [line for line in log.splitlines() if any(m in line for m in ERROR_MARKERS)]


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Stop a process this suite started, by its PID: SIGTERM, then SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def _accepts(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def _warm_up(address: tuple[str, int], deadline: float, tls: bool = False) -> bool:
    """One GET / answered: the worker has imported the URLconf and every view module.

    Django imports the URLconf on the first request; with django-ninja, pydantic and DRF that
    takes a few tenths of a second, more on a loaded machine. Done here, it cannot eat into a
    test client's 1 s wait for ``100 Continue``.
    """
    try:
        with socket.create_connection(address, timeout=max(0.1, deadline - time.monotonic())) as s:
            conn = s
            if tls:  # the test's own certificate: nothing to verify here
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                conn = context.wrap_socket(s, server_hostname="127.0.0.1")
            conn.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
            return received.startswith(b"HTTP/1.")
    except OSError:  # ssl.SSLError is an OSError
        return False


def project_env(db_path: Path, media_root: Path, **extra: str) -> dict[str, str]:
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
    """Migrate a fresh database and create the test users and tokens (``testapp_setup``)."""
    for command in (["migrate", "-v0", "--noinput"], ["testapp_setup"]):
        subprocess.run(
            [*MANAGE, *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
