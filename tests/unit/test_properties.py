"""Property-based checks of the decision core (hypothesis): any head, any policy, RFC answers.

An independent oracle below restates RFC 9110 10.1.1 / RFC 9112 6.3 and the documented order of
checks (expectation, framing, login, permission, size, media type); ``decide`` must agree with it
on every generated combination of method, version, Expect values (case, lists, duplicates,
unknown tokens), Content-Length (missing, zero, huge, malformed, repeated), Transfer-Encoding
and policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from django_expect.core import (
    ContinueTiming,
    ExpectMode,
    Reason,
    RequestHead,
    UploadPolicy,
    decide,
)
from tests.fakes import examples

settings.register_profile("ci", max_examples=examples(600), deadline=None)
settings.load_profile("ci")


@dataclass
class User:
    is_authenticated: bool
    perms: frozenset[str]

    def has_perms(self, perm_list: object, obj: object = None) -> bool:
        return set(perm_list) <= self.perms  # type: ignore[call-overload]


def _case(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flags: "".join(c.upper() if f else c for c, f in zip(text, flags, strict=True))
    )


expect_token = st.one_of(
    _case("100-continue"),
    st.sampled_from(["100-Continue ", " 100-continue", "gzip", "200-ok", "100-continue=1", "x"]),
)
expect_values = st.one_of(
    st.none(),
    st.just(""),
    st.lists(expect_token, min_size=1, max_size=4).flatmap(
        lambda tokens: st.sampled_from([", ", ",", " , ", ",,"]).map(lambda sep: sep.join(tokens))
    ),
)
lengths = st.one_of(
    st.none(),
    st.just("0"),
    st.integers(0, 10**20).map(str),
    st.sampled_from(["-1", "1e3", "abc", "", " 12 ", "0x10", "1 2", "+5", "\uff11\uff12"]),
    st.integers(0, 5000).flatmap(lambda n: st.sampled_from([f"{n}, {n}", f"{n},{n + 1}", f"{n},"])),
)
transfer_encodings = st.one_of(
    st.none(),
    st.sampled_from(["chunked", "Chunked", "gzip, chunked", "chunked, gzip", "identity", " ", ""]),
)
content_types = st.one_of(
    st.none(),
    st.sampled_from(["image/png", "IMAGE/JPEG; q=1", "text/plain", "application/pdf", "bogus", ""]),
)
heads = st.builds(
    RequestHead,
    method=st.sampled_from(["POST", "PUT", "PATCH", "GET", "DELETE"]),
    http_version=st.sampled_from([(1, 0), (1, 1), (2, 0)]),
    expect=expect_values,
    content_length=lengths,
    transfer_encoding=transfer_encodings,
    content_type=content_types,
)
policies = st.builds(
    UploadPolicy,
    max_size=st.one_of(st.none(), st.integers(0, 10**12)),
    content_types=st.one_of(st.none(), st.just(("image/*", "application/pdf"))),
    login_required=st.booleans(),
    permissions=st.sampled_from([(), ("demo.add_thing",)]),
    expect=st.sampled_from(list(ExpectMode)),
)
users = st.one_of(
    st.none(),
    st.builds(User, st.booleans(), st.sampled_from([frozenset(), frozenset({"demo.add_thing"})])),
)


def oracle(head: RequestHead, policy: UploadPolicy, user: User | None) -> Reason | None:
    """The reason a request must be refused before its body, or None (it may proceed)."""
    tokens = [t.strip().lower() for t in (head.expect or "").split(",") if t.strip()]
    if any(t != "100-continue" for t in tokens):
        return Reason.EXPECTATION_FAILED
    te = (head.transfer_encoding or "").strip()
    length: int | None = None
    malformed = False
    if te:
        last = te.split(",")[-1].strip().lower()
        malformed = last != "chunked" or head.content_length is not None
    elif head.content_length is not None:
        values = {v.strip() for v in head.content_length.split(",")}
        value = values.pop() if len(values) == 1 else ""
        if value.isascii() and value.isdigit():
            length = int(value)
        else:
            malformed = True
    has_body = bool(te) or bool(length)
    if not has_body and not malformed:
        return None
    if policy.expect is ExpectMode.REFUSE and tokens and head.http_version >= (1, 1):
        return Reason.EXPECTATION_FAILED
    if malformed:
        return Reason.BAD_REQUEST
    authenticated = user is not None and user.is_authenticated
    if policy.login_required and not authenticated:
        return Reason.LOGIN_REQUIRED
    if policy.permissions and (user is None or not user.has_perms(policy.permissions)):
        return Reason.PERMISSION_DENIED
    if policy.max_size is not None and length is not None and length > policy.max_size:
        return Reason.CONTENT_TOO_LARGE
    if policy.content_types is not None:
        media = (head.content_type or "").split(";")[0].strip().lower()
        image = media.startswith("image/") and media.count("/") == 1
        if not image and media != "application/pdf":
            return Reason.UNSUPPORTED_MEDIA_TYPE
    return None


@given(heads, policies, users)
def test_decide_agrees_with_the_rfc_oracle(
    head: RequestHead, policy: UploadPolicy, user: User | None
) -> None:
    decision = decide(head, policy, user)
    expected = oracle(head, policy, user)
    assert decision.reason is expected, (decision, expected)
    assert decision.proceed is (expected is None)
    if decision.reason is not None:
        assert decision.status == decision.reason.status


@given(heads, policies, users)
def test_417_only_for_expectations_never_for_size_type_or_permission(
    head: RequestHead, policy: UploadPolicy, user: User | None
) -> None:
    decision = decide(head, policy, user)
    if decision.status == 417:
        refused = policy.expect is ExpectMode.REFUSE
        assert refused or any(
            t.strip().lower() != "100-continue" for t in (head.expect or "").split(",") if t.strip()
        )


@given(heads, policies, users)
def test_the_100_is_promised_only_to_http_1_1_clients_that_asked_and_passed(
    head: RequestHead, policy: UploadPolicy, user: User | None
) -> None:
    decision = decide(head, policy, user)
    asked = bool((head.expect or "").strip(" ,")) and head.http_version >= (1, 1)
    if decision.continue_timing in (ContinueTiming.ON_READ, ContinueTiming.NOW):
        assert decision.proceed and decision.has_body and asked
        assert (decision.continue_timing is ContinueTiming.NOW) is (
            policy.expect is ExpectMode.AFTER_CHECKS
        )
    if not decision.proceed:
        assert decision.continue_timing in (ContinueTiming.WITHHOLD, ContinueTiming.NOT_EXPECTED)
    if head.http_version < (1, 1):
        assert decision.continue_timing is not ContinueTiming.WITHHOLD or not decision.has_body


@given(heads, policies, users)
def test_every_rejection_of_a_body_closes_the_connection(
    head: RequestHead, policy: UploadPolicy, user: User | None
) -> None:
    decision = decide(head, policy, user)
    assert decision.close_connection is (not decision.proceed and decision.has_body)
    if decision.proceed:
        assert not decision.close_connection


@given(heads, policies, users)
def test_decide_is_pure(head: RequestHead, policy: UploadPolicy, user: User | None) -> None:
    assert decide(head, policy, user) == decide(head, policy, user)


@given(st.one_of(st.floats(allow_nan=True), st.integers(-5, 5), st.text(max_size=3), st.none()))
def test_body_timeout_accepts_only_positive_finite_seconds(value: object) -> None:
    from django_expect.core import PolicyError

    ok = value is None or (isinstance(value, (int, float)) and value > 0 and value != float("inf"))
    try:
        policy = UploadPolicy.build(body_timeout=value)  # type: ignore[arg-type]
    except PolicyError:
        assert not ok
    else:
        assert ok
        expected = None if value is None else float(value)  # type: ignore[arg-type]
        assert policy.body_timeout == expected


def test_regression_non_ascii_digits_are_not_a_content_length() -> None:
    """Found by the oracle: str.isdigit() took fullwidth 12 as 12; int() raised on superscripts."""
    for value in ("\uff11\uff12", "\u00b2", "\u0661\u0662"):
        decision = decide(RequestHead(content_length=value), UploadPolicy())
        assert decision.reason is Reason.BAD_REQUEST, value
