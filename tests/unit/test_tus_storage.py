"""The tus endpoint's storage side without a request: the body reader keeps what arrived when
the body fails or offers more than is left, and a stored file's name is never a path."""

from __future__ import annotations

import hashlib
import io

import pytest

from django_expect.continuation import BodyTimeout
from django_expect.tus.storage import BodyReader, final_name


def test_a_body_offering_more_than_is_left_is_cut_at_the_limit() -> None:
    source = io.BytesIO(b"abcdefgh")
    progress: list[int] = []
    hasher = hashlib.sha1(usedforsecurity=False)
    reader = BodyReader(source.read, limit=5, hasher=hasher, on_progress=progress.append)
    assert reader.read(3) == b"abc"
    assert reader.read() == b"de"
    assert reader.overflow and reader.eof and reader.received == 5
    assert reader.read() == b""  # once at EOF, nothing more is read
    assert hasher.hexdigest() == hashlib.sha1(b"abcde", usedforsecurity=False).hexdigest()
    assert progress == [3, 5]


def test_a_body_that_fails_ends_as_eof_keeping_what_arrived() -> None:
    chunks = [b"abc"]

    def read(size: int) -> bytes:
        if chunks:
            return chunks.pop()
        raise BodyTimeout("no body byte arrived for 1.0 seconds")

    reader = BodyReader(read, limit=100)
    assert reader.read() == b"abc"
    assert reader.read() == b""
    assert isinstance(reader.failure, BodyTimeout) and reader.eof and not reader.overflow
    assert reader.received == 3


@pytest.mark.parametrize(
    ("metadata", "name"),
    [
        ({"filename": "../../etc/passwd"}, "passwd"),
        ({"filename": "C:\\Users\\me\\report final.pdf"}, "report_final.pdf"),
        ({"name": "photo.png"}, "photo.png"),
        ({"filename": ".."}, "upload"),  # Django refuses the name: a safe default
        ({}, "upload"),
    ],
)
def test_the_stored_name_is_the_files_base_name_made_safe(
    metadata: dict[str, str], name: str
) -> None:
    stored = final_name("0123abcd", metadata)
    assert stored.endswith(f"/0123abcd/{name}")
