"""The tus 1.0 endpoint: one view serving the upload collection (OPTIONS, POST) and each upload
(HEAD, PATCH, DELETE), under the route's effective upload policy for the whole file.

The policy is the route's, from :func:`django_expect.resolution.request_policy` (decorator
given to :func:`django_expect.tus.tus_urls`, else the site-wide default; the admin's overrides on
the route name on top), and it governs the file, not each request:

* ``OPTIONS`` advertises ``Tus-Max-Size`` (the policy's ``max_size``); the middleware's
  discovery adds ``Upload-Limit`` (django_expect.discovery).
* creation (``POST``) is decided from ``Upload-Length`` and the ``filetype`` in
  ``Upload-Metadata`` by the decision core (``core.decide``), as a body of that length and type
  would be: 401/403, 413, 415 with the package's JSON error, then the policy's ``check``, all
  before any byte (a creation-with-upload body is never invited: the 100 is withheld);
* every ``PATCH`` is accepted only from the upload's owner, at the upload's offset (409
  otherwise), and only if its declared length fits in what is left of ``Upload-Length`` and of
  ``max_size`` (413 from the head; a chunked PATCH is cut at the same bound); with a deferred
  length the running total is capped at ``max_size``.

Each request's own body is decided by the middleware with the login, permission, expect and
body-timeout parts of the policy (:func:`request_policy_for_body`), so ``Expect: 100-continue``
on PATCH is honoured by the same server hooks: the 100 goes out when this view first reads
the body, after every check above.

Concurrency: a PATCH takes the upload's lock by compare-and-set on the row (models.py) before it
reads a byte; a second PATCH to the same upload meanwhile is refused with 423 (or 409 once the
offset moved): chunks are never interleaved. A lock whose holder died (same host, process gone;
or not renewed for ``EXPECT_TUS_LOCK_TIMEOUT``) is taken over.

CSRF: the view is ``csrf_exempt`` and refuses any request but OPTIONS without
``Tus-Resumable: 1.0.0`` (412). A cross-site page can only send that header after a CORS
preflight this endpoint does not grant, so a session-authenticated upload cannot be forged.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from django_expect.conf import conf
from django_expect.core import (
    ContinueTiming,
    Decision,
    Reason,
    RequestHead,
    UploadPolicy,
    decide,
    format_size,
    refusal,
)
from django_expect.discovery import answers_options
from django_expect.framing import wsgi_framing
from django_expect.policies import REQUEST_POLICY_ATTRIBUTE, upload_policy
from django_expect.resolution import EffectivePolicy, request_policy
from django_expect.responses import rejection_response
from django_expect.signals import upload_completed
from django_expect.stats import record_rejection, route_name
from django_expect.tus import protocol, storage
from django_expect.tus.models import TusUpload
from django_expect.tus.protocol import (
    CHECKSUM_ALGORITHMS,
    EXTENSIONS,
    OFFSET_OCTET_STREAM,
    TUS_VERSION,
    Checksum,
    TusHeaderError,
)

__all__ = ["TusCreation", "make_view", "request_policy_for_body"]

_HOST = socket.gethostname()
_ALLOW = "OPTIONS, POST, HEAD, PATCH, DELETE"


@dataclasses.dataclass(frozen=True)
class TusCreation:
    """What a creation request declares, as ``request.tus`` for the policy's ``check``."""

    length: int | None  # None: Upload-Defer-Length
    metadata: dict[str, str]


def request_policy_for_body(policy: UploadPolicy) -> UploadPolicy:
    """The part of the route's policy the middleware applies to each tus request's body: who
    may send it, when the 100 goes out, how long it may stall. The file's size, type and the
    check are this view's (a chunk's Content-Type is always application/offset+octet-stream)."""
    return dataclasses.replace(policy, max_size=None, content_types=None, check=None)


def make_view(**policy: Any) -> Callable[..., HttpResponseBase]:
    """A new tus view; ``policy``: ``upload_policy`` arguments (none: the site-wide default)."""

    def tus_upload(request: HttpRequest, upload_id: str | None = None) -> HttpResponseBase:
        return _serve(request, upload_id)

    view: Callable[..., HttpResponseBase] = tus_upload
    if policy:
        view = upload_policy(**policy)(view)
    view = answers_options(csrf_exempt(view))
    setattr(view, REQUEST_POLICY_ATTRIBUTE, request_policy_for_body)
    return view


# -- responses --------------------------------------------------------------------------------


def _tus(response: HttpResponseBase) -> HttpResponseBase:
    response["Tus-Resumable"] = TUS_VERSION
    return response


def _error(status: int, code: str, message: str, reason: str | None = None) -> HttpResponse:
    """A tus-level refusal, in the package's JSON error shape."""
    body = {"error": {"status": status, "code": code, "message": message}}
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    if reason is not None:
        response.reason_phrase = reason
    _tus(response)
    return response


def _rejected(request: HttpRequest, decision: Decision) -> HttpResponseBase:
    """A policy refusal: logged, counted and signalled like every other rejection."""
    record_rejection(TusUpload, request, decision)
    return _tus(rejection_response(request, decision))


def _refusal(reason: Reason, message: str, **extra: Any) -> Decision:
    return refusal(reason, message, continue_timing=ContinueTiming.WITHHOLD, **extra)


def _expires_header(response: HttpResponseBase, upload: TusUpload) -> None:
    if upload.expires is not None and upload.completed is None:
        response["Upload-Expires"] = http_date(upload.expires.timestamp())


# -- dispatch ---------------------------------------------------------------------------------


def _serve(request: HttpRequest, upload_id: str | None) -> HttpResponseBase:
    match = request.resolver_match
    assert match is not None
    resolution = request_policy(request, match.func)
    method = (request.method or "GET").upper()
    override = request.META.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").upper()
    if method == "POST" and override in ("PATCH", "DELETE", "HEAD"):
        method = override  # tus-js-client's overridePatchMethod
    if method == "OPTIONS":
        return _options(resolution)
    if request.META.get("HTTP_TUS_RESUMABLE", "").strip() != TUS_VERSION:
        response = _error(
            412,
            "tus_version",
            f"this server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}",
        )
        response["Tus-Version"] = TUS_VERSION
        return response
    try:
        if upload_id is None:
            if method == "POST":
                return _create(request, resolution)
        elif method in ("HEAD", "GET"):
            return _head(request, resolution, upload_id)
        elif method == "PATCH":
            return _patch(request, resolution, upload_id)
        elif method == "DELETE":
            return _terminate(request, resolution, upload_id)
    except TusHeaderError as error:
        return _error(400, "bad_request", str(error))
    response = _error(405, "method_not_allowed", f"{method} is not served here")
    response["Allow"] = "OPTIONS, POST" if upload_id is None else "HEAD, PATCH, DELETE"
    return response


def _options(resolution: EffectivePolicy) -> HttpResponseBase:
    response = HttpResponse(status=204)
    response["Tus-Version"] = TUS_VERSION
    response["Tus-Extension"] = ",".join(EXTENSIONS)
    response["Tus-Checksum-Algorithm"] = ",".join(CHECKSUM_ALGORITHMS)
    if resolution.policy.max_size is not None:
        response["Tus-Max-Size"] = str(resolution.policy.max_size)
    response["Allow"] = _ALLOW
    return _tus(response)


# -- who may touch an upload ------------------------------------------------------------------


def _owner_key(resolution: EffectivePolicy) -> str:
    identity = resolution.identity
    user = getattr(identity, "user", None)
    if user is None or not bool(getattr(user, "is_authenticated", False)):
        return ""
    pk = getattr(user, "pk", None)
    return "" if pk is None else str(pk)


def _find(
    request: HttpRequest, resolution: EffectivePolicy, upload_id: str
) -> TusUpload | HttpResponseBase:
    """The upload, if it exists, is alive and belongs to the requester; else the answer."""
    upload = TusUpload.objects.filter(pk=upload_id[:32]).first()
    if upload is None:
        return _error(404, "not_found", "no such upload (it may have expired and been removed)")
    if upload.owner:
        requester = _owner_key(resolution)
        if requester != upload.owner:
            if not requester:
                return _rejected(
                    request, _refusal(Reason.LOGIN_REQUIRED, "log in to resume this upload")
                )
            return _rejected(
                request,
                _refusal(Reason.PERMISSION_DENIED, "this upload belongs to another user"),
            )
    if upload.expired():
        return _error(410, "expired", "this upload expired before it was finished; start again")
    return upload


# -- creation ---------------------------------------------------------------------------------


def _create(request: HttpRequest, resolution: EffectivePolicy) -> HttpResponseBase:
    meta = request.META
    length = protocol.parse_length(
        meta.get("HTTP_UPLOAD_LENGTH"), meta.get("HTTP_UPLOAD_DEFER_LENGTH")
    )
    raw_metadata = meta.get("HTTP_UPLOAD_METADATA", "")
    metadata = protocol.parse_metadata(raw_metadata)
    has_body = wsgi_framing(request.META).has_body
    if has_body and request.content_type != OFFSET_OCTET_STREAM:
        return _error(
            415,
            "unsupported_media_type",
            f"a creation request's body must be {OFFSET_OCTET_STREAM}",
        )
    refusal = _refuse_file(request, resolution, length, metadata)
    if refusal is not None:
        return refusal
    policy = resolution.policy
    if policy.check is not None:
        request.tus = TusCreation(length, metadata)  # type: ignore[attr-defined]
        checked = policy.check(request)
        if checked is not None:
            if not isinstance(checked, HttpResponseBase):
                raise TypeError(
                    f"the upload_policy check returned {checked!r}; it must return None or an "
                    "HttpResponse"
                )
            record_rejection(
                TusUpload,
                request,
                _refusal(Reason.REJECTED_BY_CHECK, "", check_status=checked.status_code),
            )
            return _tus(checked)

    now = timezone.now()
    expires_after = conf.EXPECT_TUS_EXPIRES
    upload = TusUpload.objects.create(
        id=uuid.uuid4().hex,
        route=route_name(request),
        owner=_owner_key(resolution),
        length=length,
        metadata=metadata,
        raw_metadata=raw_metadata[:10000],
        created=now,
        expires=None if expires_after is None else now + timedelta(seconds=expires_after),
    )
    match = request.resolver_match
    assert match is not None
    location = request.build_absolute_uri(f"{request.path.rstrip('/')}/{upload.id}")
    offset: int | None = None
    if has_body:
        appended = _append(request, resolution, upload, 0, _checksum(request))
        if isinstance(appended, HttpResponseBase):
            appended["Location"] = location  # the upload exists: the client may resume it
            return appended
        offset = appended
    elif length == 0:
        _complete_if_due(request, upload)
    response = HttpResponse(status=201)
    response["Location"] = location
    if offset is not None:
        response["Upload-Offset"] = str(offset)
    upload.refresh_from_db()
    _expires_header(response, upload)
    return _tus(response)


def _refuse_file(
    request: HttpRequest,
    resolution: EffectivePolicy,
    length: int | None,
    metadata: dict[str, str],
) -> HttpResponseBase | None:
    """The whole file decided by the decision core, as a body of that length and type."""
    filetype = metadata.get("filetype") or None
    sized = length is not None and length > 0
    head = RequestHead(
        method="POST",
        content_length=str(length) if sized else None,
        transfer_encoding=None if sized else "chunked",  # deferred (or empty): no size to check
        content_type=filetype,
    )
    decision = decide(head, resolution.policy, resolution.identity, allow_chunked=True)
    if decision.proceed:
        return None
    if decision.reason is Reason.CONTENT_TOO_LARGE:
        decision = decision._replace(
            message=decision.message.replace("the body is", "the file is", 1)
        )
    elif decision.reason is Reason.UNSUPPORTED_MEDIA_TYPE:
        allowed = ", ".join(decision.allowed or ())
        shown = filetype or "a file without a filetype in Upload-Metadata"
        decision = decision._replace(
            message=f"{shown} is not accepted here; send one of: {allowed}"
        )
    elif decision.reason is Reason.EXPECTATION_FAILED:  # pragma: no cover - no Expect here
        return None
    return _rejected(request, decision)


# -- HEAD, DELETE ------------------------------------------------------------------------------


def _head(request: HttpRequest, resolution: EffectivePolicy, upload_id: str) -> HttpResponseBase:
    found = _find(request, resolution, upload_id)
    if isinstance(found, HttpResponseBase):
        return found
    upload = _complete_if_due(request, found)
    response = HttpResponse(status=200)
    response["Upload-Offset"] = str(upload.offset)
    if upload.length is None:
        response["Upload-Defer-Length"] = "1"
    else:
        response["Upload-Length"] = str(upload.length)
    if upload.raw_metadata:
        response["Upload-Metadata"] = upload.raw_metadata
    response["Cache-Control"] = "no-store"
    _expires_header(response, upload)
    return _tus(response)


def _terminate(
    request: HttpRequest, resolution: EffectivePolicy, upload_id: str
) -> HttpResponseBase:
    found = _find(request, resolution, upload_id)
    if isinstance(found, HttpResponseBase) and found.status_code != 410:
        return found
    upload = found if isinstance(found, TusUpload) else TusUpload.objects.get(pk=upload_id[:32])
    TusUpload.objects.filter(pk=upload.pk).delete()
    storage.delete_quietly(storage.tus_storage(), upload.parts)  # a finished file stays
    return _tus(HttpResponse(status=204))


# -- PATCH -------------------------------------------------------------------------------------


def _checksum(request: HttpRequest) -> Checksum | None:
    return protocol.parse_checksum(request.META.get("HTTP_UPLOAD_CHECKSUM"))


def _patch(request: HttpRequest, resolution: EffectivePolicy, upload_id: str) -> HttpResponseBase:
    has_body = wsgi_framing(request.META).has_body
    if request.content_type != OFFSET_OCTET_STREAM and (has_body or request.content_type):
        return _error(415, "unsupported_media_type", f"a PATCH body must be {OFFSET_OCTET_STREAM}")
    found = _find(request, resolution, upload_id)
    if isinstance(found, HttpResponseBase):
        return found
    upload = found
    offset = protocol.parse_offset(request.META.get("HTTP_UPLOAD_OFFSET"))
    checksum = _checksum(request)
    if offset != upload.offset:
        return _offset_conflict(upload, offset)
    new_length = request.META.get("HTTP_UPLOAD_LENGTH")
    if new_length is not None:
        declared = protocol.parse_length(new_length, None)
        assert declared is not None
        if upload.length is not None and declared != upload.length:
            return _error(400, "bad_request", "Upload-Length cannot change once it is set")
        if upload.length is None:
            if declared < upload.offset:
                return _error(
                    400, "bad_request", "Upload-Length is smaller than what was already uploaded"
                )
            refusal = _refuse_file(request, resolution, declared, upload.metadata)
            if refusal is not None:
                return refusal
            TusUpload.objects.filter(pk=upload.pk, length__isnull=True).update(length=declared)
            upload.refresh_from_db()
    appended = _append(request, resolution, upload, offset, checksum)
    if isinstance(appended, HttpResponseBase):
        return appended
    upload.refresh_from_db()
    response = HttpResponse(status=204)
    response["Upload-Offset"] = str(appended)
    _expires_header(response, upload)
    return _tus(response)


def _offset_conflict(upload: TusUpload, offset: int) -> HttpResponseBase:
    done = " (the upload is complete)" if upload.is_complete else ""
    response = _error(
        409,
        "offset_mismatch",
        f"Upload-Offset is {offset} but the upload is at {upload.offset}{done}: "
        "ask with HEAD and resume from there",
    )
    response["Upload-Offset"] = str(upload.offset)
    return response


def _too_large(left: int, limit: int | None, declared: int | None) -> Decision:
    if limit is not None:
        message = (
            f"the file would grow past the limit of {limit} bytes ({format_size(limit)}); "
            f"{left} bytes are left"
        )
    else:
        message = f"this request carries more than the {left} bytes left of Upload-Length"
    return _refusal(
        Reason.CONTENT_TOO_LARGE,
        message,
        limit=left if limit is None else limit,
        declared_length=declared,
    )


def _append(
    request: HttpRequest,
    resolution: EffectivePolicy,
    upload: TusUpload,
    offset: int,
    checksum: Checksum | None,
) -> int | HttpResponseBase:
    """Append this request's body at ``offset``: the new offset, or the refusal."""
    declared = wsgi_framing(request.META).length  # None: chunked
    max_size = resolution.policy.max_size
    left_of_length = None if upload.length is None else upload.length - offset
    left_of_limit = None if max_size is None else max(max_size - offset, 0)
    bounds = [b for b in (left_of_length, left_of_limit) if b is not None]
    left = min(bounds) if bounds else None
    if left is not None and declared is not None and declared > left:
        limit = max_size if left == left_of_limit and left_of_limit != left_of_length else None
        return _rejected(request, _too_large(left, limit, declared))
    lock = _Lock.take(upload, offset)
    if isinstance(lock, HttpResponseBase):
        return lock
    target = storage.tus_storage()
    hasher = checksum.hasher() if checksum is not None else None
    reader = storage.BodyReader(
        request.read,
        limit=declared if declared is not None else (left if left is not None else 2**63),
        hasher=hasher,
        on_progress=lock.renew,
        size=declared,
    )
    whole = offset == 0 and declared is not None and declared == upload.length
    name = (
        storage.final_name(upload.id, upload.metadata)
        if whole
        else storage.part_name(upload.id, offset, lock.token)
    )
    stored: str | None = None
    committed = False
    try:
        stored = storage.write(target, name, reader)
        if reader.overflow:
            assert left is not None
            return _rejected(request, _too_large(left, max_size, None))
        if checksum is not None:
            if reader.failure is not None:
                raise reader.failure  # a partial chunk cannot be verified: nothing is kept
            if hasher is not None and hasher.digest() != checksum.digest:
                return _error(
                    460,
                    "checksum_mismatch",
                    f"the {checksum.algorithm} of this request's body does not match "
                    "Upload-Checksum; nothing was kept",
                    reason="Checksum Mismatch",
                )
        if reader.received == 0:
            return offset
        new_offset = offset + reader.received
        if not lock.commit(offset, new_offset, [*upload.parts, stored]):
            return _error(409, "offset_mismatch", "the upload changed while this request was sent")
        committed = True
        upload.refresh_from_db()
        if reader.failure is not None:
            raise reader.failure  # kept what arrived; the middleware answers 400/408
        _complete_if_due(request, upload, lock)
        return new_offset
    finally:
        if not committed and stored is not None:
            storage.delete_quietly(target, [stored])
        lock.release()


class _Lock:
    """A PATCH's hold on one upload: taken, renewed and released by compare-and-set."""

    def __init__(self, upload: TusUpload, token: str) -> None:
        self.upload = upload
        self.token = token
        self.renewed = time.monotonic()

    @classmethod
    def take(cls, upload: TusUpload, offset: int | None) -> _Lock | HttpResponseBase:
        token = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex}"
        rows = TusUpload.objects.filter(pk=upload.pk, lock="")
        if offset is not None:
            rows = rows.filter(offset=offset)
        if rows.update(lock=token, locked_at=timezone.now()):
            return cls(upload, token)
        current = TusUpload.objects.filter(pk=upload.pk).first()
        if current is None:
            return _error(404, "not_found", "the upload was terminated")
        if offset is not None and current.offset != offset:
            return _offset_conflict(current, offset)
        if current.lock and _stale(current.lock, current.locked_at):
            rows = TusUpload.objects.filter(pk=upload.pk, lock=current.lock)
            if offset is not None:
                rows = rows.filter(offset=offset)
            if rows.update(lock=token, locked_at=timezone.now()):
                return cls(upload, token)
        response = _error(
            423,
            "locked",
            "another request is uploading to this upload now; retry when it has finished",
            reason="Locked",
        )
        response["Upload-Offset"] = str(current.offset)
        return response

    def renew(self, _received: int = 0) -> None:
        if time.monotonic() - self.renewed < conf.EXPECT_TUS_LOCK_TIMEOUT / 4:
            return
        self.renewed = time.monotonic()
        TusUpload.objects.filter(pk=self.upload.pk, lock=self.token).update(
            locked_at=timezone.now()
        )

    def commit(self, offset: int, new_offset: int, parts: list[str | None]) -> bool:
        return bool(
            TusUpload.objects.filter(pk=self.upload.pk, lock=self.token, offset=offset).update(
                offset=new_offset, parts=parts, locked_at=timezone.now()
            )
        )

    def release(self) -> None:
        TusUpload.objects.filter(pk=self.upload.pk, lock=self.token).update(lock="", locked_at=None)


def _stale(lock: str, locked_at: datetime | None) -> bool:
    """A lock whose holder is gone: a dead process on this host, or not renewed in time."""
    host, _, rest = lock.partition(":")
    pid_text = rest.partition(":")[0]
    if host == _HOST and pid_text.isdigit():
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    if locked_at is None:
        return True
    return bool(locked_at < timezone.now() - timedelta(seconds=conf.EXPECT_TUS_LOCK_TIMEOUT))


# -- completion --------------------------------------------------------------------------------


def _complete_if_due(
    request: HttpRequest, upload: TusUpload, lock: _Lock | None = None
) -> TusUpload:
    """Finish an upload that has all its bytes and no finished file yet (also one whose worker
    died between the last byte and the file): the file, then ``upload_completed``."""
    if upload.completed is not None or upload.length is None or upload.offset != upload.length:
        return upload
    own = lock is None
    if lock is None:
        taken = _Lock.take(upload, upload.offset)
        if isinstance(taken, HttpResponseBase):
            return upload  # someone else is finishing it
        lock = taken
    try:
        upload.refresh_from_db()
        if upload.completed is not None:
            return upload
        target = storage.tus_storage()
        parts = [p for p in upload.parts if p]
        if len(parts) == 1 and ".parts/" not in parts[0]:
            name = parts[0]  # written whole under its final name
        else:
            name = storage.assemble(
                target, parts, storage.final_name(upload.id, upload.metadata), upload.length
            )
        finished = TusUpload.objects.filter(pk=upload.pk, lock=lock.token).update(
            file_name=name, completed=timezone.now(), parts=[]
        )
        if not finished:  # terminated meanwhile
            storage.delete_quietly(target, [name])
            return upload
        if name not in parts:
            storage.delete_quietly(target, parts)
        upload.refresh_from_db()
    finally:
        if own:
            lock.release()
    upload_completed.send(
        sender=TusUpload,
        upload=upload,
        storage=target,
        name=upload.file_name,
        request=request,
        route=upload.route,
    )
    return upload
