"""WSGI servers other than gunicorn, running the demo project for the end-to-end tests.

``manage.py runserver`` (django-expect's command, or Django's own as the control), waitress,
Apache with mod_wsgi (``mod_wsgi-express``) and uWSGI (``--http-socket`` and the ``--http``
router). Each binds 127.0.0.1 on a free port, logs to a file the tests can read, and is stopped
by the PID this module started (``stop_process``: SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from harness import tools
from harness.process import MANAGE, ROOT, Process, accepts

#: The servers this module starts, by name (the tests' parameter ids).
KINDS = (
    "runserver",  # django-expect's command
    "runserver-appended",  # django_expect listed after staticfiles: staticfiles' command
    "runserver-stock",  # Django's own (the control)
    "waitress",
    "mod_wsgi",  # embedded mode (mod_wsgi-express --embedded-mode), deploy/apache-expect.conf
    "mod_wsgi-no-conf",  # embedded mode without deploy/apache-expect.conf
    "mod_wsgi-daemon",  # daemon mode (mod_wsgi-express's default)
    "uwsgi-http-socket",  # the demo's wsgi.py: django_expect.uwsgi.lazy_continue
    "uwsgi-http11-socket",  # --http11-socket (keep-alive), lazy_continue too
    "uwsgi-http",  # the --http router in front of a worker, lazy_continue too
    "uwsgi-http-socket-plain",  # without lazy_continue (the control)
    "uwsgi-http-manage-expect",  # the router with --http-manage-expect (the control)
)
#: A virtualenv of Debian's Python for Apache: its daemon user (www-data) must be able to read
#: the interpreter, which a Python under /root (pyenv) is not.
APACHE_VENV = ROOT / ".venv-apache"
SYSTEM_PYTHON = "/usr/bin/python3"
#: Apache: close after a response to an Expect request (docs/howto/servers.md).
APACHE_EXPECT_CONF = ROOT / "deploy" / "apache-expect.conf"


@dataclass
class WSGIServer(Process):
    kind: str
    log_path: Path
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    extra_args: list[str] = field(default_factory=list)
    apache_dir: Path | None = None
    #: The WSGI module uWSGI serves (the bench's stock column serves it without lazy_continue).
    uwsgi_module: str = "tests.wsgi:application"

    @property
    def name(self) -> str:
        return self.kind

    def command(self) -> list[str]:
        bind = f"127.0.0.1:{self.port}"
        if self.kind in ("runserver", "runserver-appended"):
            return [*MANAGE, "runserver", "--noreload", bind]
        if self.kind == "runserver-stock":
            return [sys.executable, "-m", "harness.stock_runserver", bind]
        if self.kind == "waitress":
            tools.require_module("waitress", "waitress")
            return [
                sys.executable,
                "-m",
                "waitress",
                f"--listen={bind}",
                "--threads=4",
                "tests.wsgi:application",
            ]
        if self.kind.startswith("mod_wsgi"):
            return self._mod_wsgi()
        if self.kind.startswith("uwsgi"):
            return self._uwsgi()
        raise ValueError(self.kind)

    def _mod_wsgi(self) -> list[str]:
        tools.require("apache2", "apache2")
        tools.require("apxs", "apache2-dev")
        express = apache_venv() / "bin" / "mod_wsgi-express"
        assert self.apache_dir is not None  # made by start()
        root = self.apache_dir / "server"
        args = [
            str(express),
            "start-server",
            str(ROOT / "tests" / "wsgi.py"),
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
            "--limit-request-body",
            str(4 * 2**30),  # the policies decide, not Apache's LimitRequestBody
            "--log-to-terminal",
            "--python-path",
            str(ROOT),
        ]
        if self.kind == "mod_wsgi":
            args += ["--embedded-mode", "--include-file", str(APACHE_EXPECT_CONF)]
        if self.kind == "mod_wsgi-no-conf":
            args.append("--embedded-mode")
        if os.geteuid() == 0:
            # Apache refuses to serve as root; its children run as www-data, which must be
            # able to write the database, media and cache (copied to a directory it owns).
            args += ["--user", "www-data", "--group", "www-data"]
        return [*args, *self.extra_args]

    def _uwsgi(self) -> list[str]:
        binary = Path(sys.executable).with_name("uwsgi")
        if not binary.exists():
            tools.missing("uwsgi", "pip install uwsgi (builds with gcc and the Python headers)")
        mode = "--http-socket" if self.kind.startswith("uwsgi-http-socket") else "--http"
        if self.kind == "uwsgi-http11-socket":
            mode = "--http11-socket"
        module = self.uwsgi_module
        if self.kind == "uwsgi-http-socket-plain":
            module = "harness.plain_wsgi:application"
        if self.kind == "uwsgi-http-manage-expect":
            self.extra_args = ["--http-manage-expect", *self.extra_args]
        # uWSGI closes after every response in these modes; this says so (docs/howto/servers.md).
        says_close = ["--add-header", "Connection: close"] if mode != "--http11-socket" else []
        return [
            str(binary),
            mode,
            f"127.0.0.1:{self.port}",
            "--module",
            module,
            "--chdir",
            str(ROOT),
            "--master",
            "--processes",
            "1",
            "--threads",
            "4",
            "--die-on-term",
            "--need-app",
            "--lazy-apps",
            *says_close,
            *self.extra_args,
        ]

    def start(self, timeout: float = 60.0) -> WSGIServer:
        self.port = tools.free_port()
        if self.kind == "runserver-appended":
            # tests/settings.py: INSTALLED_APPS += ["django_expect"], as a user appends it.
            self.env = {**self.env, "DJANGO_EXPECT_TEST_APP_APPENDED": "1"}
        if self.kind.startswith("mod_wsgi"):
            # Apache's children must read the server root; under root they run as www-data.
            self.apache_dir = Path(tempfile.mkdtemp(prefix=f"django-expect-{self.kind}-"))
            self.apache_dir.chmod(0o755)
            if os.geteuid() == 0:
                self.env = _www_data_copy(self.env, self.apache_dir / "data")
        self.launch(self.command())
        self.wait_until(lambda _deadline: accepts(self.address) and self._ready(), timeout, 0.1)
        return self

    def _ready(self) -> bool:
        """Django answers a GET: it, its URLconf and the views are imported.

        Without this, the first request pays for those imports (0.5 s under mod_wsgi's embedded
        mode here), which can outlast a client's wait for the 100 (curl: 1 s).
        """
        if self.kind.startswith("uwsgi") and "WSGI app 0 (mountpoint='') ready" not in self.log():
            return False
        try:
            with urllib.request.urlopen(self.url + "/", timeout=30):
                return True
        except urllib.error.HTTPError:
            return True  # Django answered (the bench's URLconf has no "/")
        except OSError:
            return False

    def stop(self) -> None:
        super().stop()
        if self.apache_dir is not None:
            shutil.rmtree(self.apache_dir, ignore_errors=True)


def apache_venv() -> Path:
    """``.venv-apache``: Debian's Python with Django and mod_wsgi (built once, here)."""
    express = APACHE_VENV / "bin" / "mod_wsgi-express"
    if express.exists():
        return APACHE_VENV
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        tools.missing(SYSTEM_PYTHON, "Debian packages python3-venv python3-dev")
    steps = [
        [SYSTEM_PYTHON, "-m", "venv", str(APACHE_VENV)],
        # Built from source against Debian's libpython (a cached wheel may link another one).
        [
            str(APACHE_VENV / "bin" / "pip"),
            "install",
            "-q",
            "--no-cache-dir",
            "--no-binary",
            "mod_wsgi",
            "mod_wsgi",
            "Django>=5.2,<6",
        ],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, timeout=900)
        if done.returncode != 0:
            shutil.rmtree(APACHE_VENV, ignore_errors=True)
            raise RuntimeError(f"{step} failed:\n{done.stdout!r}\n{done.stderr!r}")
    return APACHE_VENV


def _www_data_copy(env: dict[str, str], directory: Path) -> dict[str, str]:
    """The project's database, media and cache in a directory owned by www-data."""
    shutil.rmtree(directory, ignore_errors=True)
    (directory / "media").mkdir(parents=True)
    (directory / "cache").mkdir()
    shutil.copy(env["TEST_DB"], directory / "db.sqlite3")
    env = dict(env)
    env.update(
        TEST_DB=str(directory / "db.sqlite3"),
        TEST_MEDIA_ROOT=str(directory / "media"),
        TEST_CACHE_DIR=str(directory / "cache"),
    )
    subprocess.run(["chown", "-R", "www-data:www-data", str(directory)], check=True)
    return env


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
