"""Where a tus upload's bytes go: Django's storage API only (``default_storage``, or the alias
``EXPECT_TUS_STORAGE`` names in ``STORAGES``), so django-storages' S3 backend works unchanged.

Storage backends have no "append", so each PATCH writes its bytes as one new object (a *part*,
under ``<EXPECT_TUS_UPLOAD_TO>/<id>.parts/``); the finished file is the concatenation of the
parts, streamed into one object under ``<EXPECT_TUS_UPLOAD_TO>/<id>/<file name>``. An upload
sent in one PATCH (tuspy's and Uppy's default) is written straight under the finished name: no
copy. Memory stays bounded: bytes move in :data:`CHUNK` -sized reads, never a whole chunk or
file at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from django.core.files import File
from django.core.files.storage import Storage, default_storage, storages
from django.utils.text import get_valid_filename

from django_expect.conf import conf

__all__ = ["CHUNK", "BodyReader", "assemble", "delete_quietly", "tus_storage"]

CHUNK = 64 * 1024


def tus_storage() -> Storage:
    alias = conf.EXPECT_TUS_STORAGE
    return default_storage if alias is None else storages[alias]


def part_name(upload_id: str, offset: int, token: str) -> str:
    return f"{conf.EXPECT_TUS_UPLOAD_TO}/{upload_id}.parts/{offset:020d}-{token[:12]}"


def final_name(upload_id: str, metadata: dict[str, str]) -> str:
    filename = metadata.get("filename") or metadata.get("name") or "upload"
    try:
        safe = get_valid_filename(filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])
    except Exception:  # Django raises SuspiciousFileOperation for names like ".."
        safe = "upload"
    return f"{conf.EXPECT_TUS_UPLOAD_TO}/{upload_id}/{safe[:200]}"


class BodyReader:
    """A file-like view of at most ``limit`` bytes of a request body, hashed as it is read.

    ``read_body(n)`` is the request's own ``read``. A body that fails while being read (the
    client went away, it stalled past ``body_timeout``) ends here as EOF: what arrived is kept
    (tus asks servers to store as much as they received) and ``failure`` says why it ended.
    ``on_progress`` is called with the byte count after each read (the lock's heartbeat).
    """

    def __init__(
        self,
        read_body: Callable[[int], bytes],
        limit: int,
        hasher: Any = None,
        on_progress: Callable[[int], None] | None = None,
        size: int | None = None,
    ) -> None:
        self._read = read_body
        self.limit = limit
        self.hasher = hasher
        self.on_progress = on_progress
        self.size = size  # storage backends may read it (FileSystemStorage does not need it)
        self.received = 0
        self.overflow = False  # more than ``limit`` bytes were offered
        self.failure: BaseException | None = None
        self.eof = False

    def read(self, size: int = -1) -> bytes:
        if self.eof:
            return b""
        want = CHUNK if size is None or size < 0 else min(size, CHUNK)
        left = self.limit - self.received
        try:
            data = self._read(min(want, left + 1) if left >= 0 else 1)
        except OSError as failure:  # BodyFailed (django_expect.continuation) is an OSError
            self.failure = failure
            data = b""
        if not data:
            self.eof = True
            return b""
        if len(data) > left:
            self.overflow = True
            self.eof = True
            data = data[: max(left, 0)]
        self.received += len(data)
        if self.hasher is not None:
            self.hasher.update(data)
        if self.on_progress is not None:
            self.on_progress(self.received)
        return data


def write(storage: Storage, name: str, reader: BodyReader) -> str:
    """Stream ``reader`` into a new object ``name`` (or the name the storage chose)."""
    try:
        return storage.save(name, File(reader, name=name))  # type: ignore[arg-type]
    except BaseException:
        delete_quietly(storage, [name])
        raise


class _Concatenation:
    """The parts, one after the other, as one readable file (each opened when reached)."""

    def __init__(self, storage: Storage, parts: Iterable[str], size: int | None) -> None:
        self._storage = storage
        self._parts = list(parts)
        self._current: Any = None
        self.size = size
        self.sha1 = hashlib.sha1(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        want = CHUNK if size is None or size < 0 else min(size, CHUNK)
        while True:
            if self._current is None:
                if not self._parts:
                    return b""
                self._current = self._storage.open(self._parts.pop(0), "rb")
            data = self._current.read(want)
            if data:
                return bytes(data)
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None


def assemble(storage: Storage, parts: list[str], name: str, size: int | None) -> str:
    """Concatenate ``parts`` into a new object ``name``; returns the stored name."""
    source = _Concatenation(storage, parts, size)
    try:
        return storage.save(name, File(source, name=name))  # type: ignore[arg-type]
    finally:
        source.close()


def delete_quietly(storage: Storage, names: Iterable[str]) -> None:
    """Delete what exists of ``names``; a storage error is not the client's problem."""
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            pass
