"""Report-only mode without a server (issue 22): the log record, the ``upload_rejected`` signal
with ``report_only=True``, the separate counts and Prometheus counter, and the switch in
``EXPECT_DEFAULT_POLICY``, an override and the site-wide settings."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from django_expect import stats
from django_expect.core import PolicyError, UploadPolicy
from django_expect.models import PolicyOverride, RejectionCount, UploadSettings
from django_expect.overrides import Override, apply_override
from django_expect.resolution import request_policy
from django_expect.signals import upload_rejected
from harness.tools import require_module
from tests.unit.test_operations import counts as counts  # the fixture: a fresh StatsBuffer
from tests.unit.test_operations import run_view, upload


def _anonymous(path: str, length: int) -> Any:
    request, wire = upload(path, length)
    request.user = AnonymousUser()
    return request, wire


def test_report_only_must_be_a_bool() -> None:
    with pytest.raises(PolicyError, match="report_only must be True or False"):
        UploadPolicy.build(report_only="yes")  # type: ignore[arg-type]


@pytest.mark.django_db
def test_a_would_be_refusal_is_logged_signalled_counted_and_let_through(
    counts: stats.StatsBuffer, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    upload_rejected.connect(receiver)
    try:
        request, wire = _anonymous("/uploader/report-only", 5000)
        with caplog.at_level(logging.INFO, logger="django_expect"):
            assert run_view(request) is None  # the view runs
    finally:
        upload_rejected.disconnect(receiver)
    assert wire == []  # the 100 waits for the view's first read
    assert [(r["decision"].reason.value, r["report_only"]) for r in received] == [
        ("login_required", True)
    ]
    assert any(
        "upload would be rejected (report-only): route=uploader-report-only "
        "reason=login_required status=401" in r.getMessage()
        for r in caplog.records
    )
    assert counts.pending() == {}
    assert [k[1:] for k in counts.pending_report_only()] == [
        ("uploader-report-only", "login_required", 401)
    ]
    counts.flush()
    row = RejectionCount.objects.get()
    assert (row.route, row.reason, row.status, row.report_only, row.count) == (
        "uploader-report-only",
        "login_required",
        401,
        True,
        1,
    )


@pytest.mark.django_db
def test_report_only_has_its_own_prometheus_counter(counts: stats.StatsBuffer) -> None:
    require_module("prometheus_client", "prometheus-client")
    import prometheus_client

    labels = {"route": "uploader-report-only", "reason": "login_required", "status": "401"}
    name = "django_expect_report_only_rejections_total"
    before = prometheus_client.REGISTRY.get_sample_value(name, labels) or 0
    run_view(_anonymous("/uploader/report-only", 50)[0])
    assert prometheus_client.REGISTRY.get_sample_value(name, labels) == before + 1
    enforced = prometheus_client.REGISTRY.get_sample_value("django_expect_rejections_total", labels)
    assert not enforced


@pytest.mark.django_db
def test_protocol_errors_are_enforced_in_report_only(counts: stats.StatsBuffer) -> None:
    request, _ = _anonymous("/uploader/report-only", 50)
    request.META["HTTP_EXPECT"] = "magic"
    response = run_view(request)
    assert response is not None and response.status_code == 417


def test_the_switch_in_settings_an_override_and_the_site_wide_row() -> None:
    with override_settings(EXPECT_DEFAULT_POLICY={"max_size": 10, "report_only": True}):
        request, _ = _anonymous("/lab/echo", 50)
        assert request_policy(request, request.resolver_match.func).policy.report_only
    code = UploadPolicy(max_size=10)
    assert apply_override(code, Override(route="x", report_only=True)).report_only
    assert not apply_override(
        code, Override(route="x", report_only=True, disabled=True)
    ).report_only


@pytest.mark.django_db
def test_an_override_and_the_site_wide_row_turn_it_on(counts: stats.StatsBuffer) -> None:
    PolicyOverride.objects.create(route="lab-small", report_only=True)
    response = run_view(_anonymous("/lab/small", 5000)[0])
    assert response is None  # 5000 > 1000, reported only
    UploadSettings.objects.create(max_size=10, report_only=True)
    assert run_view(_anonymous("/lab/echo", 50)[0]) is None
    reasons = sorted(k[1:] for k in counts.pending_report_only())
    assert reasons == [
        ("lab-echo", "content_too_large", 413),
        ("lab-small", "content_too_large", 413),
    ]
