"""The uWSGI adapter: ``100 Continue`` sent when the view reads the body.

uWSGI never answers ``Expect: 100-continue`` itself, neither with ``--http-socket`` nor behind
its ``--http`` router (unless ``--http-manage-expect``, which makes the router send it at once,
before Django runs). Refusals are then made before the body anyway, but an accepted upload waits
for the client's own timeout (curl and Go: 1 s) and clients that wait longer stall. Wrap the
WSGI application and the 100 goes out when the view first reads the body::

    # mysite/wsgi.py
    from django.core.wsgi import get_wsgi_application
    from django_expect.uwsgi import lazy_continue

    application = lazy_continue(get_wsgi_application())

Outside uWSGI (``import uwsgi`` fails) the application is returned unwrapped. The 100 is written
on the request's client connection (``uwsgi.connection_fd()``); behind the ``--http`` router that
connection is the router's, which passes the backend's bytes to the client unchanged (do not
combine with ``--http-keepalive``, which parses responses). uWSGI closes the connection after
every response in these modes, so a refused body is never read as another request; the wrapper
says so to the client with ``Connection: close`` on every response.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Iterable
from typing import Any

from django_expect.continuation import ExpectContinueInput, declared_length

__all__ = ["lazy_continue"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_WRITE_TIMEOUT = 5.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def lazy_continue(app: WSGIApp) -> WSGIApp:
    """``app`` with a ``wsgi.input`` that sends the 100 on first read (under uWSGI only)."""
    connection_fd = _uwsgi_connection_fd()
    if connection_fd is None:
        return app

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        install(environ, connection_fd)

        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, says_close(headers), *exc_info)

        return app(environ, start)

    return application


def install(environ: dict[str, Any], connection_fd: Callable[[], int]) -> ExpectContinueInput:
    """Wrap ``environ["wsgi.input"]`` (the 100, if the client waits for one, on first read)."""
    length = declared_length(environ)
    awaiting = (
        environ.get("HTTP_EXPECT", "").strip().lower() == "100-continue"
        and environ.get("SERVER_PROTOCOL") == "HTTP/1.1"
        and length != 0
    )
    wrapped = ExpectContinueInput(
        environ["wsgi.input"],
        awaiting=awaiting,
        send_continue=lambda: _write_all(connection_fd(), _CONTINUE),
        close_connection=_closed_anyway,
        length=length,
    )
    environ["wsgi.input"] = wrapped
    return wrapped


def says_close(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The response headers with ``Connection: close``, which is what uWSGI does after every
    response in these modes: a client that does not know it reuses the connection (Node's agent:
    "socket hang up") or, after an early refusal on a connection it believes is kept alive,
    sends the body anyway (Go). The server's adapter says it, not the application (PEP 3333);
    uWSGI passes it on."""
    if any(name.lower() == "connection" for name, _ in headers):
        return headers
    return [*headers, ("Connection", "close")]


def _closed_anyway() -> None:
    """uWSGI (``--http-socket``, ``--http`` without ``--http-keepalive``) closes after each
    response: nothing to tell it."""


def _write_all(fd: int, data: bytes) -> None:
    """Write on uWSGI's (non-blocking) client socket, waiting at most a few seconds."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            if not select.select([], [fd], [], _WRITE_TIMEOUT)[1]:
                raise TimeoutError("the client does not take the 100 Continue") from None
            continue
        view = view[written:]


def _uwsgi_connection_fd() -> Callable[[], int] | None:
    """uWSGI's ``connection_fd()``: the current request's client socket (the only uWSGI API
    used; ``plugins/python/uwsgi_pymodule.c``, ``wsgi_req->fd``). None outside uWSGI."""
    try:
        import uwsgi  # type: ignore[import-untyped,import-not-found,unused-ignore]  # inside uWSGI only
    except ImportError:
        return None
    connection_fd: Callable[[], int] = uwsgi.connection_fd
    return connection_fd
