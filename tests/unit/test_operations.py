"""Operators' tools without a server: overrides and the site-wide upload settings, their
per-process copy (revalidated against the database's change counter), statistics, signals,
Prometheus, the admin, ``manage.py expect_policies`` and the operations checks.

The wire-level and multi-process behaviour is in tests/operations/test_operations_wire.py.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from django.db.models import F
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from django.urls import resolve

from django_expect import overrides, resolution, stats
from django_expect.checks import check_operations, check_overrides
from django_expect.conf import conf
from django_expect.core import Decision, ExpectMode, UploadPolicy
from django_expect.middleware import ExpectMiddleware, app_missing_message
from django_expect.models import ChangeCounter, PolicyOverride, RejectionCount, UploadSettings
from django_expect.overrides import Override, OverrideRegistry, SiteDefaults, apply_override
from django_expect.routes import describe_routes, iter_routes
from django_expect.signals import continue_sent, upload_rejected
from django_expect.sitewide import upload_settings
from harness.tools import require_module
from tests.fakes import check_ids, expect_input

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[OverrideRegistry]:
    """A fresh per-process copy of the operators' data for each test."""
    with override_settings(EXPECT_OVERRIDES_REFRESH=5):
        fresh = OverrideRegistry(background=False)  # refreshed by hand: registry.refresh()
        monkeypatch.setattr(overrides, "registry", fresh)
        yield fresh


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> stats.StatsBuffer:
    fresh = stats.StatsBuffer()
    fresh.autoflush = False
    monkeypatch.setattr(stats, "buffer", fresh)
    return fresh


def upload(path: str, length: int, awaiting: bool = True) -> tuple[HttpRequest, list[str]]:
    """A request as the gunicorn hook would hand it over, resolved like Django does."""
    wire: list[str] = []
    stream = expect_input(b"x" * length, wire, awaiting)
    request = RequestFactory().post(
        path,
        data=b"x" * length,
        content_type="application/octet-stream",
        HTTP_EXPECT="100-continue",
        REMOTE_ADDR="192.0.2.7",
        **{"wsgi.input": stream},
    )
    request.resolver_match = resolve(path)
    return request, wire


def run_view(request: HttpRequest) -> Any:
    middleware = ExpectMiddleware(lambda r: None)
    match = request.resolver_match
    assert match is not None
    return middleware.process_view(request, match.func, match.args, match.kwargs)


# -- applying an override is a pure function ----------------------------------------------------


def test_apply_override_table() -> None:
    code = UploadPolicy(max_size=1000, content_types=("image/*",), login_required=True)
    assert apply_override(code, None) is code
    assert apply_override(code, Override("r", max_size=10)) == UploadPolicy(
        max_size=10, content_types=("image/*",), login_required=True
    )
    assert apply_override(code, Override("r", content_types=("*/*",))).content_types == ("*/*",)
    assert apply_override(code, Override("r", expect=ExpectMode.REFUSE)).expect is ExpectMode.REFUSE
    assert apply_override(code, Override("r", max_size=1, disabled=True)) == UploadPolicy()
    assert apply_override(code, Override("r")) is code


# -- the per-process copy: revalidated through the change counter, never per request ----------


@pytest.mark.django_db
def test_an_override_applies_to_the_route_by_name_and_by_view_path(
    registry: OverrideRegistry,
) -> None:
    request, _ = upload("/lab/small", 800)
    assert run_view(request) is None  # 800 <= 1000: passes

    # Saving in this process takes effect here at once, inside the (test's) transaction; other
    # processes see it within the refresh interval.
    PolicyOverride.objects.create(route="lab-small", max_size=500)
    request, _ = upload("/lab/small", 800)
    response = run_view(request)
    assert response.status_code == 413
    assert json.loads(response.content)["error"]["limit"] == 500

    PolicyOverride.objects.all().delete()
    PolicyOverride.objects.create(route="tests.testapp.views.lab_small", disabled=True)
    request, _ = upload("/lab/small", 5000)
    assert run_view(request) is None  # policy switched off


@pytest.mark.django_db
def test_no_query_per_request_and_reload_only_when_the_counter_changes(
    registry: OverrideRegistry, django_assert_num_queries: Any
) -> None:
    PolicyOverride.objects.create(route="lab-small", max_size=500)
    registry.refresh()  # what the refresher thread does
    assert registry.loads == 1
    with django_assert_num_queries(0):
        for _ in range(100):
            request, _wire = upload("/lab/small", 800)
            assert run_view(request).status_code == 413
    # A refresh with nothing changed: one primary-key read of the counter, no reload.
    with django_assert_num_queries(1) as context:
        assert registry.refresh() is False
    assert "django_expect_changecounter" in context.captured_queries[0]["sql"]
    assert registry.loads == 1

    # Another process changes the override: only the database's change counter tells us.
    PolicyOverride.objects.filter(route="lab-small").update(max_size=5000)  # no signal
    ChangeCounter.objects.filter(pk=1).update(value=F("value") + 1)  # what its save() did
    assert run_view(upload("/lab/small", 800)[0]).status_code == 413  # not yet refreshed
    assert registry.refresh() is True
    with django_assert_num_queries(0):
        assert run_view(upload("/lab/small", 800)[0]) is None  # reloaded: 800 <= 5000
    assert registry.loads == 2


@pytest.mark.django_db(transaction=True)
def test_saving_or_deleting_increments_the_counter_in_the_same_transaction(
    registry: OverrideRegistry,
) -> None:
    # The migration creates the row; a transactional test before this one flushed it.
    ChangeCounter.objects.get_or_create(pk=1)
    before = overrides.read_version()
    assert before is not None
    row = PolicyOverride.objects.create(route="lab-small", max_size=1)
    after_save = overrides.read_version()
    assert after_save == before + 1
    row.delete()
    assert overrides.read_version() == before + 2
    UploadSettings(max_size=10).save()
    assert overrides.read_version() == before + 3
    ChangeCounter.objects.all().delete()  # a lost row comes back on the next change
    PolicyOverride.objects.create(route="lab-small", max_size=1)
    assert overrides.read_version() == 1


def test_outage_keeps_the_last_known_overrides_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers: list[Any] = [{"lab-small": Override("lab-small", max_size=5)}]
    versions = [1]

    def loader() -> dict[str, Override]:
        answer = answers[-1]
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    reg = OverrideRegistry(
        loader=loader,
        site_loader=SiteDefaults,
        version_reader=lambda: versions[-1],
        background=False,
    )
    reg.refresh()
    assert reg.current()["lab-small"].max_size == 5
    answers.append(DatabaseError("connection refused"))
    versions.append(2)
    caplog.set_level(logging.INFO, logger="django_expect")
    for _ in range(3):
        assert reg.refresh() is False
        assert reg.current()["lab-small"].max_size == 5  # last known stays in force
    warnings = [r for r in caplog.records if "cannot refresh" in r.getMessage()]
    assert len(warnings) == 1 and "connection refused" in warnings[0].getMessage()

    answers.append({})
    assert reg.refresh() is True
    assert reg.current() == {}
    assert any("refreshed again" in r.getMessage() for r in caplog.records)


def test_counter_outage_too() -> None:
    def broken() -> int:
        raise DatabaseError("database down")

    reg = OverrideRegistry(
        loader=lambda: {"x": Override("x", max_size=1)}, version_reader=broken, background=False
    )
    reg.refresh()
    assert reg.current() == {}  # nothing ever loaded: the code's policies
    assert reg.policy_for(("x",), UploadPolicy(max_size=9)) == (UploadPolicy(max_size=9), None)


# -- statistics, log records, signals, Prometheus -------------------------------------------------


@pytest.mark.django_db
def test_rejections_are_logged_signalled_counted_and_flushed_in_batches(
    registry: OverrideRegistry,
    counts: stats.StatsBuffer,
    caplog: pytest.LogCaptureFixture,
    django_assert_max_num_queries: Any,
) -> None:
    received: list[dict[str, Any]] = []

    def receiver(sender: type, **kwargs: Any) -> None:
        received.append({"sender": sender, **kwargs})

    upload_rejected.connect(receiver)
    caplog.set_level(logging.INFO, logger="django_expect")
    registry.refresh()  # this process's copy, loaded once (by the refresher)
    try:
        with django_assert_max_num_queries(0):
            for _ in range(50):
                assert run_view(upload("/lab/small", 2000)[0]).status_code == 413
            assert run_view(upload("/lab/types", 10)[0]).status_code == 415
    finally:
        upload_rejected.disconnect(receiver)

    assert len(received) == 51
    assert received[0]["sender"] is ExpectMiddleware
    assert received[0]["route"] == "lab-small"
    assert received[0]["decision"].status == 413
    record = next(r for r in caplog.records if r.getMessage().startswith("upload rejected"))
    assert (record.route, record.reason, record.status, record.declared_length, record.client) == (  # type: ignore[attr-defined]
        "lab-small",
        "content_too_large",
        413,
        2000,
        "192.0.2.7",
    )

    assert sum(counts.pending().values()) == 51
    # One batch for 51 rejections: per row UPDATE, SAVEPOINT, INSERT, RELEASE (+ the batch's own);
    # the size histograms' 4 new rows: one SELECT, SAVEPOINT, one INSERT, RELEASE.
    with django_assert_max_num_queries(14):
        assert counts.flush() == 2
    rows = {(r.route, r.reason, r.status): r.count for r in RejectionCount.objects.all()}
    assert rows == {
        ("lab-small", "content_too_large", 413): 50,
        ("lab-types", "unsupported_media_type", 415): 1,
    }

    for _ in range(3):
        run_view(upload("/lab/small", 2000)[0])
    counts.flush()
    assert RejectionCount.objects.get(route="lab-small").count == 53
    assert counts.flush() == 0  # nothing pending: no write at all


@pytest.mark.django_db
def test_a_failed_flush_keeps_the_counts_and_warns_once_per_outage(
    registry: OverrideRegistry,
    counts: stats.StatsBuffer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="django_expect")
    run_view(upload("/lab/small", 2000)[0])

    def broken(key: Any, count: int) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(stats, "_add_to_row", broken)
    assert counts.flush() == 0
    assert counts.flush() == 0  # still failing: kept, not warned again
    assert sum(counts.pending().values()) == 1
    monkeypatch.undo()
    monkeypatch.setattr(stats, "buffer", counts)
    assert counts.flush() == 1
    assert RejectionCount.objects.get().count == 1
    messages = [r.getMessage() for r in caplog.records if "rejection count" in r.getMessage()]
    assert len(messages) == 2 and "cannot write 1 rejection count(s)" in messages[0]
    assert "written again" in messages[1]


@pytest.mark.django_db
def test_check_rejections_are_counted_and_signalled_with_the_status_sent(
    registry: OverrideRegistry, counts: stats.StatsBuffer
) -> None:
    statuses: list[int | None] = []

    def receiver(sender: type, decision: Decision, **kwargs: Any) -> None:
        statuses.append(decision.status)

    upload_rejected.connect(receiver)
    try:
        response = run_view(upload("/lab/check", 10)[0])
    finally:
        upload_rejected.disconnect(receiver)
    assert response is not None and response.status_code == 409  # the check's own answer
    assert statuses == [409]
    assert list(counts.pending()) == [
        (next(iter(counts.pending()))[0], "lab-check", "rejected_by_check", 409)
    ]


@pytest.mark.django_db
def test_continue_sent_fires_when_the_100_goes_out(
    registry: OverrideRegistry, counts: stats.StatsBuffer
) -> None:
    sent: list[tuple[str, HttpRequest]] = []

    def receiver(sender: type, request: HttpRequest, route: str, **kwargs: Any) -> None:
        sent.append((route, request))

    continue_sent.connect(receiver)
    try:
        request, wire = upload("/lab/small", 800)
        assert run_view(request) is None
        assert sent == [] and wire == []
        request.read()
        assert wire == ["100"]
        assert sent == [("lab-small", request)]
        rejected, _ = upload("/lab/small", 5000)
        run_view(rejected)
        assert len(sent) == 1  # no 100, no signal
    finally:
        continue_sent.disconnect(receiver)


@pytest.mark.django_db
def test_prometheus_counter(registry: OverrideRegistry, counts: stats.StatsBuffer) -> None:
    require_module("prometheus_client", "prometheus-client")
    import prometheus_client

    labels = {"route": "lab-small", "reason": "content_too_large", "status": "413"}
    before = prometheus_client.REGISTRY.get_sample_value("django_expect_rejections_total", labels)
    run_view(upload("/lab/small", 2000)[0])
    after = prometheus_client.REGISTRY.get_sample_value("django_expect_rejections_total", labels)
    assert after == (before or 0) + 1


def test_the_prometheus_counter_is_created_once_by_concurrent_first_rejections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """gthread workers reject on several threads: the first rejections race to create the
    counter, and a second registration raised DuplicateTimeseries into a request (a 500)."""
    require_module("prometheus_client", "prometheus-client")
    import prometheus_client

    if stats._prometheus_counter is not None:
        prometheus_client.REGISTRY.unregister(stats._prometheus_counter)
        stats._prometheus_counter = None  # left to the counter this test creates
    start = threading.Barrier(8)
    real_counter = prometheus_client.Counter

    def slow_counter(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # widens the window between "no counter yet" and registering one
        return real_counter(*args, **kwargs)

    monkeypatch.setattr(prometheus_client, "Counter", slow_counter)
    made: list[Any] = []
    errors: list[BaseException] = []

    def first_rejection() -> None:
        start.wait(timeout=10)
        try:
            made.append(stats._prometheus_rejections())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=first_rejection) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(made) == 8 and all(counter is made[0] for counter in made)


# -- the audit: routes, sources, the command ---------------------------------------------------


def test_routes_are_named_like_the_resolver_names_them() -> None:
    routes = {r.name: r for r in iter_routes()}
    for path in ("/lab/small", "/objects/a/b", "/admin/", "/lab/class"):
        match = resolve(path)
        assert match.view_name in routes
        assert routes[match.view_name].view == match._func_path


def test_sources_say_where_each_value_comes_from() -> None:
    entries = {
        e.route.name: e
        for e in describe_routes(
            {
                "lab-small": Override("lab-small", max_size=10),
                "tests.testapp.views.lab_types": Override(
                    "tests.testapp.views.lab_types", disabled=True
                ),
            }
        )
    }
    assert entries["lab-small"].sources["max_size"] == "override"
    assert entries["lab-small"].sources["content_types"] == "decorator"
    assert entries["lab-small"].sources["body_timeout"] == "setting"  # EXPECT_BODY_TIMEOUT
    assert entries["lab-small"].source_summary == (
        "decorator; max_size: override, body_timeout: setting, "
        "min_rate: default, min_rate_grace: default"
    )
    assert entries["lab-echo"].source_summary == "default; max_size: setting, body_timeout: setting"
    assert entries["lab-types"].policy == UploadPolicy()
    assert entries["lab-types"].source_summary == (
        "override; body_timeout: setting, min_rate: default, min_rate_grace: default"
    )
    assert entries["objects"].policy.max_size == 10 * 2**20


@pytest.mark.parametrize(
    ("site", "settings", "undecorated", "decorated"),
    [
        # nothing in the admin: settings.py, then the built-in default
        (SiteDefaults(), {}, (100 * 2**20, "setting", 20.0, "setting"), (1000, 20.0, "setting")),
        (
            SiteDefaults(),
            {"EXPECT_DEFAULT_POLICY": {}, "EXPECT_BODY_TIMEOUT": None},
            (None, "default", None, "setting"),
            (1000, None, "setting"),
        ),
        # the admin row beats settings.py; a decorator (and an override) beat the admin row
        (
            SiteDefaults(max_size=7, body_timeout=3.0),
            {},
            (7, "admin", 3.0, "admin"),
            (1000, 3.0, "admin"),
        ),
    ],
)
def test_precedence_override_decorator_admin_setting_default(
    monkeypatch: pytest.MonkeyPatch,
    site: SiteDefaults,
    settings: dict[str, Any],
    undecorated: tuple[Any, ...],
    decorated: tuple[Any, ...],
) -> None:
    fresh = OverrideRegistry(loader=dict, site_loader=lambda: site, version_reader=lambda: 1)
    monkeypatch.setattr(overrides, "registry", fresh)
    with override_settings(**settings):
        echo = resolution.effective_policy(resolve("/lab/echo").func, "POST", ("lab-echo",))
        small = resolution.effective_policy(resolve("/lab/small").func, "POST", ("lab-small",))
        assert (
            echo.policy.max_size,
            echo.sources["max_size"],
            echo.body_timeout,
            echo.sources["body_timeout"],
        ) == undecorated
        assert (small.policy.max_size, small.body_timeout, small.sources["body_timeout"]) == (
            decorated
        )
        assert small.sources["max_size"] == "decorator"
        overridden = resolution.effective_policy(
            resolve("/lab/echo").func,
            "POST",
            ("lab-echo",),
            overrides={"lab-echo": Override("lab-echo", max_size=1, body_timeout=9.0)},
        )
        assert (overridden.policy.max_size, overridden.body_timeout) == (1, 9.0)
        assert overridden.sources["max_size"] == overridden.sources["body_timeout"] == "override"


def test_site_wide_chunked_and_drain_fall_back_to_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for site, chunked, drain in (
        (SiteDefaults(), "stream", conf.EXPECT_DRAIN_SECONDS),  # the setting
        (SiteDefaults(chunked="refuse", drain_seconds=0.5), "refuse", 0.5),
    ):
        fresh = OverrideRegistry(
            loader=dict, site_loader=lambda s=site: s, version_reader=lambda: 1
        )
        monkeypatch.setattr(overrides, "registry", fresh)
        values = upload_settings()
        assert (values.chunked, values.drain_seconds) == (chunked, drain)
        echo = resolution.effective_policy(resolve("/lab/echo").func, "POST", ("lab-echo",))
        assert echo.allow_chunked is (chunked == "stream")
    monkeypatch.setattr(
        overrides,
        "registry",
        OverrideRegistry(loader=dict, site_loader=SiteDefaults, version_reader=lambda: 1),
    )
    with override_settings(EXPECT_CHUNKED="refuse", EXPECT_DRAIN_SECONDS=4):
        assert (upload_settings().chunked, upload_settings().drain_seconds) == ("refuse", 4.0)
        assert upload_settings().sources["chunked"] == "setting"


@pytest.mark.django_db
def test_expect_policies_text_and_json() -> None:
    PolicyOverride.objects.create(route="lab-small", max_size=2000)
    PolicyOverride.objects.create(route="gone-route", max_size=1)
    out, err = io.StringIO(), io.StringIO()
    call_command("expect_policies", stdout=out, stderr=err)
    text = out.getvalue()
    assert text.splitlines()[0].split()[:4] == ["ROUTE", "METHOD", "VIEW", "MAX"]
    line = next(x for x in text.splitlines() if x.startswith("lab-small "))
    assert "2000 (2 kB)" in line and "decorator; max_size: override" in line
    assert "'gone-route' names no URL pattern (django_expect.W003)" in err.getvalue()

    out = io.StringIO()
    call_command("expect_policies", "--format", "json", stdout=out, stderr=io.StringIO())
    document = {e["route"]: e for e in json.loads(out.getvalue())}
    assert document["api-upload"] == {
        "route": "api-upload",
        "view": "demo.views.api_upload",
        "regex": "^api/uploads\\Z",
        "methods": ["*"],
        "max_size": 50_000_000,
        "max_size_human": "50 MB",
        "body_limit": 50_000_000,
        "body_limit_source": "decorator",
        "content_types": None,
        "login_required": True,
        "permissions": [],
        "expect": "on-read",
        "body_timeout": 20.0,
        "min_rate": 240.0,
        "min_rate_grace": 5.0,
        "override": False,
        "disabled": False,
        "sources": {
            **dict.fromkeys(
                ("max_size", "content_types", "login_required", "permissions", "expect"),
                "decorator",
            ),
            "body_timeout": "setting",  # the decorator sets none: EXPECT_BODY_TIMEOUT
            "report_only": "decorator",
            "min_rate": "default",
            "min_rate_grace": "default",
        },
        "per_request": [],
        "per_group": {},
        "report_only": False,
        "quota": False,
    }
    assert document["lab-small"]["max_size"] == 2000
    cap = document["lab-djangocap"]  # a policy without max_size: Django's in-memory cap shows
    assert (cap["max_size"], cap["body_limit"], cap["body_limit_source"]) == (
        None,
        2_621_440,
        "django",
    )
    line = next(x for x in text.splitlines() if x.startswith("lab-djangocap "))
    assert "2621440 (2560 KiB in memory, DATA_UPLOAD_MAX_MEMORY_SIZE)" in line


@pytest.mark.django_db
def test_expect_policies_proxy_formats() -> None:
    out = io.StringIO()
    call_command(
        "expect_policies",
        "--format",
        "nginx",
        "--proxy-pass",
        "http://app",
        stdout=out,
        stderr=io.StringIO(),
    )
    nginx = out.getvalue()
    assert 'location ~ "^/lab/small\\\\Z" {\n    # lab-small' in nginx
    assert "client_max_body_size 1000;\n    proxy_pass http://app;" in nginx
    assert 'location ~ "^/objects/(?:.+)\\\\Z"' in nginx  # named groups dropped

    out = io.StringIO()
    call_command(
        "expect_policies",
        "--format",
        "haproxy",
        "--prefix",
        "/app",
        stdout=out,
        stderr=io.StringIO(),
    )
    haproxy = out.getvalue()
    assert (
        "http-request set-var(txn.expect_limit) int(1000) if !{ var(txn.expect_limit) -m "
        "found } { path_reg '^/app/lab/small\\Z' }  # lab-small"
    ) in haproxy
    assert "int(-1)" in haproxy  # routes without a limit stop the search too
    assert haproxy.rstrip().endswith("sub(txn.expect_limit) gt 0 }")


# -- the admin ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_edits_overrides_in_human_units(
    admin_client: Any, registry: OverrideRegistry
) -> None:
    page = admin_client.get("/admin/django_expect/policyoverride/add/")
    assert page.status_code == 200
    assert b'value="lab-small"' in page.content  # routes offered by name

    bad = admin_client.post(
        "/admin/django_expect/policyoverride/add/",
        {
            "route": "lab-small",
            "max_size": "10 parsecs",
            "content_types": "images",
            "expect": "",
        },
    )
    assert bad.status_code == 200
    assert b"cannot read &#x27;10 parsecs&#x27; as a size" in bad.content
    assert b"is not a media type" in bad.content

    good = admin_client.post(
        "/admin/django_expect/policyoverride/add/",
        {
            "route": "lab-small",
            "max_size": "2KB",
            "content_types": "IMAGE/png, application/pdf",
            "expect": "after-checks",
            "note": "incident 42",
        },
    )
    assert good.status_code == 302, good.content
    row = PolicyOverride.objects.get()
    assert (row.max_size, row.content_types, row.expect) == (
        2000,
        "image/png, application/pdf",
        "after-checks",
    )
    change = admin_client.get(f"/admin/django_expect/policyoverride/{row.pk}/change/")
    assert b'value="2kB"' in change.content

    listing = admin_client.get("/admin/django_expect/policyoverride/")
    html = listing.content.decode()
    assert 'id="expect-routes"' in html
    assert 'title="2000 bytes">2 kB<br><small class="expect-source">override</small></td>' in html
    # Routes whose policy sets no max_size show Django's in-memory cap.
    assert (
        'title="2621440 bytes: request.body and form fields only; streamed reads and files pass">'
        "2560 KiB in memory (Django&#x27;s DATA_UPLOAD_MAX_MEMORY_SIZE)<br>"
        '<small class="expect-source">django</small></td>'
    ) in html
    assert "routes of the admin site</summary>" in html
    assert (
        "<strong>decorator; max_size: override, content_types: override, expect: override, "
        "body_timeout: setting, min_rate: default, min_rate_grace: default</strong>"
    ) in html


@pytest.mark.django_db
def test_admin_upload_settings_is_one_page_and_applies_to_undecorated_views(
    admin_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    listing = admin_client.get("/admin/django_expect/uploadsettings/")
    assert listing.status_code == 302
    assert listing["Location"] == "/admin/django_expect/uploadsettings/1/change/"
    assert admin_client.get("/admin/django_expect/uploadsettings/add/").status_code == 403
    assert admin_client.get("/admin/django_expect/uploadsettings/1/delete/").status_code == 403
    page = admin_client.get(listing["Location"])
    assert page.status_code == 200 and b"Change upload settings" in page.content

    request, _ = upload("/lab/echo", 5000)
    assert run_view(request) is None  # EXPECT_DEFAULT_POLICY: 100 MiB
    fields = {
        "max_size": "2KB",
        "content_types": "",
        "login_required": "unknown",
        "permission": "",
        "expect": "",
        "body_timeout": "7",
        "chunked": "refuse",
        "drain_seconds": "0.5",
        "note": "incident 43",
    }
    bad = admin_client.post(listing["Location"], dict(fields, permission="nodot"))
    assert bad.status_code == 200 and b"permission names look like" in bad.content
    with django_capture_on_commit_callbacks(execute=True):
        saved = admin_client.post(listing["Location"], fields)
    assert saved.status_code == 302, saved.content[:2000]
    assert UploadSettings.objects.count() == 1

    request, _ = upload("/lab/echo", 5000)
    response = run_view(request)
    assert response.status_code == 413 and json.loads(response.content)["error"]["limit"] == 2000
    request, _ = upload("/lab/small", 800)
    assert run_view(request) is None  # a decorated view keeps its own limit...
    assert request.environ["wsgi.input"].body_timeout == 7.0  # ...and gets the site-wide timeout
    values = upload_settings()
    assert (values.chunked, values.drain_seconds, values.sources["chunked"]) == (
        "refuse",
        0.5,
        "admin",
    )
    html = admin_client.get("/admin/django_expect/policyoverride/").content.decode()
    echo = html[html.index("<td>lab-echo</td>") :]
    echo = echo[: echo.index("</tr>")]
    assert 'title="2000 bytes">2 kB<br><small class="expect-source">admin</small>' in echo
    assert '7.0 s<br><small class="expect-source">admin</small>' in echo

    with django_capture_on_commit_callbacks(execute=True):  # the site-wide expectation handling
        saved = admin_client.post(listing["Location"], dict(fields, expect="refuse"))
    assert saved.status_code == 302, saved.content[:2000]
    request, _ = upload("/lab/echo", 1000)  # under the site-wide limit; the expect refuses
    assert run_view(request).status_code == 417
    assert upload_settings().sources["default_policy.expect"] == "admin"
    request, _ = upload("/lab/small", 800)
    assert run_view(request) is None  # a decorated view keeps its own


@pytest.mark.django_db
def test_overrides_set_login_permission_and_body_timeout(
    admin_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/django_expect/policyoverride/add/",
            {
                "route": "lab-small",
                "max_size": "",
                "content_types": "",
                "expect": "",
                "login_required": "true",
                "permission": "demo.add_storedobject",
                "body_timeout": "3",
                "note": "",
            },
        )
    assert response.status_code == 302, response.content[:2000]
    request, _ = upload("/lab/small", 800)
    assert run_view(request).status_code == 401  # anonymous (RequestFactory has no user)
    entry = {e.route.name: e for e in describe_routes()}["lab-small"]
    assert entry.policy.login_required and entry.policy.permissions == ("demo.add_storedobject",)
    assert entry.resolution.body_timeout == 3.0
    assert entry.sources["body_timeout"] == entry.sources["login_required"] == "override"


@pytest.mark.django_db
def test_admin_shows_counts_per_route_reason_and_day(
    admin_client: Any, registry: OverrideRegistry, counts: stats.StatsBuffer
) -> None:
    for _ in range(3):
        run_view(upload("/lab/small", 2000)[0])
    page = admin_client.get("/admin/django_expect/rejectioncount/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "lab-small" in html and "content_too_large" in html
    assert RejectionCount.objects.get().count == 3  # the page flushed this process's counts
    assert admin_client.get("/admin/django_expect/rejectioncount/add/").status_code == 403


# -- checks -------------------------------------------------------------------------------


def operation_ids(**settings: Any) -> list[str]:
    return check_ids(check_operations, **settings)


def test_operations_checks() -> None:
    assert operation_ids() == []
    assert operation_ids(EXPECT_OVERRIDES_REFRESH=-1) == ["django_expect.E005"]
    assert operation_ids(EXPECT_OVERRIDES_REFRESH="5") == ["django_expect.E005"]
    assert operation_ids(EXPECT_STATS_FLUSH_INTERVAL=0) == ["django_expect.E005"]
    assert operation_ids(EXPECT_STATS="yes") == ["django_expect.E005"]
    assert operation_ids(EXPECT_DRAIN_SECONDS=-0.5) == ["django_expect.E005"]
    assert operation_ids(EXPECT_DRAIN_MAX_CONNECTIONS=-1) == ["django_expect.E005"]
    assert operation_ids(EXPECT_DRAIN_MAX_CONNECTIONS=2.5) == ["django_expect.E005"]
    assert operation_ids(EXPECT_DRAIN_SECONDS=0) == []
    # Django's default cache (per process) is fine: the change counter is in the database.
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert operation_ids(CACHES=locmem) == []


@pytest.mark.django_db
def test_override_check_names_unknown_routes() -> None:
    PolicyOverride.objects.create(route="lab-small", max_size=1)
    PolicyOverride.objects.create(route="demo.views.objects", max_size=1)
    assert check_overrides(databases=["default"]) == []
    PolicyOverride.objects.create(route="old-upload", max_size=1)
    messages = check_overrides(databases=["default"])
    assert [m.id for m in messages] == ["django_expect.W003"]
    assert "'old-upload'" in messages[0].msg
    assert check_overrides(databases=None) == []  # only with --database


def test_app_missing_is_reported_by_the_middleware(caplog: pytest.LogCaptureFixture) -> None:
    assert app_missing_message() is None
    from django.conf import settings

    apps_without = [a for a in settings.INSTALLED_APPS if a != "django_expect"]
    with override_settings(INSTALLED_APPS=apps_without):
        message = app_missing_message()
        assert message is not None and message.startswith("django_expect.E006")
        caplog.set_level(logging.ERROR, logger="django_expect")
        ExpectMiddleware(lambda r: None)
    assert any(r.getMessage().startswith("django_expect.E006") for r in caplog.records)


def test_one_invalidation_for_everything_derived_from_settings() -> None:
    """conf's one setting_changed receiver forgets the settings and what was built from them."""
    from django.conf import settings

    from django_expect.policies import default_policy

    before = upload_settings()
    assert overrides.app_installed() and before.default_policy.max_size == 100 * 2**20
    with override_settings(EXPECT_DEFAULT_POLICY={"max_size": 5}, EXPECT_BODY_TIMEOUT=3):
        assert default_policy().max_size == 5
        assert upload_settings().default_policy.max_size == 5
        assert upload_settings().body_timeout == 3.0
    apps_without = [a for a in settings.INSTALLED_APPS if a != "django_expect"]
    with override_settings(INSTALLED_APPS=apps_without):
        assert not overrides.app_installed()
    assert overrides.app_installed()
    assert upload_settings().default_policy == before.default_policy
    assert upload_settings().body_timeout == 20.0
