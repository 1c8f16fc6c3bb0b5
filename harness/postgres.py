"""A throw-away PostgreSQL server (Debian's ``postgresql``) for the tests, stopped by PID.

It listens on 127.0.0.1 (a free port) and on a unix socket in its own temp directory, trusts
local connections, and runs as ``nobody`` when the tests run as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.tools import free_port, require


class Postgres:
    def __init__(self) -> None:
        self.initdb = require("initdb", "postgresql")
        self.postgres = require("postgres", "postgresql")
        self.base = Path(tempfile.mkdtemp(prefix="django-expect-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.log_path = self.base / "postgres.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _as_user(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        nobody = pwd.getpwnam("nobody")
        for path in (self.base, self.sockets):
            path.mkdir(exist_ok=True)
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}

    def start(self, timeout: float = 60.0) -> Postgres:
        self.sockets.mkdir()
        self.base.chmod(0o755)
        user = self._as_user()
        subprocess.run(
            [
                self.initdb,
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self.base,
            **user,
        )
        log = open(self.log_path, "wb")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            [
                self.postgres,
                "-D",
                str(self.data),
                "-k",
                str(self.sockets),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.base,
            **user,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{self.log_path.read_text()}")
            try:
                self.execute("CREATE DATABASE demo")
                return self
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postgres did not start:\n{self.log_path.read_text()}")

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=2,
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    @property
    def env(self) -> dict[str, str]:
        """The test project's settings read these (see tests/settings.py)."""
        return {
            "TEST_PG_PORT": str(self.port),
            "TEST_PG_HOST": "127.0.0.1",
            "TEST_PG_NAME": "demo",
            "TEST_PG_USER": "postgres",
        }

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)
