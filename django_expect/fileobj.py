"""The ``io`` base of every stream the package hands to Django or a server.

Django 6.0.4+ calls ``self._stream.seekable()`` unconditionally in ``HttpRequest.body``, and
6.0.5+ probes ``seek(0, SEEK_END)`` in ``MemoryFileUploadHandler.handle_raw_input`` (catching
``io.UnsupportedOperation``): a request stream must be a file object, not a duck with ``read``.
:class:`ReadOnlyStream` is one: an ``io.IOBase`` that is readable and not seekable, with
``readinto``, ``readlines`` and iteration built on the subclass's ``read`` and ``readline``.
No Django or server import here: the wire-protocol modules build on it.
"""

from __future__ import annotations

import io
from typing import Any

__all__ = ["ReadOnlyStream", "is_seekable"]


class ReadOnlyStream(io.IOBase):
    """A readable, non-seekable binary stream: subclasses define ``read`` and ``readline``.

    ``readinto`` and ``readlines`` are built on them; ``io.IOBase`` supplies ``seek``/``tell``
    (raising ``io.UnsupportedOperation``), ``closed``, iteration and the context manager.
    """

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        raise NotImplementedError

    def readline(self, size: int | None = -1, /) -> bytes:
        raise NotImplementedError

    def readinto(self, buffer: Any, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readlines(self, hint: int | None = -1, /) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")


def is_seekable(stream: Any) -> bool:
    """Whether ``stream`` can seek (objects without ``seekable()`` cannot)."""
    seekable = getattr(stream, "seekable", None)
    return bool(seekable()) if callable(seekable) else False
