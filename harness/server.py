"""Real gunicorn processes for the end-to-end tests and bench/: start, wait until serving, stop.

Each server binds 127.0.0.1:0 (the port is read from gunicorn's own log line), logs to a file the
tests can read, and is stopped with SIGTERM (then SIGKILL) of the PID it started
(``harness.process.Process``).
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.process import ROOT, Process, accepts

WORKERS = ("sync", "gthread", "gevent")
_LISTENING = re.compile(r"Listening at: https?://127\.0\.0\.1:(\d+)")


@dataclass
class Server(Process):
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
    def name(self) -> str:
        return "gunicorn"

    def start(self, timeout: float = 30.0) -> Server:
        args = [sys.executable, "-m", "gunicorn", "--chdir", str(self.chdir)]
        # Always name a config: gunicorn would otherwise load a ./gunicorn.conf.py.
        config = "django_expect.gunicorn" if self.hook else "harness.stock_gunicorn"
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
        self.launch(args, cwd=self.chdir)
        self.wait_until(self._serving, timeout)
        return self

    def _serving(self, deadline: float) -> bool:
        log = self.log()
        match = _LISTENING.search(log)
        if not (match and "Booting worker" in log):
            return False
        self.port = int(match.group(1))
        tls = "--certfile" in self.extra_args
        return accepts(self.address) and _warm_up(self.address, deadline, tls)

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
                sock, server_hostname="127.0.0.1"
            )
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
