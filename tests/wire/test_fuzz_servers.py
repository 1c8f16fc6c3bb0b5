"""The raw-socket fuzzer (harness/fuzz.py, smuggling cases included) on every server adapter.

``tests/wire/test_fuzz.py`` runs it on gunicorn's sync, gthread and gevent workers; this runs a
small seeded slice on the other servers django-expect adapts to: uvicorn and ``gunicorn -k
asgi`` and granian with ``django_expect.asgi``, django-expect's runserver, waitress and uWSGI.
The invariants are the same (``fuzz.check``); what a server may do that gunicorn + django-expect
does not is its ``Profile`` below (``make stress`` runs 100,000 exchanges per server:
stress/fuzz_servers.py). Many malformed framings are answered by the server itself before the
application runs (h11, waitress, uWSGI's parser); the invariant is the same for every answer:
once, precisely, and nothing after it read as a request.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import fuzz
from harness.asgi_servers import ASGIServerPool, require_server
from harness.wsgi_servers import WSGIServerPool

pytestmark = pytest.mark.e2e

FUZZ_SEED = 24
FUZZ_SLICE = 300

PROFILES = fuzz.SERVER_PROFILES  # what each server may do beyond gunicorn + django-expect
ASGI = fuzz.ASGI_KINDS


@pytest.fixture(scope="module")
def wsgi_pool(
    project_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WSGIServerPool]:
    pool = WSGIServerPool(project_env_vars, tmp_path_factory.mktemp("fuzz-wsgi"))
    yield pool
    pool.stop_all()


#: Violations the slice finds that are the server's own, not the package's (issue 24's triage,
#: replayed seed by seed: ``fuzz.run_one(address, fuzz.generate("24:N"), profile=...)``). Each
#: is a strict xfail: the day a server passes, its row must go.
FOUND = {
    "gunicorn-asgi": "answers a pipelined request after a final status with Connection: close "
    "(e.g. seed 24:26): gunicorn -k asgi's keep-alive decision (_will_close) ignores the "
    "application's Connection: close (docs/howto/asgi.md)",
    "waitress": "waitress 3.0.2 never answers a request that carries Expect: 100-continue and "
    "no body (Content-Length: 0 or absent) or a head it refuses (invalid or repeated "
    "Content-Length), e.g. 24:0, 24:6, 24:18: the parser marks the request complete, then "
    "HTTPChannel.received() sends the 100 and send_continue() sets request.completed = False, "
    "so the request is never queued (docs/howto/servers.md)",
    "uwsgi-http11-socket": "uWSGI 2.0.31 writes the request's protocol string verbatim as its "
    "status line's version (24:89: 'HTTPZ1.1 400'; 24:42: a head with bare-LF line ends is "
    "echoed back whole as the version; docs/howto/servers.md)",
}


def _param(kind: str) -> object:
    if kind in FOUND:
        return pytest.param(kind, marks=pytest.mark.xfail(reason=FOUND[kind], strict=True))
    return kind


@pytest.mark.parametrize("kind", [_param(kind) for kind in PROFILES])
def test_seeded_fuzz_slice_on_every_server(
    kind: str, asgi_pool: ASGIServerPool, wsgi_pool: WSGIServerPool
) -> None:
    if kind in ASGI:
        require_server(kind)
        address = asgi_pool.get(kind).address
    else:
        address = wsgi_pool.get(kind).address
    report = fuzz.run(address, FUZZ_SEED, FUZZ_SLICE, concurrency=4, profile=PROFILES[kind])
    assert report.exchanges == FUZZ_SLICE
    assert report.violations == [], report.violations[:10]
    assert report.statuses[200] > 0


def test_every_smuggling_case_is_generated() -> None:
    """The slice above reaches the smuggling framings (so a server that reads the tail of a
    refused body as a second request is seen): every one occurs in the first 5,000 seeds."""
    seen = set()
    for index in range(5000):
        for request in fuzz.generate(f"{FUZZ_SEED}:{index}").requests:
            head = request.wire[: request.head_len]
            if b"\r\n" not in head:
                seen.add("bare-lf")
            if b"x=" + b"a" * 100 in request.wire:
                seen.add("chunk-ext-long")
            if b"xchunked" in head:
                seen.add("te-xchunked")
            if b"CHUNKED" in head:
                seen.add("te-upper")
    assert {"bare-lf", "chunk-ext-long", "te-xchunked", "te-upper"} <= seen
