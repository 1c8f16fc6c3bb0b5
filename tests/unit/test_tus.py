"""The tus endpoint without a server: header parsing (tables), then the protocol through Django's
test client (the test project's whole middleware stack, SQLite, a temporary MEDIA_ROOT).

Routes (tests/urls.py): ``/lab/tus/`` (8 MB, application/octet-stream and image/*, anonymous),
``/lab/tus-login/`` (8 MB, login required), ``/lab/tus-default/`` (no decorator:
EXPECT_DEFAULT_POLICY, 100 MiB). The cases follow the tus 1.0 specification and the ones
tusd's handler tests check (OPTIONS, 412 on a version mismatch, 409 on a wrong offset, 413 over
Tus-Max-Size, 404/410, 460, termination, deferred length).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from django_expect.signals import upload_completed, upload_rejected
from django_expect.tus import protocol
from django_expect.tus.models import TusUpload
from django_expect.tus.protocol import TusHeaderError

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def metadata(**values: str) -> str:
    return ",".join(f"{key} {b64(value)}" for key, value in values.items())


# -- header values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {}),
        ("", {}),
        (f"filename {b64('a.txt')}", {"filename": "a.txt"}),
        (
            f"filename {b64('a b.bin')},is_confidential",
            {"filename": "a b.bin", "is_confidential": ""},
        ),
        (f"filetype {b64('image/png')}, name {b64('ü')}", {"filetype": "image/png", "name": "ü"}),
    ],
)
def test_metadata_pairs(value: str | None, expected: dict[str, str]) -> None:
    assert protocol.parse_metadata(value) == expected


@pytest.mark.parametrize("value", ["a !!!", "a b c", f"a {b64('x')},a {b64('y')}", " ,x"])
def test_malformed_metadata(value: str) -> None:
    with pytest.raises(TusHeaderError):
        protocol.parse_metadata(value)


@pytest.mark.parametrize(
    ("length", "defer", "expected"),
    [("0", None, 0), ("123", None, 123), (None, "1", None)],
)
def test_lengths(length: str | None, defer: str | None, expected: int | None) -> None:
    assert protocol.parse_length(length, defer) == expected


@pytest.mark.parametrize(
    ("length", "defer"),
    [(None, None), ("1", "1"), ("-1", None), ("1e3", None), (None, "0"), ("9" * 20, None)],
)
def test_bad_lengths(length: str | None, defer: str | None) -> None:
    with pytest.raises(TusHeaderError):
        protocol.parse_length(length, defer)


def test_checksums() -> None:
    digest = base64.b64encode(hashlib.sha1(b"abc").digest()).decode()
    parsed = protocol.parse_checksum(f"sha1 {digest}")
    assert parsed is not None and parsed.digest == hashlib.sha1(b"abc").digest()
    assert protocol.parse_checksum(None) is None
    for bad in ("sha1", "crc32 AAAA", "sha1 !!!", f"sha256 {digest}"):
        with pytest.raises(TusHeaderError):
            protocol.parse_checksum(bad)


# -- the protocol through the test client -------------------------------------------------------


@pytest.fixture(autouse=True)
def _media(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def client(db: None) -> Client:
    return Client()


@pytest.fixture
def completed() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    upload_completed.connect(receiver, dispatch_uid="test_tus")
    yield seen
    upload_completed.disconnect(dispatch_uid="test_tus")


def create(client: Client, url: str = "/lab/tus/", length: int = 10, **extra: Any) -> Any:
    headers = {**TUS, "HTTP_UPLOAD_LENGTH": str(length), **extra}
    return client.generic("POST", url, b"", **headers)


def patch(client: Client, location: str, offset: int, data: bytes, **extra: Any) -> Any:
    return client.generic(
        "PATCH",
        location,
        data,
        content_type=OCTETS,
        HTTP_UPLOAD_OFFSET=str(offset),
        **{**TUS, **extra},
    )


def stored(upload_id: str) -> bytes:
    from django.core.files.storage import default_storage

    upload = TusUpload.objects.get(pk=upload_id)
    with default_storage.open(upload.file_name, "rb") as handle:
        return bytes(handle.read())


def test_options_advertises_the_policy(client: Client) -> None:
    response = client.options("/lab/tus/")
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Tus-Max-Size"] == "8000000"
    assert set(response["Tus-Extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "checksum",
        "expiration",
    }
    assert "sha1" in response["Tus-Checksum-Algorithm"].split(",")
    assert response["Upload-Limit"] == "max-size=8000000"  # the middleware's discovery
    assert client.options("/lab/tus-default/")["Tus-Max-Size"] == str(100 * 2**20)


def test_version_mismatch_is_412(client: Client) -> None:
    response = client.generic("POST", "/lab/tus/", b"", HTTP_UPLOAD_LENGTH="10")
    assert response.status_code == 412 and response["Tus-Version"] == "1.0.0"
    response = client.generic(
        "POST", "/lab/tus/", b"", HTTP_UPLOAD_LENGTH="10", HTTP_TUS_RESUMABLE="0.2.2"
    )
    assert response.status_code == 412


def test_a_whole_upload_in_chunks(client: Client, completed: list[dict[str, Any]]) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    response = create(
        client, "/lab/tus-default/", len(data), HTTP_UPLOAD_METADATA=metadata(filename="x.bin")
    )
    assert response.status_code == 201, response.content
    location = response["Location"]
    assert location.startswith("http://testserver/lab/tus-default/")
    assert "Upload-Expires" in response
    head = client.head(location, **TUS)
    assert head["Upload-Offset"] == "0" and head["Upload-Length"] == str(len(data))
    assert head["Cache-Control"] == "no-store"
    offset = 0
    for start in range(0, len(data), 3000):
        chunk = data[start : start + 3000]
        response = patch(client, location, offset, chunk)
        assert response.status_code == 204, response.content
        offset = int(response["Upload-Offset"])
        assert offset == start + len(chunk)
    upload_id = location.rsplit("/", 1)[1]
    assert stored(upload_id) == data
    upload = TusUpload.objects.get(pk=upload_id)
    assert upload.file_name.endswith("/x.bin") and upload.parts == []
    assert [c["name"] for c in completed] == [upload.file_name]
    assert client.head(location, **TUS)["Upload-Offset"] == str(len(data))
    assert "Upload-Expires" not in client.head(location, **TUS)


def test_creation_refused_by_the_policy(client: Client) -> None:
    rejected: list[Any] = []
    upload_rejected.connect(lambda **kw: rejected.append(kw), weak=False, dispatch_uid="t")
    try:
        response = create(client, length=8_000_001)
        assert response.status_code == 413
        error = json.loads(response.content)["error"]
        assert error["code"] == "content_too_large" and error["limit"] == 8_000_000
        assert error["message"].startswith("the file is 8000001 bytes")
        response = create(client, HTTP_UPLOAD_METADATA=metadata(filetype="text/html"))
        assert response.status_code == 415
        assert "text/html is not accepted" in json.loads(response.content)["error"]["message"]
        response = create(client)  # no filetype at all, and the route has types
        assert response.status_code == 415
        assert create(client, "/lab/tus-login/").status_code == 401
    finally:
        upload_rejected.disconnect(dispatch_uid="t")
    assert [r["route"] for r in rejected] == ["lab-tus:tus"] * 3 + ["lab-tus-login:tus"]
    assert not TusUpload.objects.exists()
    ok = create(client, HTTP_UPLOAD_METADATA=metadata(filetype="image/png"))
    assert ok.status_code == 201


def test_creation_with_upload(client: Client) -> None:
    response = client.post(
        "/lab/tus/",
        b"hello",
        content_type=OCTETS,
        HTTP_UPLOAD_LENGTH="5",
        HTTP_UPLOAD_METADATA=metadata(filetype="image/png", filename="h.png"),
        **TUS,
    )
    assert response.status_code == 201 and response["Upload-Offset"] == "5"
    assert stored(response["Location"].rsplit("/", 1)[1]) == b"hello"


def test_offsets_and_lengths_are_checked(client: Client) -> None:
    location = create(client, HTTP_UPLOAD_METADATA=metadata(filetype="image/png"))["Location"]
    response = patch(client, location, 3, b"abc")
    assert response.status_code == 409 and response["Upload-Offset"] == "0"
    response = patch(client, location, 0, b"x" * 11)  # would cross Upload-Length
    assert response.status_code == 413
    assert patch(client, location, 0, b"x" * 10).status_code == 204
    response = patch(client, location, 10, b"y")  # the upload is complete
    assert response.status_code == 413
    response = client.generic(
        "PATCH", location, b"abc", content_type="text/plain", HTTP_UPLOAD_OFFSET="0", **TUS
    )
    assert response.status_code == 415
    assert client.generic("PATCH", location, b"", content_type=OCTETS, **TUS).status_code == 400


def test_checksum_mismatch_keeps_nothing(client: Client) -> None:
    location = create(client, HTTP_UPLOAD_METADATA=metadata(filetype="image/png"))["Location"]
    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    response = patch(client, location, 0, b"abcde", HTTP_UPLOAD_CHECKSUM=f"sha1 {wrong}")
    assert response.status_code == 460
    assert client.head(location, **TUS)["Upload-Offset"] == "0"
    right = base64.b64encode(hashlib.sha1(b"abcde").digest()).decode()
    response = patch(client, location, 0, b"abcde", HTTP_UPLOAD_CHECKSUM=f"sha1 {right}")
    assert response.status_code == 204 and response["Upload-Offset"] == "5"
    response = patch(client, location, 5, b"abcde", HTTP_UPLOAD_CHECKSUM="crc32 AAAA")
    assert response.status_code == 400


def test_deferred_length_is_capped_by_the_limit(client: Client) -> None:
    response = client.generic(
        "POST",
        "/lab/tus/",
        b"",
        HTTP_UPLOAD_DEFER_LENGTH="1",
        HTTP_UPLOAD_METADATA=metadata(filetype="image/png"),
        **TUS,
    )
    assert response.status_code == 201
    location = response["Location"]
    assert client.head(location, **TUS)["Upload-Defer-Length"] == "1"
    assert patch(client, location, 0, b"a" * 1000).status_code == 204
    response = patch(client, location, 1000, b"", HTTP_UPLOAD_LENGTH="9000000")
    assert response.status_code == 413  # the declared length is over the route's limit
    upload = TusUpload.objects.get()
    upload.offset = 7_999_990  # as if most of the limit were already in
    upload.save()
    response = patch(client, location, 7_999_990, b"b" * 11)
    assert response.status_code == 413
    assert "past the limit of 8000000 bytes" in json.loads(response.content)["error"]["message"]


def test_deferred_length_then_set(client: Client) -> None:
    location = client.generic(
        "POST",
        "/lab/tus/",
        b"",
        HTTP_UPLOAD_DEFER_LENGTH="1",
        HTTP_UPLOAD_METADATA=metadata(filetype="image/png"),
        **TUS,
    )["Location"]
    assert patch(client, location, 0, b"abc").status_code == 204
    response = patch(client, location, 3, b"def", HTTP_UPLOAD_LENGTH="6")
    assert response.status_code == 204
    assert stored(location.rsplit("/", 1)[1]) == b"abcdef"


def test_owner_only(client: Client, django_user_model: Any) -> None:
    alice = django_user_model.objects.create_user("alice", password="x")
    bob = django_user_model.objects.create_user("bob", password="x")
    client.force_login(alice)
    location = create(client, "/lab/tus-login/")["Location"]
    assert TusUpload.objects.get().owner == str(alice.pk)
    other = Client()
    other.force_login(bob)
    assert patch(other, location, 0, b"abc").status_code == 403
    assert other.head(location, **TUS).status_code == 403
    assert Client().head(location, **TUS).status_code == 401
    assert patch(client, location, 0, b"abc").status_code == 204


def test_termination(client: Client) -> None:
    location = create(client, HTTP_UPLOAD_METADATA=metadata(filetype="image/png"))["Location"]
    assert patch(client, location, 0, b"abc").status_code == 204
    assert client.delete(location, **TUS).status_code == 204
    assert client.head(location, **TUS).status_code == 404
    assert patch(client, location, 3, b"abc").status_code == 404


def test_expired_is_410_then_404_after_cleanup(client: Client) -> None:
    location = create(client, HTTP_UPLOAD_METADATA=metadata(filetype="image/png"))["Location"]
    assert patch(client, location, 0, b"abc").status_code == 204
    TusUpload.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert client.head(location, **TUS).status_code == 410
    assert patch(client, location, 3, b"abc").status_code == 410
    call_command("expect_tus_cleanup")
    assert client.head(location, **TUS).status_code == 404
    assert not TusUpload.objects.exists()


def test_no_expiry_when_turned_off(client: Client) -> None:
    with override_settings(EXPECT_TUS_EXPIRES=None):
        response = create(client, HTTP_UPLOAD_METADATA=metadata(filetype="image/png"))
    assert "Upload-Expires" not in response


def test_a_held_lock_is_423_and_a_dead_holder_is_taken_over(client: Client) -> None:
    location = create(client, HTTP_UPLOAD_METADATA=metadata(filetype="image/png"))["Location"]
    import os
    import socket

    TusUpload.objects.update(
        lock=f"{socket.gethostname()}:{os.getpid()}:x", locked_at=timezone.now()
    )
    assert patch(client, location, 0, b"abc").status_code == 423
    TusUpload.objects.update(lock=f"{socket.gethostname()}:999999999:x")  # no such process
    assert patch(client, location, 0, b"abc").status_code == 204


def test_an_empty_upload_completes_at_creation(client: Client, completed: list[Any]) -> None:
    response = create(client, length=0, HTTP_UPLOAD_METADATA=metadata(filetype="image/png"))
    assert response.status_code == 201
    assert stored(response["Location"].rsplit("/", 1)[1]) == b""
    assert len(completed) == 1
