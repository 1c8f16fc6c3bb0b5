"""The lingering close of a client socket whose request body was left unread: half-close, drain
what may still arrive within the close policy's budget (:mod:`django_expect.closing`), else make
the close a reset. Shared by the adapters that hold the client socket (the gunicorn hooks,
``manage.py runserver``); :func:`linger` is also importable as ``django_expect.gunicorn.linger``.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time

from django_expect import closing

__all__ = ["linger"]

_CHUNK = 65536
_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: the close sends a reset


def linger(
    sock: socket.socket,
    remaining: int | None = None,
    *,
    capacity: int = 1,
    seconds: float | None = None,
    max_connections: int | None = None,
) -> None:
    """Close a connection whose request body was left unread, by the close policy
    (:mod:`django_expect.closing`): half-close, then drain the rest of the body while it can
    arrive within the budget; else, once the response is acknowledged, make the coming close a
    reset if the client is still sending (which is what makes Chromium show the response).

    ``remaining``: declared body bytes not yet received (None: unknown); ``capacity``: how many
    connections the calling worker serves at once (1 for a sync worker); ``seconds`` and
    ``max_connections`` default to ``EXPECT_DRAIN_SECONDS`` / ``EXPECT_DRAIN_MAX_CONNECTIONS``.
    After this, reads on the socket return EOF at once, so the server's own close does not wait
    again and nothing that arrived is parsed as another request.
    """
    if isinstance(sock, ssl.SSLSocket):
        return  # TLS close_notify needs the full socket; gunicorn closes it itself.
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return
    budget, cap = _drain_settings(seconds, max_connections)
    plan = closing.slots.acquire(budget, capacity=capacity, max_connections=cap)
    try:
        _drain(sock, plan, remaining)
    except OSError:
        pass
    finally:
        closing.slots.release(plan)
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


def _drain_settings(seconds: float | None, max_connections: int | None) -> tuple[float, int]:
    if seconds is not None and max_connections is not None:
        return seconds, max_connections
    from django.core.exceptions import ImproperlyConfigured

    from django_expect.conf import conf
    from django_expect.sitewide import upload_settings

    try:
        # The budget may come from the admin's Upload settings (else EXPECT_DRAIN_SECONDS).
        budget, cap = upload_settings().drain_seconds, conf.EXPECT_DRAIN_MAX_CONNECTIONS
    except ImproperlyConfigured:  # Django settings not configured: the defaults
        budget, cap = closing.DEFAULT_DRAIN_SECONDS, closing.DEFAULT_DRAIN_MAX_CONNECTIONS
    return (
        budget if seconds is None else seconds,
        cap if max_connections is None else max_connections,
    )


def _drain(sock: socket.socket, plan: closing.DrainPlan, remaining: int | None) -> None:
    """Read and discard by ``plan``; return when the policy says done or close."""
    start = time.monotonic()
    # The backlog (what the kernel buffered while the app ran: megabytes, if the request was
    # slow) is read first, without waiting, and not counted in the rate. It ends when the kernel
    # has nothing more at once, or after a probe's time for a client faster than the reads.
    backlog_until = start + plan.probe
    backlog = 0
    sock.settimeout(0)
    while time.monotonic() < backlog_until and (remaining is None or remaining > 0):
        try:
            data = sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            break
        if not data:
            return
        backlog += len(data)
        if remaining is not None:
            remaining -= len(data)
    clock = time.monotonic()
    measured = 0
    eof = False
    while True:
        now = time.monotonic()
        step = closing.next_step(
            plan,
            remaining=remaining,
            elapsed=now - start,
            measured_bytes=measured,
            measured_seconds=now - clock,
            eof=eof,
        )
        if step is not closing.Step.DRAIN:
            if step is closing.Step.CLOSE:
                # Let the response be acknowledged first: a reset discards what is unsent.
                _await_sent(sock, now + 1.0)
                if backlog or measured:
                    # The client is still sending: reset, so its next write fails now
                    # (Chromium then shows the response), not at its next segment. A client
                    # that sent nothing (an Expect client) gets a clean close.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
            return
        # Wake at least every probe interval to take the decision again.
        sock.settimeout(max(0.01, min(plan.probe, start + plan.seconds - now)))
        try:
            data = sock.recv(_CHUNK)
        except TimeoutError:
            continue
        if not data:
            eof = True
            continue
        measured += len(data)
        if remaining is not None:
            remaining -= len(data)


def _await_sent(sock: socket.socket, until: float) -> None:
    """Before an abortive close, let the response reach the client: a reset discards what is
    still unsent. Linux only (``TIOCOUTQ``: bytes not yet acknowledged); bounded by ``until``.
    Reads meanwhile, so the client's window stays open."""
    try:
        import fcntl
        import termios

        def unsent() -> int:
            packed = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
            return int.from_bytes(packed, "little", signed=True)

        while unsent() > 0:
            left = until - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(min(0.01, left))
            try:
                if not sock.recv(_CHUNK):
                    return
            except TimeoutError:
                continue
    except (ImportError, AttributeError, OSError):
        return
