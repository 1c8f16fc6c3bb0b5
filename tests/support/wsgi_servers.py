"""WSGI servers other than gunicorn, running the demo project for the end-to-end tests.

``manage.py runserver`` (django-expect's command, or Django's own as the control), waitress,
Apache with mod_wsgi (``mod_wsgi-express``) and uWSGI (``--http-socket`` and the ``--http``
router). Each binds 127.0.0.1 on a free port, logs to a file the tests can read, and is stopped
by the PID this module started (``stop_process``: SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import tools
from tests.support.server import PROJECT, _accepts, stop_process

#: The servers this module starts, by name (the tests' parameter ids).
KINDS = (
    "runserver",
    "runserver-stock",
    "waitress",
    "mod_wsgi",
    "uwsgi-http-socket",
    "uwsgi-http",
)


@dataclass
class WSGIServer:
    kind: str
    log_path: Path
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    extra_args: list[str] = field(default_factory=list)

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def command(self) -> list[str]:
        bind = f"127.0.0.1:{self.port}"
        if self.kind == "runserver":
            return [sys.executable, "manage.py", "runserver", "--noreload", bind]
        if self.kind == "runserver-stock":
            return [sys.executable, "-m", "tests.support.stock_runserver", bind]
        if self.kind == "waitress":
            tools.require_module("waitress", "waitress")
            return [
                sys.executable,
                "-m",
                "waitress",
                f"--listen={bind}",
                "--threads=4",
                "testproject.wsgi:application",
            ]
        if self.kind == "mod_wsgi":
            return self._mod_wsgi()
        if self.kind.startswith("uwsgi"):
            return self._uwsgi()
        raise ValueError(self.kind)

    def _mod_wsgi(self) -> list[str]:
        tools.require("apache2", "apache2")
        tools.require("apxs", "apache2-dev")
        express = Path(sys.executable).with_name("mod_wsgi-express")
        if not express.exists():
            tools.missing("mod_wsgi-express", "pip install mod_wsgi (needs apache2-dev)")
        root = self.workdir / "mod_wsgi"
        shutil.rmtree(root, ignore_errors=True)
        return [
            str(express),
            "start-server",
            str(PROJECT / "testproject" / "wsgi.py"),
            "--server-root",
            str(root),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--processes",
            "1",
            "--threads",
            "4",
            "--log-to-terminal",
            "--python-path",
            str(PROJECT),
            "--python-path",
            str(PROJECT.parent),
            *self.extra_args,
        ]

    def _uwsgi(self) -> list[str]:
        binary = Path(sys.executable).with_name("uwsgi")
        if not binary.exists():
            tools.missing("uwsgi", "pip install uwsgi (builds with gcc and the Python headers)")
        mode = "--http-socket" if self.kind == "uwsgi-http-socket" else "--http"
        return [
            str(binary),
            mode,
            f"127.0.0.1:{self.port}",
            "--module",
            "testproject.wsgi:application",
            "--chdir",
            str(PROJECT),
            "--master",
            "--processes",
            "1",
            "--threads",
            "4",
            "--die-on-term",
            "--need-app",
            "--lazy-apps",
            *self.extra_args,
        ]

    def start(self, timeout: float = 60.0) -> WSGIServer:
        self.port = tools.free_port()
        args = self.command()
        log = open(self.log_path, "wb")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=PROJECT
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early:\n{self.log()}")
            if _accepts(self.address) and self._ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} did not start within {timeout}s:\n{self.log()}")

    def _ready(self) -> bool:
        """The port accepts connections and (for routers) the application is loaded."""
        if self.kind.startswith("uwsgi"):
            return "WSGI app 0 (mountpoint='') ready" in self.log()
        return True

    def stop(self) -> None:
        stop_process(self.process)


class WSGIServerPool:
    """Starts each kind once per session and stops them all at the end."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.servers: dict[str, WSGIServer] = {}

    def get(self, kind: str) -> WSGIServer:
        if kind not in self.servers:
            server = WSGIServer(kind, self.workdir / f"{kind}.log", self.env, self.workdir)
            self.servers[kind] = server.start()
        return self.servers[kind]

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()
