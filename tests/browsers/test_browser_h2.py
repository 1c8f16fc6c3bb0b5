"""Browsers over HTTP/2 (docs/howto/browsers-http2.md): the 413 page after one flow-control
window.

Chromium and Firefox ESR submit a 10 MB and a 300 MB file through the demo's script-free
``/upload/plain`` form to ``/upload/form`` (5 MB
limit) over TLS with HTTP/2 (self-signed trustme certificates, accepted by the browsers here),
through a relay at 20 Mbit/s and 20 ms each way, in front of:

* gunicorn 27 itself (``--http-protocols h2,h1``, gthread, the hooks on): the application refuses
  from the head, gunicorn answers on the stream and resets only that stream;
* HAProxy, Caddy, and nginx with django-expect's precheck (deploy/haproxy-h2.cfg, Caddyfile-h2,
  nginx-h2.conf) terminating TLS and HTTP/2 in front of gunicorn (HTTP/1.1, the hooks on, and
  ``EXPECT_DRAIN_SECONDS = 0`` as the docs recommend behind such a proxy: with the default,
  HAProxy was seen forwarding the whole 10 MB while gunicorn drained it).

Asserted: HTTP/2 was negotiated, the browser shows the 413 page, and the client's bytes on the
wire (TLS: handshake, page load and upload together) stay far below the file. The bound is
generous (2 MB: a flow-control window is 64 KiB to 1 MiB depending on the front; see the docs for
the measured figures). No timing assertions.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.drain_browsers import BROWSERS
from harness.relay import Relay
from harness.server import Server
from tests.clients import tools
from tests.clients.proxies import Proxy
from tests.clients.test_tls import tls_files

__all__ = ["tls_files"]  # fixtures

MB = 1_000_000
RATE = 2_500_000
DELAY = 0.020
#: What a refused upload may put on the wire per front: one HTTP/2 flow-control window of body
#: (the front's initial stream window) plus the TLS handshake and the form page's load (~10 kB).
#: gunicorn 27 and nginx (the precheck answers before nginx reads the body) open 64 KiB; HAProxy
#: 2.6 opens 64 KiB but refills it while it forwards the body to gunicorn until the 413 arrives
#: (69-202 kB seen); Caddy (Go) opens 1 MiB and refills as it proxies (0.82-1.10 MB seen).
WIRE_BOUND = {
    "gunicorn": 128_000,
    "nginx-h2": 128_000,
    "haproxy-h2": 1 * MB,
    "caddy-h2": 2 * MB,
}
FRONTS = ["gunicorn", "haproxy-h2", "caddy-h2", "nginx-h2"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Path]]:
    directory = tmp_path_factory.mktemp("h2-files")
    made = {}
    for size in (10 * MB, 300 * MB):
        made[size] = directory / f"upload-{size // MB}MB.bin"
        with open(made[size], "wb") as f:
            f.truncate(size)
    yield made
    for path in made.values():
        path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def fronts(
    project_env_vars: dict[str, str],
    tls_files: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[str, int]]]:
    """Each front's address, started on first use and stopped at the end of the module."""
    tools.python_module("h2", "pip install 'gunicorn[http2]'")
    base = tmp_path_factory.mktemp("h2-fronts")
    certs = base / "certs"
    certs.mkdir()
    shutil.copy(tls_files["cert"], certs / "cert.pem")
    shutil.copy(tls_files["key"], certs / "key.pem")
    (certs / "combined.pem").write_text(
        Path(tls_files["cert"]).read_text() + Path(tls_files["key"]).read_text()
    )
    stops: list[Server | Proxy] = []

    class Lazy(dict[str, tuple[str, int]]):
        def __missing__(self, front: str) -> tuple[str, int]:
            if front == "gunicorn":
                args = ["--certfile", tls_files["cert"], "--keyfile", tls_files["key"]]
                args += ["--http-protocols", "h2,h1"]
                server = Server(
                    "gthread", True, base / "gunicorn-h2.log", project_env_vars, extra_args=args
                ).start()
                stops.append(server)
                self[front] = server.address
            else:
                if "upstream" not in self:
                    # The recipe: behind an HTTP/2-terminating proxy, no drain (the proxy ends
                    # the browser's stream itself once gunicorn closes; a drain would only make
                    # the proxy forward the rest of the body).
                    env = dict(project_env_vars, TEST_DRAIN_SECONDS="0")
                    upstream = Server("gthread", True, base / "upstream.log", env).start()
                    stops.append(upstream)
                    self["upstream"] = upstream.address
                proxy = Proxy(front, self["upstream"], base / front, cert_dir=certs).start()
                stops.append(proxy)
                self[front] = proxy.address
            return self[front]

    yield Lazy()
    for process in stops:
        process.stop()


@pytest.mark.parametrize("size", [10 * MB, 300 * MB], ids=["10MB", "300MB"])
@pytest.mark.parametrize("browser", ["chromium", "firefox"])
@pytest.mark.parametrize("front", FRONTS)
def test_browser_over_h2_shows_the_413_page_after_far_less_than_the_file(
    fronts: dict[str, tuple[str, int]], files: dict[int, Path], front: str, browser: str, size: int
) -> None:
    with Relay(fronts[front], delay=DELAY, rate=RATE) as relay:
        url = f"https://127.0.0.1:{relay.address[1]}/upload/plain"
        shown = BROWSERS[browser]("form", url, files[size], ignore_https_errors=True)
        relay.wait_quiet()  # counted once the browser has stopped sending
        sent = relay.from_client()
    print(
        f"h2 {front} {browser} {size // MB} MB: {shown.outcome} {shown.status} "
        f"{shown.protocol} {shown.seconds:.2f} s, client bytes on the wire {sent}"
    )
    assert shown.protocol == "h2", shown
    assert shown.shows_413, shown
    assert sent < WIRE_BOUND[front], (shown, sent)
