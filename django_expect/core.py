"""The decision core: request head + upload policy -> decision. No Django, no gunicorn.

Invariants this module keeps:

* Everything is decided from the request *head* (method, version, header values). Nothing here
  reads, or may cause anyone to read, a body byte.
* A decision is a plain frozen value. ``Decision.proceed`` says whether the view may run;
  ``Decision.continue_timing`` says *when* ``100 Continue`` may go out (the action itself is
  ``ExpectContinueInput.send_continue()``); a rejection carries the precise status and a
  machine-readable reason.
* 417 is produced only for expectations the server cannot meet (an unknown token, or a policy
  that refuses ``100-continue``), never for a size, type or permission failure: clients such as
  curl re-send the whole body after a 417 (docs/explanation/limits.md).
* The order of checks is fixed and documented: expectation, framing, login, permission, size,
  media type. The view's own ``check`` callable runs after all of these (in the Django adapter).
* Requests that carry no body (no Transfer-Encoding, Content-Length absent or 0) are not subject
  to the policy at all: an upload view may render its form on GET.

Three enums describe ``100 Continue``; they answer different questions at different times::

    ExpectMode        (a policy: what the operator wants)     ON_READ  AFTER_CHECKS  REFUSE
    ContinueTiming    (a decision: this request, this policy) NOT_EXPECTED  WITHHOLD  ON_READ  NOW
    ContinueState     (continuation: the connection, now)     NOT_EXPECTED  AWAITING  SENT  WITHHELD

``decide`` maps a policy's ``ExpectMode`` and the head to a ``ContinueTiming`` (``AFTER_CHECKS``
becomes ``NOW``; ``REFUSE`` becomes a 417 when the client expects a 100); the Django adapter
turns the timing into calls on the input, whose ``ContinueState`` records what actually
happened (``ON_READ`` stays ``AWAITING`` until the first read, then ``SENT``). They are not
merged: a policy value, a per-request plan and a connection's state change at different times.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol

from django_expect.framing import parse_expect, parse_framing, parse_http_version

__all__ = [
    "SIZE_BUCKETS",
    "ContinueTiming",
    "Decision",
    "ExpectMode",
    "Identity",
    "PolicyError",
    "Reason",
    "RequestHead",
    "UploadPolicy",
    "decide",
    "format_size",
    "format_size_as",
    "media_type_allowed",
    "parse_size",
    "refusal",
    "validate_timeout",
]


class PolicyError(ValueError):
    """An upload policy argument is invalid. The message says which one and why."""


class ExpectMode(enum.Enum):
    """When ``100 Continue`` goes out once the policy has passed."""

    ON_READ = "on-read"  # when the view (or Django) first reads the body (PEP 3333, option 2)
    AFTER_CHECKS = "after-checks"  # as soon as the policy has passed, before the view runs
    REFUSE = "refuse"  # answer 417 to requests that carry Expect: 100-continue


class ContinueTiming(enum.Enum):
    """What the server should do about ``100 Continue`` for one request."""

    NOT_EXPECTED = "not-expected"  # the client is not waiting (no Expect, HTTP/1.0, no body)
    WITHHOLD = "withhold"  # a final status goes out instead; the body must not be invited
    ON_READ = "on-read"
    NOW = "now"


class Reason(enum.Enum):
    """Why a request was rejected before its body. The value is the JSON ``code``."""

    EXPECTATION_FAILED = "expectation_failed"  # 417
    BAD_REQUEST = "bad_request"  # 400: malformed framing headers
    LENGTH_REQUIRED = "length_required"  # 411
    LOGIN_REQUIRED = "login_required"  # 401
    PERMISSION_DENIED = "permission_denied"  # 403
    CONTENT_TOO_LARGE = "content_too_large"  # 413
    QUOTA_EXCEEDED = "quota_exceeded"  # 413: the declared length is over what the quota has left
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # 415
    REJECTED_BY_CHECK = "rejected_by_check"  # the view's own check answered
    # A per-request value (max_size/content_types callable) failed or was invalid: the server's
    # fault, not the client's, so 503 and not a 4xx; no traceback, no 500 page.
    POLICY_UNAVAILABLE = "policy_unavailable"  # 503
    # Not decided from the head: the body itself failed while the view was reading it.
    BODY_TIMEOUT = "body_timeout"  # 408: the body stopped arriving for longer than body_timeout
    INCOMPLETE_BODY = "incomplete_body"  # 400: the client closed before the declared length
    BODY_TOO_SLOW = "body_too_slow"  # 408: the body arrived slower than min_rate after the grace
    # Django's own form caps, broken while Django parsed request.POST (413: more content than
    # the server will process; Django itself answers 400).
    TOO_MANY_FIELDS = "too_many_fields"  # DATA_UPLOAD_MAX_NUMBER_FIELDS
    TOO_MANY_FILES = "too_many_files"  # DATA_UPLOAD_MAX_NUMBER_FILES

    @property
    def status(self) -> int:
        return _REASON_STATUS[self]


#: The refusals a report-only policy lets through: the policy's own checks. Protocol errors
#: (malformed framing, an unknown expectation) and a policy that could not be computed are
#: enforced whatever the mode.
REPORTABLE = frozenset(
    {
        Reason.LENGTH_REQUIRED,
        Reason.LOGIN_REQUIRED,
        Reason.PERMISSION_DENIED,
        Reason.CONTENT_TOO_LARGE,
        Reason.QUOTA_EXCEEDED,
        Reason.UNSUPPORTED_MEDIA_TYPE,
        Reason.REJECTED_BY_CHECK,
    }
)


_REASON_STATUS = {
    Reason.EXPECTATION_FAILED: 417,
    Reason.BAD_REQUEST: 400,
    Reason.LENGTH_REQUIRED: 411,
    Reason.LOGIN_REQUIRED: 401,
    Reason.PERMISSION_DENIED: 403,
    Reason.CONTENT_TOO_LARGE: 413,
    Reason.QUOTA_EXCEEDED: 413,
    Reason.UNSUPPORTED_MEDIA_TYPE: 415,
    Reason.REJECTED_BY_CHECK: 400,
    Reason.POLICY_UNAVAILABLE: 503,
    Reason.BODY_TIMEOUT: 408,
    Reason.INCOMPLETE_BODY: 400,
    Reason.BODY_TOO_SLOW: 408,
    Reason.TOO_MANY_FIELDS: 413,
    Reason.TOO_MANY_FILES: 413,
}


# --------------------------------------------------------------------------- sizes

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(value: int | str) -> int:
    """Bytes from an int or a string with a unit.

    Decimal units are powers of ten (``"10MB"`` = 10,000,000), binary units powers of two
    (``"10MiB"`` = 10,485,760); units are case-insensitive, a bare number means bytes.
    Fractions are allowed with a unit when they come to a whole number of bytes (``"1.5MB"``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PolicyError(f"a size must be an int or a string like '10MB', not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise PolicyError(f"a size cannot be negative: {value!r}")
        return value
    match = _SIZE_RE.match(value)
    if match is None or match.group(2).lower() not in _SIZE_UNITS:
        raise PolicyError(
            f"cannot read {value!r} as a size; use bytes or a unit: "
            "B, KB, MB, GB, TB (powers of 10) or KiB, MiB, GiB, TiB (powers of 2)"
        )
    number, unit = match.group(1), match.group(2).lower()
    multiplier = _SIZE_UNITS[unit]
    if "." in number:
        whole, frac = number.split(".")
        numerator = int(whole + frac) * multiplier
        denominator = 10 ** len(frac)
        if numerator % denominator:
            raise PolicyError(f"{value!r} is not a whole number of bytes")
        return int(numerator // denominator)
    return int(number) * multiplier


#: Upper bounds (bytes, inclusive) of the size histograms' buckets (``SizeHistogram``, the
#: Prometheus histograms): powers of 4 from 1 KiB to 4 GiB; one more bucket takes every larger
#: size.
SIZE_BUCKETS: tuple[int, ...] = tuple(1024 * 4**i for i in range(12))


def format_size(size: int) -> str:
    """A short human form of a byte count, exact where possible (``10 MB``, ``10 MiB``)."""
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


_DECIMAL_UNITS = (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3))
_BINARY_UNITS = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def format_size_as(size: int, reference: int) -> str:
    """``size`` in the unit system :func:`format_size` uses for ``reference`` (a limit).

    Beside a limit of 5,000,000 bytes ("5 MB") a size reads in MB, beside 5,242,880 ("5 MiB") in
    MiB, so a person compares like with like. It is rounded *up* to one decimal (never shown
    smaller than it is, so a size over the limit never reads as equal to it): 5,000,001 bytes
    beside 5 MB is "5.1 MB". Browsers' pre-check (static/django_expect/precheck.js) mirrors this.
    """
    units = _BINARY_UNITS if format_size(reference).endswith("iB") else _DECIMAL_UNITS
    for unit, factor in units:
        if size >= factor:
            tenths = -(-size * 10 // factor)  # ceiling division, in tenths of the unit
            whole, tenth = divmod(tenths, 10)
            return f"{whole} {unit}" if tenth == 0 else f"{whole}.{tenth} {unit}"
    return f"{size} bytes"


# --------------------------------------------------------------------------- media types

_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _media_type(value: str) -> str:
    """The ``type/subtype`` of a Content-Type value, lowercased, parameters dropped."""
    return value.split(";", 1)[0].strip().lower()


def _validate_media_range(value: object) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"content_types entries must be strings, not {value!r}")
    media = _media_type(value)
    parts = media.split("/")
    if (
        len(parts) != 2
        or not all(_TOKEN_RE.match(p) for p in parts)
        or (parts[0] == "*" and parts[1] != "*")
        or ("*" in parts[1] and parts[1] != "*")
        or ("*" in parts[0] and parts[0] != "*")
    ):
        raise PolicyError(
            f"{value!r} is not a media type or range (expected 'type/subtype', 'type/*' or '*/*')"
        )
    return media


def media_type_allowed(content_type: str | None, allowed: Iterable[str]) -> bool:
    """Whether a Content-Type value matches one of the allowed media ranges.

    Parameters (``; charset=...``, ``; boundary=...``) are ignored; matching is case-insensitive;
    ``image/*`` matches any image type and ``*/*`` anything that names a type.
    """
    if not content_type:
        return False
    media = _media_type(content_type)
    if media.count("/") != 1:
        return False
    main, _, _sub = media.partition("/")
    for allowed_range in allowed:
        if allowed_range == "*/*" or allowed_range == media:
            return True
        if allowed_range.endswith("/*") and allowed_range[:-2] == main:
            return True
    return False


# --------------------------------------------------------------------------- policy


def _validate_expect(value: object) -> ExpectMode:
    if isinstance(value, ExpectMode):
        return value
    try:
        return ExpectMode(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in ExpectMode)
        raise PolicyError(f"expect must be one of {choices}, not {value!r}") from None


def _finite_number(value: object, name: str, *, zero: bool, wanted: str) -> float | None:
    """``value`` as a finite float above 0 (``zero``: or 0), or None; else PolicyError saying
    ``name`` must be ``wanted``. The one check behind the time and rate validators."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (value >= 0 if zero else value > 0)
    ):
        raise PolicyError(f"{name} must be {wanted} or None, not {value!r}")
    if value == float("inf"):
        raise PolicyError(f"{name} must be finite; use None for the default")
    return float(value)


def validate_timeout(value: object, name: str = "body_timeout") -> float | None:
    """Seconds as a positive float, or None (no limit of its own)."""
    return _finite_number(value, name, zero=False, wanted="a positive number of seconds")


def validate_rate(value: object, name: str = "min_rate") -> float | None:
    """Bytes per second as a positive float, or None (no rate of its own)."""
    return _finite_number(value, name, zero=False, wanted="a positive number of bytes per second")


def validate_grace(value: object, name: str = "min_rate_grace") -> float | None:
    """Seconds as a float >= 0, or None (the default grace)."""
    return _finite_number(value, name, zero=True, wanted="0 or more seconds")


def _validate_permissions(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    names: Sequence[object] = (value,) if isinstance(value, str) else value  # type: ignore[assignment]
    try:
        names = tuple(names)
    except TypeError:
        raise PolicyError(
            f"permission must be a name like 'app.add_thing' or a list of them, not {value!r}"
        ) from None
    for name in names:
        if not isinstance(name, str) or name.count(".") < 1 or not all(name.split(".", 1)):
            raise PolicyError(f"permission names look like 'app_label.codename', not {name!r}")
    return tuple(names)  # type: ignore[arg-type]


@dataclass(frozen=True)
class UploadPolicy:
    """What a view accepts as a request body, decided from the head alone.

    Build it with :meth:`build` (which validates and normalises user input) or directly from
    already-normalised values.
    """

    max_size: int | None = None
    content_types: tuple[str, ...] | None = None
    login_required: bool = False
    permissions: tuple[str, ...] = ()
    check: Callable[..., object] | None = field(default=None, compare=False)
    expect: ExpectMode = ExpectMode.ON_READ
    #: Seconds the body may stop arriving (and the client may take to start it after the 100)
    #: before the request is answered 408; None means the server-wide default applies.
    body_timeout: float | None = None
    #: Per-request values: ``(request) -> value`` callables, evaluated from the head by
    #: :meth:`for_request`; while one is set, the literal field beside it is None.
    max_size_from: Callable[[Any], object] | None = field(default=None, compare=False)
    content_types_from: Callable[[Any], object] | None = field(default=None, compare=False)
    #: Report-only: a would-be refusal is logged, counted and signalled, and the request goes on
    #: as if the policy had accepted it (see :data:`REPORTABLE`).
    report_only: bool = False
    #: ``(request) -> (key, remaining_bytes)``: a quota, checked from the head and reserved
    #: while the upload is in flight (:mod:`django_expect.quotas`).
    quota: Callable[[Any], object] | None = field(default=None, compare=False)

    @property
    def per_request(self) -> tuple[str, ...]:
        """The fields whose value depends on the request (``max_size``, ``content_types``)."""
        return tuple(
            name
            for name, source in (
                ("max_size", self.max_size_from),
                ("content_types", self.content_types_from),
            )
            if source is not None
        )

    def replaced(self, **changes: Any) -> UploadPolicy:
        """``dataclasses.replace`` that also drops the per-request callable of a field given a
        literal value (an operator's override or the admin's site-wide value)."""
        for name in ("max_size", "content_types"):
            if name in changes and f"{name}_from" not in changes:
                changes[f"{name}_from"] = None
        return replace(self, **changes)

    def for_request(self, request: object) -> UploadPolicy:
        """The policy with its per-request values evaluated for ``request`` and validated like
        literals. Raises PolicyError naming the argument when a callable fails or returns a
        value ``upload_policy`` would refuse."""
        if not self.per_request:
            return self
        changes: dict[str, Any] = {}
        if self.max_size_from is not None:
            value = _call(self.max_size_from, request, "max_size")
            try:
                changes["max_size"] = None if value is None else parse_size(value)  # type: ignore[arg-type]
            except PolicyError as error:
                raise PolicyError(f"max_size callable returned {value!r}: {error}") from None
        if self.content_types_from is not None:
            value = _call(self.content_types_from, request, "content_types")
            try:
                changes["content_types"] = _content_types(value)
            except PolicyError as error:
                raise PolicyError(f"content_types callable returned {value!r}: {error}") from None
            except TypeError:
                raise PolicyError(
                    f"content_types callable returned {value!r}: not a media type or a list"
                ) from None
        return self.replaced(**changes)

    #: Bytes per second the body must keep up on average once ``min_rate_grace`` seconds have
    #: passed since it was invited (else 408); None means the server-wide default applies.
    min_rate: float | None = None
    #: Seconds after the body is invited before ``min_rate`` is enforced; None: the default.
    min_rate_grace: float | None = None

    @classmethod
    def build(
        cls,
        max_size: int | str | Callable[[Any], object] | None = None,
        content_types: str | Iterable[str] | Callable[[Any], object] | None = None,
        login_required: bool = False,
        permission: str | Iterable[str] | None = None,
        check: Callable[..., object] | None = None,
        expect: str | ExpectMode = "on-read",
        body_timeout: float | None = None,
        report_only: bool = False,
        quota: Callable[[Any], object] | None = None,
        min_rate: float | None = None,
        min_rate_grace: float | None = None,
    ) -> UploadPolicy:
        """Validate ``upload_policy``'s arguments into a policy, or raise PolicyError.

        ``max_size`` and ``content_types`` may also be callables ``(request) -> value``,
        evaluated per request (:meth:`for_request`).
        """
        size_from = max_size if callable(max_size) else None
        types_from = content_types if callable(content_types) else None
        size = None if max_size is None or size_from is not None else parse_size(max_size)  # type: ignore[arg-type]
        types = None if types_from is not None else _content_types(content_types)
        if not isinstance(login_required, bool):
            raise PolicyError(f"login_required must be True or False, not {login_required!r}")
        if quota is not None and not callable(quota):
            raise PolicyError(
                f"quota must be a callable (request) -> (key, remaining_bytes), not {quota!r}"
            )
        if not isinstance(report_only, bool):
            raise PolicyError(f"report_only must be True or False, not {report_only!r}")
        if check is not None and not callable(check):
            raise PolicyError(
                f"check must be a callable (request) -> None | HttpResponse, not {check!r}"
            )
        return cls(
            max_size=size,
            content_types=types,
            login_required=login_required,
            permissions=_validate_permissions(permission),
            check=check,
            expect=_validate_expect(expect),
            body_timeout=validate_timeout(body_timeout),
            max_size_from=size_from,
            content_types_from=types_from,
            report_only=report_only,
            quota=quota,
            min_rate=validate_rate(min_rate),
            min_rate_grace=validate_grace(min_rate_grace),
        )


def _content_types(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    raw = (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
    if not raw:
        raise PolicyError("content_types is empty: nothing could ever be uploaded")
    return tuple(_validate_media_range(v) for v in raw)


def _call(source: Callable[[Any], object], request: object, name: str) -> object:
    try:
        return source(request)
    except Exception as error:  # the project's code: a refusal, never a crash
        raise PolicyError(f"{name} callable raised {type(error).__name__}: {error}") from error


# --------------------------------------------------------------------------- request head


class RequestHead(NamedTuple):
    """The parts of a request head the decision needs; header values as received (or None).

    An immutable value (a named tuple: built once per request with a body, so it is cheap).
    """

    method: str = "POST"
    http_version: tuple[int, int] = (1, 1)
    expect: str | None = None
    content_length: str | None = None
    transfer_encoding: str | None = None
    content_type: str | None = None

    @classmethod
    def from_wsgi(cls, environ: Mapping[str, Any]) -> RequestHead:
        """Build from a WSGI environ (or Django's ``request.META``); empty values are absent."""
        get = environ.get
        return cls(
            method=str(get("REQUEST_METHOD") or "GET").upper(),
            http_version=parse_http_version(get("SERVER_PROTOCOL")),
            expect=get("HTTP_EXPECT") or None,
            content_length=get("CONTENT_LENGTH") or None,
            transfer_encoding=get("HTTP_TRANSFER_ENCODING") or None,
            content_type=get("CONTENT_TYPE") or None,
        )


class Identity(Protocol):
    """What the core needs to know about the requesting user (Django's user objects fit)."""

    @property
    def is_authenticated(self) -> bool: ...

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool: ...


# --------------------------------------------------------------------------- decision


class Decision(NamedTuple):
    """The outcome for one request head under one policy (an immutable named tuple)."""

    proceed: bool
    continue_timing: ContinueTiming
    reason: Reason | None = None
    message: str = ""
    limit: int | None = None  # the size limit, for CONTENT_TOO_LARGE
    allowed: tuple[str, ...] | None = None  # the allowed media ranges, for UNSUPPORTED_MEDIA_TYPE
    has_body: bool = False  # the request carries a body (Content-Length > 0 or Transfer-Encoding)
    chunked: bool = False  # the body length is not declared (Transfer-Encoding)
    declared_length: int | None = None
    check_status: int | None = None  # REJECTED_BY_CHECK: the status of the check's own response
    detail: str = ""  # POLICY_UNAVAILABLE: what failed, for the log (never sent to the client)

    @property
    def status(self) -> int | None:
        """The status the client is answered with (None when the request proceeds)."""
        if self.check_status is not None:
            return self.check_status
        return None if self.reason is None else self.reason.status

    @property
    def close_connection(self) -> bool:
        """A rejection leaves the body unread: the connection must close after the response."""
        return not self.proceed and self.has_body


class _Framing(NamedTuple):
    expects_continue: bool
    unknown_expectation: str | None
    has_body: bool
    chunked: bool
    declared_length: int | None
    error: str | None


def _framing(head: RequestHead) -> _Framing:
    expects, unknown = parse_expect(head.expect, head.http_version)
    body = parse_framing(head.content_length, head.transfer_encoding)
    return _Framing(expects, unknown, body.has_body, body.chunked, body.length, body.error)


def _reject(framing: _Framing, reason: Reason, message: str, **extra: object) -> Decision:
    return Decision(
        proceed=False,
        continue_timing=(
            ContinueTiming.WITHHOLD if framing.expects_continue else ContinueTiming.NOT_EXPECTED
        ),
        reason=reason,
        message=message,
        has_body=framing.has_body,
        chunked=framing.chunked,
        declared_length=framing.declared_length,
        **extra,  # type: ignore[arg-type]
    )


def refusal(
    reason: Reason,
    message: str = "",
    *,
    head: Decision | None = None,
    continue_timing: ContinueTiming = ContinueTiming.NOT_EXPECTED,
    **extra: Any,
) -> Decision:
    """A refusal decided after the head passed (the body broke a limit or stalled, the view's
    check answered, a quota ran out): the one constructor of such decisions. ``head`` is the
    head's own decision, whose framing (chunked, declared length) the refusal carries unless
    ``extra`` gives them; the body
    is there (``has_body``), so the connection closes after the response."""
    if head is not None:
        extra.setdefault("chunked", head.chunked)
        extra.setdefault("declared_length", head.declared_length)
    return Decision(
        proceed=False,
        continue_timing=continue_timing,
        reason=reason,
        message=message,
        has_body=True,
        **extra,
    )


def decide(
    head: RequestHead,
    policy: UploadPolicy,
    user: Identity | None = None,
    *,
    allow_chunked: bool = True,
) -> Decision:
    """Decide, from the head alone, whether the view may have this request's body.

    ``user`` is consulted only when the policy asks for a login or permissions (``None`` counts
    as anonymous). ``allow_chunked=False`` answers 411 to bodies of undeclared length.
    """
    framing = _framing(head)

    if framing.unknown_expectation is not None:
        return _reject(
            framing,
            Reason.EXPECTATION_FAILED,
            f"the expectation {framing.unknown_expectation!r} is not supported",
        )
    if not framing.has_body and framing.error is None:
        # Nothing will be uploaded: the policy has nothing to decide. RFC 9110 10.1.1: the 100
        # may be omitted when there is no content.
        return Decision(
            proceed=True,
            continue_timing=ContinueTiming.NOT_EXPECTED,
            declared_length=framing.declared_length,
        )
    if policy.expect is ExpectMode.REFUSE and framing.expects_continue:
        return _reject(
            framing,
            Reason.EXPECTATION_FAILED,
            "this resource does not take 'Expect: 100-continue'; send the request without it",
        )
    if framing.error is not None:
        return _reject(framing, Reason.BAD_REQUEST, framing.error)
    if framing.chunked and not allow_chunked:
        return _reject(
            framing, Reason.LENGTH_REQUIRED, "this resource needs a Content-Length for uploads"
        )
    if policy.login_required or policy.permissions:
        authenticated = user is not None and bool(user.is_authenticated)
        if policy.login_required and not authenticated:
            return _reject(framing, Reason.LOGIN_REQUIRED, "log in to upload here")
        if policy.permissions and (user is None or not user.has_perms(policy.permissions)):
            return _reject(framing, Reason.PERMISSION_DENIED, "you are not allowed to upload here")
    if (
        policy.max_size is not None
        and framing.declared_length is not None
        and framing.declared_length > policy.max_size
    ):
        return _reject(
            framing,
            Reason.CONTENT_TOO_LARGE,
            f"the body is {framing.declared_length} bytes; the limit is {policy.max_size} bytes"
            f" ({format_size(policy.max_size)})",
            limit=policy.max_size,
        )
    if policy.content_types is not None and not media_type_allowed(
        head.content_type, policy.content_types
    ):
        shown = head.content_type or "no Content-Type"
        return _reject(
            framing,
            Reason.UNSUPPORTED_MEDIA_TYPE,
            f"{shown} is not accepted here; send one of: {', '.join(policy.content_types)}",
            allowed=policy.content_types,
        )

    if not framing.expects_continue:
        timing = ContinueTiming.NOT_EXPECTED
    elif policy.expect is ExpectMode.AFTER_CHECKS:
        timing = ContinueTiming.NOW
    else:
        timing = ContinueTiming.ON_READ
    return Decision(
        proceed=True,
        continue_timing=timing,
        has_body=True,
        chunked=framing.chunked,
        declared_length=framing.declared_length,
    )


def policy_unavailable(head: RequestHead, detail: str) -> Decision:
    """The refusal when a per-request policy value could not be computed (``detail`` says
    which and why; it is logged, not sent): 503, the 100 withheld, the body left unread. What
    ``decide`` answers before any policy value matters (an unknown expectation, malformed
    framing, no body at all) is answered the same here."""
    before = decide(head, UploadPolicy())
    if not before.proceed or not before.has_body:
        return before
    return _reject(
        _framing(head),
        Reason.POLICY_UNAVAILABLE,
        "the upload limits for this request could not be determined; try again later",
        detail=detail,
    )
