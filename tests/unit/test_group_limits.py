"""Admin limits per user group (issue 22), without a server: the most-permissive rule, route
overrides and the site-wide Upload settings, the group lookup only where group rows exist (and
once per request), the audit and exports saying "per group", and the admin inline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.test import override_settings

from django_expect import overrides
from django_expect.core import UploadPolicy
from django_expect.export import as_dict, render
from django_expect.models import GroupLimit, PolicyOverride, UploadSettings
from django_expect.overrides import GroupRule, OverrideRegistry, apply_group_limits
from django_expect.resolution import request_policy
from django_expect.routes import describe_routes
from tests.unit.test_operations import run_view, upload

GB = 1_000_000_000


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[OverrideRegistry]:
    with override_settings(EXPECT_OVERRIDES_REFRESH=5):
        fresh = OverrideRegistry(background=False)
        monkeypatch.setattr(overrides, "registry", fresh)
        yield fresh


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    pro, team = Group.objects.create(name="pro"), Group.objects.create(name="team")
    free = User.objects.create_user("free")
    paying = User.objects.create_user("paying")
    paying.groups.add(pro)
    both = User.objects.create_user("both")
    both.groups.add(pro, team)
    return {"free": free, "paying": paying, "both": both, "anonymous": AnonymousUser()}


def _as(user: Any, path: str, length: int, content_type: str | None = None) -> Any:
    request, _wire = upload(path, length)
    if content_type is not None:
        request.META["CONTENT_TYPE"] = content_type
    request.user = user
    return request


def _status(user: Any, path: str, length: int, content_type: str | None = None) -> int:
    response = run_view(_as(user, path, length, content_type))
    return 100 if response is None else int(response.status_code)


# -- the rule: per field, the most permissive value the matching groups set ---------------------


def test_the_most_permissive_matching_group_wins_per_field() -> None:
    code = UploadPolicy(max_size=1000, content_types=("text/plain",))
    rules = (
        GroupRule("big", max_size=GB),
        GroupRule("bigger", max_size=2 * GB),
        GroupRule("images", content_types=("image/*",)),
        GroupRule("pdf", content_types=("application/pdf", "image/*")),
        GroupRule("unlimited", no_size_limit=True),
        GroupRule("trial", max_size=10),
        GroupRule("anything", content_types=("*/*",)),
    )

    def apply(*groups: str) -> UploadPolicy:
        return apply_group_limits(code, rules, frozenset(groups))

    assert apply() is code
    assert apply("nobody") is code
    assert apply("big").max_size == GB
    assert apply("big", "bigger").max_size == 2 * GB
    assert apply("big", "unlimited").max_size is None  # no limit beats any size
    assert apply("trial").max_size == 10  # a group may also narrow (alone)
    assert apply("trial", "big").max_size == GB
    # content types: a field no matching group sets keeps the route's value
    assert apply("big").content_types == ("text/plain",)
    assert apply("images").content_types == ("image/*",)
    assert apply("images", "pdf").content_types == ("image/*", "application/pdf")
    assert apply("images", "anything").content_types is None  # */*: any
    assert apply("images").max_size == 1000


def test_a_group_value_replaces_a_per_request_callable() -> None:
    code = UploadPolicy.build(max_size=lambda r: 5)
    policy = apply_group_limits(code, (GroupRule("pro", max_size=GB),), frozenset({"pro"}))
    assert policy.max_size == GB and policy.per_request == ()


# -- on a route override ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_override_gives_a_group_its_own_limit(
    registry: OverrideRegistry, users: dict[str, Any]
) -> None:
    override = PolicyOverride.objects.create(route="lab-small")
    GroupLimit.objects.create(override=override, group="pro", max_size=GB)
    assert _status(users["paying"], "/lab/small", 5000) == 100
    assert _status(users["both"], "/lab/small", 5000) == 100
    assert _status(users["free"], "/lab/small", 5000) == 413
    assert _status(users["anonymous"], "/lab/small", 5000) == 413
    response = run_view(_as(users["free"], "/lab/small", 5000))
    assert json.loads(response.content)["error"]["limit"] == 1000

    # the rows reach another process's copy through the change counter (one reload)
    other = OverrideRegistry(background=False)
    other.refresh()
    (loaded,) = other.current().values()
    assert loaded.groups == (GroupRule("pro", max_size=GB),)


@pytest.mark.django_db
def test_a_disabled_override_ignores_its_groups(
    registry: OverrideRegistry, users: dict[str, Any]
) -> None:
    override = PolicyOverride.objects.create(route="lab-small", disabled=True)
    GroupLimit.objects.create(override=override, group="pro", max_size=10)
    assert _status(users["paying"], "/lab/small", 5000) == 100
    request = _as(users["paying"], "/lab/small", 5000)
    assert request_policy(request, request.resolver_match.func).group_rules == ()


@pytest.mark.django_db
def test_changing_and_deleting_group_rows_applies_at_once(
    registry: OverrideRegistry, users: dict[str, Any]
) -> None:
    override = PolicyOverride.objects.create(route="lab-small")
    row = GroupLimit.objects.create(override=override, group="pro", max_size=GB)
    assert _status(users["paying"], "/lab/small", 5000) == 100
    row.max_size = 2000
    row.save()
    assert _status(users["paying"], "/lab/small", 5000) == 413
    row.delete()
    assert _status(users["paying"], "/lab/small", 1500) == 413
    GroupLimit.objects.create(override=override, group="pro", max_size=GB)
    override.delete()  # its group rows go with it
    assert _status(users["paying"], "/lab/small", 5000) == 413
    assert registry.current() == {}


# -- in the site-wide Upload settings -----------------------------------------------------------


@pytest.mark.django_db
def test_site_wide_group_limits_apply_to_views_without_a_declared_policy(
    registry: OverrideRegistry, users: dict[str, Any]
) -> None:
    site = UploadSettings.objects.create(max_size=1000)
    GroupLimit.objects.create(settings=site, group="pro", max_size=GB)
    GroupLimit.objects.create(settings=site, group="team", content_types="image/*")
    assert _status(users["paying"], "/lab/echo", 5000) == 100
    assert _status(users["free"], "/lab/echo", 5000) == 413
    # a decorated view's arguments are its whole policy: site-wide groups do not touch it
    assert _status(users["paying"], "/lab/small", 5000) == 413
    # the override layer beats the site-wide one, group rows included
    PolicyOverride.objects.create(route="lab-echo", max_size=2000)
    assert _status(users["paying"], "/lab/echo", 5000) == 413
    request = _as(users["both"], "/lab/echo", 100)
    resolution = request_policy(request, request.resolver_match.func)
    assert resolution.member_of == {"pro", "team"}
    assert resolution.policy.content_types == ("image/*",)
    assert resolution.sources["content_types"] == "group"


# -- cost: no lookup on routes without group rows, one query per request where there are -------


@pytest.mark.django_db
def test_the_groups_are_read_only_where_group_rows_exist_and_once_per_request(
    registry: OverrideRegistry, users: dict[str, Any], django_assert_num_queries: Any
) -> None:
    override = PolicyOverride.objects.create(route="lab-small")
    GroupLimit.objects.create(override=override, group="pro", max_size=GB)
    registry.refresh()
    paying = User.objects.get(username="paying")  # a fresh instance: no cached relations
    with django_assert_num_queries(0):
        for _ in range(20):
            assert _status(paying, "/lab/types", 10, "image/png") == 100
    with django_assert_num_queries(1):
        request = _as(paying, "/lab/small", 5000)
        assert run_view(request) is None
        view = request.resolver_match.func
        assert request_policy(request, view).policy.max_size == GB  # cached on the request
    with django_assert_num_queries(0):  # anonymous: nothing to look up
        assert _status(AnonymousUser(), "/lab/small", 5000) == 413


# -- the audit, the exports, the admin ----------------------------------------------------------


@pytest.mark.django_db
def test_the_audit_and_exports_say_per_group(
    registry: OverrideRegistry, users: dict[str, Any]
) -> None:
    override = PolicyOverride.objects.create(route="lab-small")
    GroupLimit.objects.create(override=override, group="pro", max_size=GB)
    GroupLimit.objects.create(override=override, group="team", no_size_limit=True)
    (entry,) = [e for e in describe_routes() if e.route.name == "lab-small"]
    assert entry.per_group == ("max_size",)
    assert entry.size_display == "1 kB; per group: pro 1 GB, team no limit"
    data = as_dict(entry)
    assert data["per_group"] == {
        "pro": {"max_size": GB, "content_types": None},
        "team": {"max_size": None, "content_types": None},
    }
    assert data["max_size"] == 1000
    assert "per group: pro 1 GB" in render([entry], "text")
    # a proxy cannot tell the groups apart: it gets the most permissive size (here none)
    assert "client_max_body_size 0;" in render([entry], "nginx")


@pytest.mark.django_db
def test_the_admin_edits_group_limits_inline(admin_client: Any) -> None:
    Group.objects.create(name="pro")
    page = admin_client.get("/admin/django_expect/policyoverride/add/")
    assert page.status_code == 200
    assert b"group_limits-0-group" in page.content
    assert b'<option value="pro">pro</option>' in page.content  # existing groups to pick from
    response = admin_client.post(
        "/admin/django_expect/policyoverride/add/",
        {
            "route": "lab-small",
            "group_limits-TOTAL_FORMS": "1",
            "group_limits-INITIAL_FORMS": "0",
            "group_limits-0-group": "pro",
            "group_limits-0-max_size": "1GB",
            "group_limits-0-content_types": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    row = GroupLimit.objects.get()
    assert (row.override.route, row.group, row.max_size) == ("lab-small", "pro", GB)
    page = admin_client.get("/admin/django_expect/uploadsettings/", follow=True)
    assert page.status_code == 200
    assert b"group_limits-0-group" in page.content
    table = admin_client.get("/admin/django_expect/policyoverride/")
    assert b"per group: pro 1 GB" in table.content


@pytest.mark.django_db
def test_a_post_without_the_group_rows_leaves_them_as_they_are(admin_client: Any) -> None:
    override = PolicyOverride.objects.create(route="lab-small")
    GroupLimit.objects.create(override=override, group="pro", max_size=GB)
    response = admin_client.post(
        f"/admin/django_expect/policyoverride/{override.pk}/change/",
        {"route": "lab-small", "max_size": "2kB"},  # a script posting the override's fields
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert PolicyOverride.objects.get().max_size == 2000
    assert GroupLimit.objects.get().max_size == GB
