"""In-process cost of django-expect per request: the gunicorn hooks + ExpectMiddleware, no sockets.

    python -m bench.overhead [ITERATIONS]   # prints JSON: microseconds per request

Complements the end-to-end small-request CPU figures (whose resolution is the kernel's 10 ms
tick): here each piece is timed on its own, on stand-ins for gunicorn's request and socket
objects, in ROUNDS rounds; every round's figure is printed (the report shows median and range).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
os.environ["BENCH_MODE"] = "expect"

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIRequest  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import resolve  # noqa: E402

from django_expect import gunicorn as hooks  # noqa: E402
from django_expect.continuation import ExpectContinueInput  # noqa: E402
from django_expect.middleware import ExpectMiddleware  # noqa: E402

BODY = b"x" * 1024
ROUNDS = 9  # rounds per figure; the report prints their median and range


class _Sock:
    def sendall(self, data: bytes) -> None:
        pass


class _Unreader:
    sock = _Sock()


class _Req:
    """What the hooks touch on a gunicorn request."""

    def __init__(self, body: bytes) -> None:
        self.method = "POST" if body else "GET"
        self.path = "/small"
        self.body = io.BytesIO(body)
        self.unreader = _Unreader()
        self.headers = [("HOST", "127.0.0.1"), ("CONTENT-LENGTH", str(len(body)))]
        self._expected_100_continue = False
        self.must_close = False


class _Worker:
    class log:
        @staticmethod
        def debug(*args: object) -> None:
            pass


def _request(method: str, body: bytes) -> WSGIRequest:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/small",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": ExpectContinueInput(
            io.BytesIO(body),
            awaiting=False,
            send_continue=lambda: None,
            close_connection=lambda: None,
        ),
    }
    if body:
        environ.update(CONTENT_LENGTH=str(len(body)), CONTENT_TYPE="application/octet-stream")
    return WSGIRequest(environ)


def _rounds(run, setup, iterations: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Microseconds per item, one figure per round (the report gives their median and range)."""
    out = []
    for _ in range(ROUNDS):
        items = [setup() for _ in range(iterations)]
        started = time.perf_counter()
        for item in items:
            run(item)
        out.append((time.perf_counter() - started) / iterations * 1e6)
    return out


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    view = resolve("/small").func
    response = HttpResponse("ok")
    middleware = ExpectMiddleware(lambda request: response)
    worker = _Worker()

    def hook(req: _Req) -> None:
        hooks.pre_request(worker, req)
        hooks.post_request(worker, req, {}, None)

    def through_middleware(request: WSGIRequest) -> None:
        middleware.process_view(request, view, (), {})
        middleware(request)

    class _Source:
        """A body stream that hands out the same 1 MiB, as a socket reader would."""

        chunk = bytes(1024 * 1024)

        def read(self, size: int = -1) -> bytes:
            return self.chunk

        readline = read

    def read_gib(stream: object) -> None:
        for _ in range(1024):
            stream.read(1024 * 1024)  # type: ignore[attr-defined]

    def wrapped() -> ExpectContinueInput:
        return ExpectContinueInput(
            _Source(), awaiting=False, send_continue=lambda: None, close_connection=lambda: None
        )

    rounds = max(1, iterations // 1000)
    plain = _rounds(read_gib, _Source, rounds)
    wrapped_rounds = _rounds(read_gib, wrapped, rounds)

    result = {
        # Round by round: the wrapped read's time minus the plain read's in the same round.
        "wrapper_read_us_per_gib": [w - p for w, p in zip(wrapped_rounds, plain, strict=True)],
        "hook_get_us": _rounds(hook, lambda: _Req(b""), iterations),
        "hook_post_us": _rounds(hook, lambda: _Req(BODY), iterations),
        "middleware_get_us": _rounds(through_middleware, lambda: _request("GET", b""), iterations),
        "middleware_post_us": _rounds(
            through_middleware, lambda: _request("POST", BODY), iterations
        ),
        "iterations": iterations,
        "rounds": ROUNDS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
