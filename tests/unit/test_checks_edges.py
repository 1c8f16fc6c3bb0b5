"""System checks where they must stay quiet: a valid rejection handler, a project whose every
route has a limit, a runserver check without the app, the overrides check before ``migrate``;
and the site-wide settings row's own validation."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.test import override_settings

from django_expect import checks, overrides
from django_expect.checks import check_app_order, check_body_limits, check_overrides
from django_expect.models import UploadSettings
from tests.fakes import check_ids


def test_an_importable_callable_handler_is_accepted() -> None:
    handler = "django_expect.responses.rejection_response"
    assert check_ids(checks.check_settings, EXPECT_REJECTION_HANDLER=handler) == []


def test_no_body_limit_warning_when_every_route_has_a_max_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django_expect.routes import describe_routes

    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None):
        limited = [e for e in describe_routes({}) if e.body_limit is not None]
        assert limited and len(limited) < len(describe_routes({}))
        monkeypatch.setattr("django_expect.routes.describe_routes", lambda overrides: limited)
        assert check_body_limits() == []


def test_the_runserver_check_is_silent_without_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.apps import apps

    monkeypatch.setattr(apps, "is_installed", lambda name: name != "django_expect")
    assert check_app_order() == []


def test_the_overrides_check_waits_for_migrate(monkeypatch: pytest.MonkeyPatch) -> None:
    def unmigrated() -> dict[str, Any]:
        raise DatabaseError("no such table: django_expect_policyoverride")

    monkeypatch.setattr(overrides, "load_overrides", unmigrated)
    assert check_overrides(databases=["default"]) == []


def test_the_settings_row_normalises_types_and_refuses_a_negative_drain() -> None:
    row = UploadSettings(content_types=" image/PNG ,text/csv", permission="", body_timeout=None)
    row.clean()
    assert row.content_types == "image/png, text/csv"
    row.drain_seconds = -1
    with pytest.raises(ValidationError, match="drain_seconds must be 0 or more seconds"):
        row.clean()
    row.drain_seconds = float("nan")
    with pytest.raises(ValidationError):
        row.clean()
