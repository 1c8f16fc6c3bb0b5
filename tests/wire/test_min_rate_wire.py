"""The minimum body data rate on the wire, on every adapter that reads the body.

/lab/slow (tests/testapp/views.py) has ``body_timeout=1, min_rate=100, min_rate_grace=0.5``. A
client sends 20 bytes (buying 0.2 s), then one byte every 0.6 s: inside the 1 s idle timeout,
so ``body_timeout`` alone would let it hold the worker for as long as it likes. The rate cuts it
at ``grace + received / rate`` (about 0.7 s): 408 ``body_too_slow`` with ``Connection: close``,
then the server closes. The loop is bounded (at most 30 bytes, 18 s); a sleep here only
*creates* the trickle, and the assertions are on the status, the document and the close.
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Iterator

import pytest

from harness.asgi_servers import ASGIServerPool, require_server
from harness.raw import Exchange
from harness.server import Server
from harness.wsgi_servers import WSGIServerPool
from tests.fakes import upload_head

pytestmark = pytest.mark.e2e

DECLARED = 10_240
MAX_TRICKLE = 30  # bytes; at 0.6 s each far past grace + received / rate


@pytest.fixture(scope="module")
def wsgi_pool(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WSGIServerPool]:
    pool = WSGIServerPool(project_env_vars, tmp_path_factory.mktemp("min-rate-wsgi"))
    yield pool
    pool.stop_all()


def _trickle_is_cut(address: tuple[str, int], *, expect: bool) -> None:
    with Exchange(address, timeout=30) as conn:
        conn.request_head("POST", "/lab/slow", upload_head(DECLARED, expect=expect))
        if expect:
            assert conn.read_response(timeout=10).status == 100
        conn.send_body(b"x" * 20)
        sent = 20
        for _ in range(MAX_TRICKLE):
            if select.select([conn.sock], [], [], 0.6)[0]:
                break  # the server answered (or closed)
            try:
                conn.send_body(b"y")
            except OSError:
                break
            sent += 1
        else:
            pytest.fail(f"still reading after a {sent}-byte trickle: the rate was not enforced")
        _, final = conn.read_final(timeout=10)
        assert final.status == 408
        assert final.json()["error"]["code"] == "body_too_slow"
        assert final.header("Connection") == "close"
        with contextlib.suppress(OSError):
            conn.send_body(b"z")  # nothing more is read as a request
        assert conn.closed_by_server()
        assert sent < DECLARED


@pytest.mark.parametrize("expect", [True, False])
def test_gunicorn_cuts_a_trickle_at_the_rate(server: Server, expect: bool) -> None:
    _trickle_is_cut(server.address, expect=expect)


@pytest.mark.parametrize("kind", ["uvicorn-h11", "gunicorn-asgi", "granian"])
def test_asgi_cuts_a_trickle_at_the_rate(asgi_pool: ASGIServerPool, kind: str) -> None:
    require_server(kind)
    _trickle_is_cut(asgi_pool.get(kind).address, expect=True)


UWSGI_LIMIT = pytest.mark.xfail(
    strict=True,
    reason="uWSGI's wsgi.input.read(n) loops in C until n bytes, each receive bounded only by "
    "--socket-timeout: the rate is checked between reads (docs/reference/settings.md)",
)


@pytest.mark.parametrize(
    "kind",
    [
        "runserver",
        pytest.param("uwsgi-http-socket", marks=UWSGI_LIMIT),
        pytest.param("uwsgi-http11-socket", marks=UWSGI_LIMIT),
    ],
)
def test_wsgi_servers_cut_a_trickle_at_the_rate(wsgi_pool: WSGIServerPool, kind: str) -> None:
    _trickle_is_cut(wsgi_pool.get(kind).address, expect=True)


def test_a_body_at_the_rate_is_whole(server: Server) -> None:
    """The control: the same view takes a body sent at once."""
    with Exchange(server.address, timeout=30) as conn:
        conn.request_head("POST", "/lab/slow", upload_head(DECLARED))
        assert conn.read_response(timeout=10).status == 100
        started = time.monotonic()
        conn.send_body(b"x" * DECLARED)
        _, final = conn.read_final(timeout=10)
        assert final.status == 200, (final.status, time.monotonic() - started)
        assert final.json()["size"] == DECLARED
