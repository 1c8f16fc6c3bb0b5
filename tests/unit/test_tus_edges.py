"""The tus endpoint's answers off the happy path (tests/unit/test_tus.py has the protocol's
main cases): methods it does not serve, malformed headers, tus-js-client's method override, a
deferred length set late, and the policy's ``check`` at creation. Routes are this module's
own (``urlpatterns`` below)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from django_expect.signals import upload_rejected
from django_expect.tus import tus_urls
from django_expect.tus.models import TusUpload
from tests.unit.test_tus import TUS, patch
from tests.unit.test_tus import _media as _media  # the fixture: a temporary MEDIA_ROOT
from tests.unit.test_tus import client as client  # the fixture: a client with the database


def _check(request: HttpRequest) -> Any:
    """Refuses files whose Upload-Metadata carries ``refuse``; answers nonsense for ``nonsense``."""
    metadata = request.tus.metadata  # type: ignore[attr-defined]
    if "nonsense" in metadata:
        return "no"
    if "refuse" in metadata:
        return HttpResponse("not this file", status=409)
    return None


urlpatterns = [
    path("tus/", include(tus_urls(max_size=100), namespace="edge-tus")),
    path("checked/", include(tus_urls(max_size=100, check=_check), namespace="edge-checked")),
]

pytestmark = pytest.mark.urls(__name__)


def _create(client: Client, url: str = "/tus/", **headers: str) -> Any:
    return client.generic("POST", url, b"", **{**TUS, **headers})


def _error(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(response.content)["error"]
    return error


def test_methods_not_served_are_405_with_allow(client: Client) -> None:
    collection = client.generic("PUT", "/tus/", b"", **TUS)
    assert collection.status_code == 405 and collection["Allow"] == "OPTIONS, POST"
    assert _error(collection)["code"] == "method_not_allowed"
    location = _create(client, HTTP_UPLOAD_LENGTH="10")["Location"]
    upload = client.generic("POST", location, b"", **TUS)  # POST on an upload, without an override
    assert upload.status_code == 405 and upload["Allow"] == "HEAD, PATCH, DELETE"


def test_a_malformed_tus_header_is_400(client: Client) -> None:
    response = _create(client, HTTP_UPLOAD_LENGTH="ten")
    assert response.status_code == 400 and _error(response)["code"] == "bad_request"
    assert not TusUpload.objects.exists()


def test_the_method_override_serves_head_through_post(client: Client) -> None:
    location = _create(client, HTTP_UPLOAD_LENGTH="10")["Location"]
    assert patch(client, location, 0, b"abc").status_code == 204
    response = client.generic("POST", location, b"", HTTP_X_HTTP_METHOD_OVERRIDE="HEAD", **TUS)
    assert response.status_code == 200
    assert (response["Upload-Offset"], response["Upload-Length"]) == ("3", "10")


def test_a_deferred_length_is_set_once_and_not_below_the_offset(client: Client) -> None:
    location = _create(client, HTTP_UPLOAD_DEFER_LENGTH="1")["Location"]
    assert patch(client, location, 0, b"abcd").status_code == 204
    too_short = patch(client, location, 4, b"", HTTP_UPLOAD_LENGTH="3")
    assert too_short.status_code == 400
    assert "smaller than what was already uploaded" in _error(too_short)["message"]
    over_limit = patch(client, location, 4, b"", HTTP_UPLOAD_LENGTH="101")
    assert over_limit.status_code == 413  # the route's max_size, checked as at creation
    assert patch(client, location, 4, b"ef", HTTP_UPLOAD_LENGTH="6").status_code == 204
    changed = patch(client, location, 6, b"", HTTP_UPLOAD_LENGTH="7")
    assert changed.status_code == 400
    assert "cannot change once it is set" in _error(changed)["message"]
    upload = TusUpload.objects.get()
    assert (upload.length, upload.offset, upload.is_complete) == (6, 6, True)


def test_the_policy_check_refuses_a_file_at_creation(client: Client) -> None:
    rejected: list[dict[str, Any]] = []
    upload_rejected.connect(lambda **kw: rejected.append(kw), weak=False, dispatch_uid="edges")
    try:
        refused = _create(
            client, "/checked/", HTTP_UPLOAD_LENGTH="5", HTTP_UPLOAD_METADATA="refuse"
        )
    finally:
        upload_rejected.disconnect(dispatch_uid="edges")
    assert refused.status_code == 409 and refused.content == b"not this file"
    assert refused["Tus-Resumable"] == "1.0.0"
    assert [r["decision"].reason.value for r in rejected] == ["rejected_by_check"]
    assert not TusUpload.objects.exists()
    accepted = _create(client, "/checked/", HTTP_UPLOAD_LENGTH="5", HTTP_UPLOAD_METADATA="ok")
    assert accepted.status_code == 201


def test_a_check_answering_something_else_is_a_clear_error(client: Client) -> None:
    with pytest.raises(TypeError, match="must return None or an HttpResponse"):
        _create(client, "/checked/", HTTP_UPLOAD_LENGTH="5", HTTP_UPLOAD_METADATA="nonsense")
