"""``UploadPolicy.build`` (what ``upload_policy`` and ``EXPECT_DEFAULT_POLICY`` go through):
every argument it refuses, with the message naming it, and what it normalises."""

from __future__ import annotations

from typing import Any

import pytest

from django_expect.core import ExpectMode, PolicyError, UploadPolicy


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"login_required": "yes"}, "login_required must be True or False"),
        ({"login_required": 1}, "login_required must be True or False"),
        ({"report_only": None}, "report_only must be True or False"),
        ({"quota": 5}, "quota must be a callable"),
        ({"check": "not callable"}, "check must be a callable"),
        ({"expect": "later"}, "expect must be one of 'on-read', "),
        ({"min_rate": float("inf")}, "min_rate must be finite"),
        ({"min_rate_grace": float("inf")}, "min_rate_grace must be finite"),
        ({"body_timeout": float("inf")}, "body_timeout must be finite"),
        ({"permission": 5}, "permission must be a name like 'app.add_thing'"),
        ({"permission": ["files.add", "nodot"]}, "permission names look like"),
        ({"permission": ".codename"}, "permission names look like"),
        ({"content_types": []}, "content_types is empty"),
    ],
)
def test_refused_arguments_name_themselves(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("(", r"\(")):
        UploadPolicy.build(**arguments)


def test_an_expect_mode_and_its_text_build_the_same_policy() -> None:
    for mode in ExpectMode:
        assert UploadPolicy.build(expect=mode) == UploadPolicy.build(expect=mode.value)
        assert UploadPolicy.build(expect=mode).expect is mode


def test_one_permission_name_or_several_become_the_permissions_tuple() -> None:
    assert UploadPolicy.build(permission="files.add_file").permissions == ("files.add_file",)
    assert UploadPolicy.build(permission=["a.x", "b.y"]).permissions == ("a.x", "b.y")
    assert UploadPolicy.build(permission=iter(["a.x"])).permissions == ("a.x",)
    assert UploadPolicy.build().permissions == ()


def test_a_per_request_content_types_alone_leaves_max_size_literal() -> None:
    policy = UploadPolicy.build(max_size="1KB", content_types=lambda request: "image/png")
    assert policy.per_request == ("content_types",)
    evaluated = policy.for_request(object())
    assert (evaluated.max_size, evaluated.content_types) == (1000, ("image/png",))
    assert evaluated.content_types_from is None and evaluated.per_request == ()


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (42, "content_types callable returned 42: not a media type or a list"),
        ([], r"content_types callable returned \[\]: content_types is empty"),
    ],
)
def test_a_per_request_content_types_that_returns_nonsense_is_refused(
    returned: object, message: str
) -> None:
    policy = UploadPolicy.build(content_types=lambda request: returned)
    with pytest.raises(PolicyError, match=message):
        policy.for_request(object())


def test_a_per_request_max_size_that_raises_names_the_argument() -> None:
    def broken(request: object) -> int:
        raise KeyError("tier")

    with pytest.raises(PolicyError, match="max_size callable raised KeyError"):
        UploadPolicy.build(max_size=broken).for_request(object())


def test_the_decorator_takes_exactly_the_arguments_build_validates() -> None:
    """``upload_policy`` repeats ``UploadPolicy.build``'s signature on purpose (it is the typed,
    documented one users call): the two must not drift."""
    import inspect

    from django_expect import upload_policy

    decorator = inspect.signature(upload_policy).parameters
    build = inspect.signature(UploadPolicy.build).parameters
    assert list(decorator) == list(build)
    for name, parameter in decorator.items():
        assert (parameter.default, parameter.annotation) == (
            build[name].default,
            build[name].annotation,
        ), name
