"""The system check on ``EXPECT_QUOTA_RESERVATION_SECONDS`` (issue 22): a finite number of
seconds greater than 0, else ``django_expect.E005`` naming the setting and the value."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_expect.checks import check_operations
from tests.fakes import check_ids


@pytest.mark.parametrize("value", [3600, 0.5, 1e9])
def test_a_positive_number_passes(value: float) -> None:
    assert check_ids(check_operations, EXPECT_QUOTA_RESERVATION_SECONDS=value) == []


@pytest.mark.parametrize("value", [0, -1, "3600", None, True, float("inf"), float("nan")])
def test_anything_else_fails_naming_the_setting(value: object) -> None:
    with override_settings(EXPECT_QUOTA_RESERVATION_SECONDS=value):
        messages = check_operations()
    assert [m.id for m in messages] == ["django_expect.E005"]
    assert "EXPECT_QUOTA_RESERVATION_SECONDS" in messages[0].msg
    assert repr(value) in messages[0].msg


@pytest.mark.django_db
def test_manage_check_fails_loudly() -> None:
    with (
        override_settings(EXPECT_QUOTA_RESERVATION_SECONDS=-5),
        pytest.raises(SystemCheckError, match="EXPECT_QUOTA_RESERVATION_SECONDS must be"),
    ):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
