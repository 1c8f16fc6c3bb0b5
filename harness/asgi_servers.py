"""Real ASGI servers serving the test project (``harness.process.Process``: start, wait until
serving, stop by PID).

``LAZY`` are the servers that send ``100 Continue`` only when the application first calls
``receive()`` (django-expect's handler can decide before it); ``EAGER`` send it (or read the
body) before the application runs. Each server binds a free port on 127.0.0.1, logs to a file,
and is stopped with SIGTERM (then SIGKILL) of the PID this module started.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.process import Process, accepts
from harness.raw import Exchange
from harness.tools import free_port, require_module

LAZY = ("uvicorn-h11", "uvicorn-httptools", "gunicorn-asgi", "granian")
EAGER = ("hypercorn", "daphne")

#: The test project's asgi.py (django_expect.asgi) and Django's own handler, for controls.
EXPECT_APP = "tests.asgi:application"
STOCK_APP = "tests.asgi_stock:application"

_MODULES = {
    "uvicorn-h11": ("uvicorn", "uvicorn"),
    "uvicorn-httptools": ("httptools", "uvicorn[standard]"),
    "gunicorn-asgi": ("gunicorn", "gunicorn>=27"),
    "granian": ("granian", "granian"),
    "hypercorn": ("hypercorn", "hypercorn"),
    "daphne": ("daphne", "daphne"),
}


def require_server(kind: str) -> None:
    """Skip (fail under DJANGO_EXPECT_REQUIRE_ALL=1) when the server's package is missing."""
    module, pip_name = _MODULES[kind]
    require_module(module, pip_name)


def _command(kind: str, app: str, port: int) -> list[str]:
    py = sys.executable
    bind = ["--host", "127.0.0.1", "--port", str(port)]
    if kind.startswith("uvicorn-"):
        http = kind.removeprefix("uvicorn-")
        return [py, "-m", "uvicorn", *bind, "--http", http, "--lifespan", "auto", app]
    if kind == "gunicorn-asgi":
        return [
            py, "-m", "gunicorn", "-c", "python:harness.stock_gunicorn",
            "--worker-class", "asgi", "--workers", "1", "--bind", f"127.0.0.1:{port}",
            "--graceful-timeout", "3", "--error-logfile", "-", app,
        ]  # fmt: skip
    if kind == "granian":
        return [
            py, "-m", "granian", "--interface", "asgi", "--workers", "1", "--no-ws",
            *bind, app,
        ]  # fmt: skip
    if kind == "hypercorn":
        return [py, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", app]
    if kind == "daphne":
        return [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]
    raise ValueError(kind)


@dataclass
class ASGIServer(Process):
    kind: str
    app: str
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def name(self) -> str:
        return self.kind

    def start(self, timeout: float = 30.0) -> ASGIServer:
        self.port = free_port()
        self.launch(_command(self.kind, self.app, self.port))
        self.wait_until(self._serving, timeout)
        return self

    def _serving(self, deadline: float) -> bool:
        if not accepts(self.address):
            return False
        self._warm_up()
        return True

    def _warm_up(self) -> None:
        """One request through URL resolution, a view and a rejection before any test (Django
        imports the URLconf and views on first use; a client waits only 1 s for the 100)."""
        with Exchange(self.address, timeout=30) as conn:
            conn.request_head("GET", "/lab/small")
            conn.read_final()
        with Exchange(self.address, timeout=30) as conn:
            conn.request_head("POST", "/lab/small", {"Content-Length": "5000"})
            conn.send_body(b"x" * 5000)  # Django's own handler reads it all first
            conn.read_final()


class ASGIServerPool:
    """Starts each (server, app) once per session and stops them all at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.servers: dict[tuple[str, str], ASGIServer] = {}

    def get(self, kind: str, app: str = EXPECT_APP) -> ASGIServer:
        require_server(kind)
        key = (kind, app)
        if key not in self.servers:
            name = f"{kind}-{'expect' if app == EXPECT_APP else 'stock'}.log"
            self.servers[key] = ASGIServer(kind, app, self.logs / name, self.env).start()
        return self.servers[key]

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()
