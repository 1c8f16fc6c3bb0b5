"""Reverse proxies started by the tests from the configs in deploy/, stopped by PID.

Each config names the proxy's listen address as 127.0.0.1:8080 and gunicorn as 127.0.0.1:8000;
the tests substitute free ports, so what is tested is exactly what deploy/ documents.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.process import stop_process
from tests.clients import tools

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
LISTEN, UPSTREAM = "127.0.0.1:8080", "127.0.0.1:8000"
#: Where the TLS configs (haproxy-h2.cfg, Caddyfile-h2, nginx-h2.conf) name their certificates.
CERT_DIR = "/etc/ssl/django-expect/"

NGINX_MAIN = """\
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proxy:
    kind: str  # haproxy, haproxy-buffered, nginx, caddy; -h2: TLS + HTTP/2 (needs cert_dir)
    upstream: tuple[str, int]
    tmp: Path
    cert_dir: Path | None = None  # cert.pem, key.pem and combined.pem (chain + key, HAProxy)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def _render(self, name: str) -> str:
        text = (DEPLOY / name).read_text()
        if self.cert_dir is not None:
            text = text.replace(CERT_DIR, f"{self.cert_dir}/")
        return text.replace(LISTEN, f"127.0.0.1:{self.port}").replace(
            UPSTREAM, f"{self.upstream[0]}:{self.upstream[1]}"
        )

    def _argv(self) -> tuple[list[str], dict[str, str] | None]:
        if self.kind.startswith("haproxy"):
            haproxy = tools.executable("haproxy", "apt-get install haproxy", "/usr/sbin")
            config = self.tmp / "haproxy.cfg"
            config.write_text(self._render(f"{self.kind}.cfg"))
            return [haproxy, "-db", "-f", str(config)], None
        if self.kind in ("nginx", "nginx-h2"):
            nginx = tools.executable("nginx", "apt-get install nginx", "/usr/sbin")
            site = "nginx-h2.conf" if self.kind == "nginx-h2" else "nginx-django-expect.conf"
            (self.tmp / "site.conf").write_text(self._render(site))
            (self.tmp / "nginx.conf").write_text(NGINX_MAIN.format(tmp=self.tmp))
            return [nginx, "-p", str(self.tmp), "-c", str(self.tmp / "nginx.conf")], None
        if self.kind in ("caddy", "caddy-h2"):
            caddy = tools.executable("caddy", "apt-get install caddy")
            config = self.tmp / "Caddyfile"
            name = "Caddyfile-h2" if self.kind == "caddy-h2" else "Caddyfile"
            config.write_text(self._render(name))
            env = {
                "HOME": str(self.tmp),
                "XDG_DATA_HOME": str(self.tmp / "data"),
                "XDG_CONFIG_HOME": str(self.tmp / "config"),
                "PATH": "/usr/bin:/bin",
            }
            return [caddy, "run", "--config", str(config), "--adapter", "caddyfile"], env
        raise ValueError(self.kind)

    def start(self, timeout: float = 20.0) -> Proxy:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        argv, env = self._argv()
        self.log_path = self.tmp / "proxy.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {self.log()}")
            try:
                with socket.create_connection(self.address, timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} did not listen within {timeout}s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
