"""gunicorn config of bench/breakdown.py: a lazy ``100 Continue`` with and without django-expect,
timed inside the worker.

``BENCH_MODE=expect``: django-expect's own hooks (``django_expect.gunicorn``). ``BENCH_MODE=stock``:
the control, no django-expect at all: a minimal hook takes gunicorn's eager 100 off the request
(the same private ``req._expected_100_continue`` django-expect's hook reads) and sends it when
the view first reads the body, so the 100 marks the moment Django's own request path reached the
view's first read.

Both record per request, in the worker thread that serves it (``time.perf_counter``):

* ``total``: from ``pre_request`` (gunicorn has parsed the head) to the decision going out: the
  100's ``sendall`` (the view's first read) or, for a final status (the 413), the return of
  Django's WSGI handler (:func:`application`; gunicorn writes the response next);
* ``package`` (django-expect only): the part of ``total`` spent in django-expect's own code: its
  ``pre_request`` hook, ``ExpectMiddleware.process_view`` and its response phase, and the
  input's first read up to the 100's ``sendall`` (the ``sendall`` itself is left out: the
  control makes the same system call).

``GET /bench/timings`` (bench/urls.py, ``BENCH_TIMING=1`` only) answers the samples recorded
since the last call and forgets them. Bench-only: nothing here is part of the package.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django_expect import gunicorn as hooks
from django_expect.framing import CONTINUE

_local = threading.local()
_lock = threading.Lock()
#: (path, total seconds, package seconds or None, the package's seconds per part), since the
#: last GET /bench/timings.
SAMPLES: list[tuple[str, float, float | None, dict[str, float]]] = []


def take_samples() -> list[tuple[str, float, float | None, dict[str, float]]]:
    with _lock:
        taken = SAMPLES[:]
        SAMPLES.clear()
    return taken


def _record() -> None:
    state = getattr(_local, "state", None)
    if state is None or state["recorded"] or state["path"].startswith("/bench/"):
        return
    state["recorded"] = True
    total = time.perf_counter() - state["start"]
    with _lock:
        SAMPLES.append((state["path"], total, state["package"], state["parts"]))


def _timed_package(function: Any, part: str) -> Any:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _spent(part, time.perf_counter() - started)

    return timed


def _spent(part: str, seconds: float) -> None:
    state = getattr(_local, "state", None)
    if state is not None and state["package"] is not None and not state["recorded"]:
        state["package"] += seconds
        state["parts"][part] = state["parts"].get(part, 0.0) + seconds


def _instrument_package() -> None:
    """Time django-expect's request-path code (middleware phases, the input's first read)."""
    from django_expect.continuation import ExpectContinueInput
    from django_expect.middleware import ExpectMiddleware

    ExpectMiddleware.process_view = _timed_package(ExpectMiddleware.process_view, "process_view")  # type: ignore[method-assign]
    ExpectMiddleware._finish = _timed_package(ExpectMiddleware._finish, "response phase")  # type: ignore[method-assign]
    read = ExpectContinueInput.read

    def first_read(self: ExpectContinueInput, size: int | None = -1, /) -> bytes:
        state = getattr(_local, "state", None)
        if state is not None and state["read_started"] is None:
            state["read_started"] = time.perf_counter()
        return read(self, size)

    ExpectContinueInput.read = first_read  # type: ignore[method-assign]
    send = hooks._Connection.send_continue

    def send_continue(self: Any) -> None:
        state = getattr(_local, "state", None)
        if state is not None and state["read_started"] is not None:
            _spent("first read", time.perf_counter() - state["read_started"])
        _record()
        send(self)

    hooks._Connection.send_continue = send_continue  # type: ignore[method-assign]


class _LazyBody:
    """The control's body: the 100 on the first read, then gunicorn's own body."""

    def __init__(self, body: Any, sock: Any) -> None:
        self._body = body
        self._sock = sock

    def _invite(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            _record()
            sock.sendall(CONTINUE)

    def read(self, *args: Any) -> bytes:
        self._invite()
        return bytes(self._body.read(*args))

    def readline(self, *args: Any) -> bytes:
        self._invite()
        return bytes(self._body.readline(*args))

    def __iter__(self) -> Any:
        self._invite()
        return iter(self._body)


def post_worker_init(worker: Any) -> None:
    import os

    if os.environ.get("BENCH_MODE", "expect") == "expect":
        _instrument_package()


def pre_request(worker: Any, req: Any) -> None:
    import os

    expect = os.environ.get("BENCH_MODE", "expect") == "expect"
    _local.state = {
        "start": time.perf_counter(),
        "path": req.path,
        "package": 0.0 if expect else None,
        "read_started": None,
        "recorded": False,
        "parts": {},
    }
    if expect:
        _timed_package(hooks.pre_request, "pre_request hook")(worker, req)
    elif getattr(req, "_expected_100_continue", False):
        req._expected_100_continue = False
        req.body = _LazyBody(req.body, getattr(getattr(req, "unreader", None), "sock", None))


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    import os

    if os.environ.get("BENCH_MODE", "expect") == "expect":
        hooks.post_request(worker, req, environ, resp)


_handler: Any = None


def application(environ: dict[str, Any], start_response: Any) -> Any:
    """Django's WSGI handler; a final status that went out before any 100 (the 413) is
    recorded when the handler returns (gunicorn writes the response next)."""
    global _handler
    if _handler is None:
        from django.core.wsgi import get_wsgi_application

        _handler = get_wsgi_application()
    result = _handler(environ, start_response)
    _record()
    return result
