"""``manage.py expect_policies --format nginx|haproxy`` loaded into the real proxies.

Each proxy gets the test project's export verbatim, passes its own config check (``nginx -t``,
``haproxy -c``), and then, in front of real gunicorn, answers 413 itself to an upload declared
over a route's limit (no byte reaches gunicorn) while an upload within the limit goes through.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.process import manage, stop_process
from harness.raw import Exchange
from harness.server import Server
from harness.tools import free_port, poll, require
from tests.fakes import upload_head

BODY = b"x" * 800  # /lab/small takes 1000 bytes


def export(env: dict[str, str], fmt: str, *extra: str) -> str:
    return manage(env, "expect_policies", "--format", fmt, *extra)


class Proxy:
    def __init__(self, args: list[str], log: Path, port: int) -> None:
        self.port = port
        self.log = log
        out = open(log, "wb")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        out.close()

        def listening() -> bool | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"{args[0]} exited:\n{log.read_text()}")
            try:
                Exchange(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return None

        assert poll(listening, timeout=20), log.read_text()

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def backend(server_pool: object) -> Server:
    return server_pool.get("gthread")  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def nginx(backend: Server, project_env_vars: dict[str, str], tmp_path: Path) -> Iterator[Proxy]:
    binary = require("nginx", "nginx-light")
    (tmp_path / "temp").mkdir()
    (tmp_path / "limits.conf").write_text(export(project_env_vars, "nginx"))
    port = free_port()
    temp = tmp_path / "temp"
    (tmp_path / "nginx.conf").write_text(f"""
daemon off;
master_process off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    upstream django {{ server 127.0.0.1:{backend.port}; }}
    proxy_set_header Host $host;  # as in any site proxying to Django (ALLOWED_HOSTS)
    server {{
        listen 127.0.0.1:{port};
        include {tmp_path}/limits.conf;
    }}
}}
""")
    base = [
        "-p",
        str(tmp_path),
        "-c",
        str(tmp_path / "nginx.conf"),
        "-e",
        str(tmp_path / "error.log"),
    ]
    check = subprocess.run([binary, "-t", *base], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr
    proxy = Proxy([binary, *base], tmp_path / "nginx.out", port)
    yield proxy
    proxy.stop()


@pytest.fixture
def haproxy(backend: Server, project_env_vars: dict[str, str], tmp_path: Path) -> Iterator[Proxy]:
    binary = require("haproxy", "haproxy")
    port = free_port()
    limits = export(project_env_vars, "haproxy")
    indented = "\n".join("    " + line for line in limits.splitlines())
    config = tmp_path / "haproxy.cfg"
    config.write_text(f"""
global
    maxconn 64
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend django_expect_test
    bind 127.0.0.1:{port}
{indented}
    default_backend gunicorn
backend gunicorn
    server app 127.0.0.1:{backend.port}
""")
    check = subprocess.run(
        [binary, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    proxy = Proxy([binary, "-db", "-f", str(config)], tmp_path / "haproxy.out", port)
    yield proxy
    proxy.stop()


def assert_proxy_rejects_over_the_limit(proxy: Proxy, backend: Server, signature: bytes) -> None:
    requests_before = backend.log().count("PUT /lab/small")
    with Exchange(("127.0.0.1", proxy.port)) as conn:
        conn.request_head("PUT", "/lab/small", upload_head(1001))
        interim, final = conn.read_final()
        assert interim == []  # no 100: the body is never invited
        assert final.status == 413
        assert signature in final.body  # the proxy's own page, not Django's JSON
    assert backend.log().count("PUT /lab/small") == requests_before  # never reached gunicorn


def assert_proxy_passes_within_the_limit(proxy: Proxy) -> None:
    with Exchange(("127.0.0.1", proxy.port)) as conn:
        conn.request_head("PUT", "/lab/small", upload_head(len(BODY)))
        first = conn.read_response()
        assert first.status == 100
        conn.send_body(BODY)
        _, final = conn.read_final()
        assert final.status == 200, final.body
        assert final.json()["sha256"] == hashlib.sha256(BODY).hexdigest()


def test_nginx_loads_the_export_and_answers_413_over_a_route_limit(
    nginx: Proxy, backend: Server
) -> None:
    assert_proxy_rejects_over_the_limit(nginx, backend, b"413 Request Entity Too Large")
    assert_proxy_passes_within_the_limit(nginx)
    # A route with a bigger limit takes the same size.
    with Exchange(("127.0.0.1", nginx.port)) as conn:
        conn.request_head("PUT", "/lab/echo", upload_head(1001))
        assert conn.read_response().status == 100


def test_haproxy_loads_the_export_and_answers_413_over_a_route_limit(
    haproxy: Proxy, backend: Server
) -> None:
    assert_proxy_rejects_over_the_limit(haproxy, backend, b"<h1>413 Payload Too Large</h1>")
    assert_proxy_passes_within_the_limit(haproxy)
    with Exchange(("127.0.0.1", haproxy.port)) as conn:
        conn.request_head("PUT", "/lab/echo", upload_head(1001))
        assert conn.read_response().status == 100
