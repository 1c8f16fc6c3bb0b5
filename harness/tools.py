"""External programs the operations tests drive (nginx, HAProxy, PostgreSQL, Chromium).

``require(binary, package)`` skips a test with a clear reason when a Debian package is not
installed, and fails it instead when ``DJANGO_EXPECT_REQUIRE_ALL=1`` (CI sets it), so a missing
install step can never pass as green.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

_T = TypeVar("_T")

REQUIRE_ALL = os.environ.get("DJANGO_EXPECT_REQUIRE_ALL") == "1"
#: Where Debian puts binaries that are not on PATH.
EXTRA_DIRS = ("/usr/sbin", "/sbin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))


def find(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    for directory in EXTRA_DIRS:
        candidate = os.path.join(directory, binary)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def missing(what: str, how: str) -> None:
    """Skip (or fail, under DJANGO_EXPECT_REQUIRE_ALL=1) because ``what`` is not available."""
    message = f"{what} is not available ({how})"
    if REQUIRE_ALL:
        pytest.fail(message + "; DJANGO_EXPECT_REQUIRE_ALL=1 requires it", pytrace=False)
    pytest.skip(message)


def require(binary: str, package: str) -> str:
    """The binary's path, or skip (fail under DJANGO_EXPECT_REQUIRE_ALL=1) naming the package."""
    path = find(binary)
    if path is None:
        missing(binary, f"Debian package {package!r}: apt-get install {package}")
    assert path is not None
    return path


def require_module(name: str, pip_name: str) -> None:
    try:
        __import__(name)
    except ImportError:
        missing(f"the Python package {pip_name}", f"pip install {pip_name}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(probe: Callable[[], _T | None], timeout: float, interval: float = 0.05) -> _T | None:
    """Call ``probe`` until it returns something other than None, for at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
