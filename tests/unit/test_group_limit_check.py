"""django_expect.W009: a group limit row naming a user group that does not exist applies to
nobody (groups are matched by name); a ``database`` check, silent without ``--database``."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core import checks

from django_expect.checks import check_group_limits
from django_expect.models import GroupLimit, PolicyOverride, UploadSettings


@pytest.mark.django_db
def test_rows_naming_no_group_are_reported() -> None:
    Group.objects.create(name="pro")
    override = PolicyOverride.objects.create(route="lab-small")
    site = UploadSettings.objects.get_or_create(pk=1)[0]
    GroupLimit.objects.create(override=override, group="pro", max_size=1000)
    GroupLimit.objects.create(settings=site, group="pro", max_size=1000)
    assert check_group_limits(databases=["default"]) == []

    GroupLimit.objects.create(override=override, group="Pro ", max_size=1000)  # a typo
    GroupLimit.objects.create(settings=site, group="media", content_types="video/*")
    messages = check_group_limits(databases=["default"])
    assert [m.id for m in messages] == ["django_expect.W009", "django_expect.W009"]
    assert all(m.level == checks.WARNING for m in messages)
    text = " | ".join(m.msg for m in messages)
    assert "'Pro ' on the upload policy override for 'lab-small' names no user group" in text
    assert "'media' on the site-wide Upload settings names no user group" in text

    Group.objects.create(name="media")  # the group is created: that row applies again
    assert [m.msg for m in check_group_limits(databases=["default"])] == [messages[0].msg]


def test_only_with_a_database() -> None:
    assert check_group_limits(databases=None) == []


def test_registered_as_a_database_check() -> None:
    registered = checks.registry.registry.get_checks(include_deployment_checks=False)
    ours = [c for c in registered if getattr(c, "__name__", "") == "check_group_limits"]
    assert len(ours) == 1
    assert checks.Tags.database in ours[0].tags
