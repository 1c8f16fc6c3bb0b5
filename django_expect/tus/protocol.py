"""tus 1.0 header values: parsing and formatting, no Django, no I/O.

Invariants this module keeps:

* Every function takes header values as received (``str`` or None) and either returns a plain
  value or raises :class:`TusHeaderError` with a message fit for the client (a 400).
* Nothing here knows about policies, storage or the database; :mod:`django_expect.tus.views`
  combines these values with the route's effective policy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "EXTENSIONS",
    "OFFSET_OCTET_STREAM",
    "TUS_VERSION",
    "Checksum",
    "TusHeaderError",
    "parse_checksum",
    "parse_length",
    "parse_metadata",
    "parse_offset",
]

TUS_VERSION = "1.0.0"
#: The extensions this server implements, as ``Tus-Extension`` lists them.
EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "termination",
    "checksum",
    "expiration",
)
#: ``Tus-Checksum-Algorithm``: names as tus spells them -> hashlib names.
CHECKSUM_ALGORITHMS = {"sha1": "sha1", "sha256": "sha256", "md5": "md5"}
OFFSET_OCTET_STREAM = "application/offset+octet-stream"

_DIGITS = re.compile(r"[0-9]{1,19}")  # at most 19 digits: fits a signed 64-bit integer
_KEY = re.compile(r"[^\s,]+")


class TusHeaderError(ValueError):
    """A tus header is malformed; the message names it (answered 400)."""


def _non_negative(value: str, header: str) -> int:
    value = value.strip()
    if not _DIGITS.fullmatch(value):
        raise TusHeaderError(f"{header} must be a non-negative integer, not {value!r}")
    return int(value)


def parse_offset(value: str | None) -> int:
    """``Upload-Offset`` (required on PATCH)."""
    if value is None:
        raise TusHeaderError("Upload-Offset is required")
    return _non_negative(value, "Upload-Offset")


def parse_length(length: str | None, defer: str | None) -> int | None:
    """``Upload-Length`` or ``Upload-Defer-Length: 1`` (exactly one) -> the length or None."""
    if length is not None and defer is not None:
        raise TusHeaderError("send Upload-Length or Upload-Defer-Length, not both")
    if length is not None:
        return _non_negative(length, "Upload-Length")
    if defer is not None:
        if defer.strip() != "1":
            raise TusHeaderError("Upload-Defer-Length must be 1")
        return None
    raise TusHeaderError("Upload-Length (or Upload-Defer-Length: 1) is required")


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (the value may be absent).

    Values are decoded as UTF-8 text (tus clients encode file names and types that way); a value
    that is not UTF-8 is kept with replacement characters. Keys must be unique.
    """
    metadata: dict[str, str] = {}
    if value is None or not value.strip():
        return metadata
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if len(parts) > 2 or not _KEY.fullmatch(parts[0]):
            raise TusHeaderError(f"Upload-Metadata: cannot read the pair {pair.strip()!r}")
        key = parts[0]
        if key in metadata:
            raise TusHeaderError(f"Upload-Metadata: the key {key!r} appears twice")
        raw = b""
        if len(parts) == 2:
            try:
                raw = base64.b64decode(parts[1], validate=True)
            except (binascii.Error, ValueError):
                raise TusHeaderError(
                    f"Upload-Metadata: the value of {key!r} is not base64"
                ) from None
        metadata[key] = raw.decode("utf-8", "replace")
    return metadata


@dataclass(frozen=True)
class Checksum:
    """An ``Upload-Checksum``: the algorithm's tus name and the expected digest."""

    algorithm: str
    digest: bytes

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(CHECKSUM_ALGORITHMS[self.algorithm])


def parse_checksum(value: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>`` (None when absent)."""
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2:
        raise TusHeaderError("Upload-Checksum must be '<algorithm> <base64 digest>'")
    algorithm = parts[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        supported = ", ".join(CHECKSUM_ALGORITHMS)
        raise TusHeaderError(f"Upload-Checksum: {parts[0]!r} is not supported; use {supported}")
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise TusHeaderError("Upload-Checksum: the digest is not base64") from None
    if len(digest) != hashlib.new(CHECKSUM_ALGORITHMS[algorithm]).digest_size:
        raise TusHeaderError(f"Upload-Checksum: not a {algorithm} digest")
    return Checksum(algorithm, digest)
