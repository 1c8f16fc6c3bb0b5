"""Size histograms without a server (issue 22): fixed buckets, the declared size of every
decided upload and of each refusal by reason, bounded memory, written with the rejection
counts in one flush, shown in the admin and observed in Prometheus."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest

from django_expect import stats
from django_expect.core import SIZE_BUCKETS
from django_expect.models import RejectionCount, SizeHistogram
from django_expect.stats import size_bucket
from harness.tools import require_module
from tests.unit.test_operations import run_view, upload

KiB, GiB = 1024, 1024**3


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> stats.StatsBuffer:
    fresh = stats.StatsBuffer()
    fresh.autoflush = False
    monkeypatch.setattr(stats, "buffer", fresh)
    return fresh


def test_the_bucket_bounds_are_powers_of_4_from_1_kib_to_4_gib() -> None:
    assert SIZE_BUCKETS[0] == KiB and SIZE_BUCKETS[-1] == 4 * GiB and len(SIZE_BUCKETS) == 12
    assert all(b == a * 4 for a, b in itertools.pairwise(SIZE_BUCKETS))
    table = [
        (0, 0),
        (1, 0),
        (KiB, 0),  # bounds are inclusive
        (KiB + 1, 1),
        (4 * KiB, 1),
        (1024 * KiB, 5),
        (4 * GiB, 11),
        (4 * GiB + 1, 12),  # past the last bound
        (10**15, 12),
    ]
    for size, bucket in table:
        assert size_bucket(size) == bucket, size


@pytest.mark.django_db
def test_every_declared_size_and_each_refusal_is_counted_then_written_in_one_flush(
    counts: stats.StatsBuffer,
) -> None:
    for size in (10, 800, 999):
        assert run_view(upload("/lab/small", size)[0]) is None
    assert run_view(upload("/lab/small", 5000)[0]).status_code == 413
    day = datetime.datetime.now(datetime.UTC).date()
    pending = counts.pending_sizes()
    every = pending[(day, "lab-small", "", False)]
    assert every[:2] == [4, 10 + 800 + 999 + 5000]
    assert every[2:] == [3, 0, 1] + [0] * 10  # 3 up to 1 KiB, 5000 up to 16 KiB
    refused = pending[(day, "lab-small", "content_too_large", False)]
    assert refused[:3] == [1, 5000, 0] and refused[4] == 1

    assert counts.flush() == 1  # one rejection count row (and two histogram rows)
    assert counts.pending_sizes() == {}
    rows = {row.reason: row for row in SizeHistogram.objects.all()}
    assert (rows[""].count, rows[""].bucket_0, rows[""].bucket_2) == (4, 3, 1)
    assert (rows["content_too_large"].count, rows["content_too_large"].bucket_2) == (1, 1)
    assert RejectionCount.objects.get().count == 1

    # a later flush adds to the same rows
    assert run_view(upload("/lab/small", 5000)[0]).status_code == 413
    counts.flush()
    assert SizeHistogram.objects.get(reason="").count == 5
    assert SizeHistogram.objects.get(reason="").total_bytes == 10 + 800 + 999 + 5000 * 2


@pytest.mark.django_db
def test_memory_is_a_fixed_list_per_route_and_reason(counts: stats.StatsBuffer) -> None:
    for size in range(0, 3000, 7):
        run_view(upload("/lab/small", size)[0])
    pending = counts.pending_sizes()
    assert len(pending) == 2  # every upload; content_too_large
    assert all(len(v) == len(SIZE_BUCKETS) + 3 for v in pending.values())


@pytest.mark.django_db
def test_a_failed_flush_keeps_the_histograms(
    counts: stats.StatsBuffer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_view(upload("/lab/small", 50)[0])

    def broken(*args: Any) -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(stats, "_add_to_histograms", broken)
    assert counts.flush() == 0
    (kept,) = counts.pending_sizes().values()
    assert kept[:2] == [1, 50]


@pytest.mark.django_db
def test_the_admin_shows_the_histograms(admin_client: Any, counts: stats.StatsBuffer) -> None:
    run_view(upload("/lab/small", 5000)[0])
    page = admin_client.get("/admin/django_expect/sizehistogram/")  # flushes this process
    assert page.status_code == 200
    text = page.content.decode()
    assert "lab-small" in text and "refused: content_too_large" in text
    assert "up to 16 KiB" in text


@pytest.mark.django_db
def test_prometheus_histograms(counts: stats.StatsBuffer) -> None:
    require_module("prometheus_client", "prometheus-client")
    import prometheus_client

    registry = prometheus_client.REGISTRY

    def sample(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    declared = "django_expect_declared_size_bytes_bucket"
    rejected = "django_expect_rejected_size_bytes_bucket"
    before = sample(declared, route="lab-small", le="16384.0")
    before_small = sample(declared, route="lab-small", le="1024.0")
    before_rejected = sample(rejected, route="lab-small", reason="content_too_large", le="16384.0")
    run_view(upload("/lab/small", 5000)[0])
    assert sample(declared, route="lab-small", le="16384.0") == before + 1
    assert sample(declared, route="lab-small", le="1024.0") == before_small  # cumulative buckets
    assert (
        sample(rejected, route="lab-small", reason="content_too_large", le="16384.0")
        == before_rejected + 1
    )
    assert sample(declared, route="lab-small", le="+Inf") >= 1


@pytest.mark.django_db
def test_report_only_refusals_have_their_own_rows(counts: stats.StatsBuffer) -> None:
    from django.contrib.auth.models import AnonymousUser

    request = upload("/uploader/report-only", 5000)[0]
    request.user = AnonymousUser()
    assert run_view(request) is None  # let through
    day = datetime.datetime.now(datetime.UTC).date()
    pending = counts.pending_sizes()
    assert set(pending) == {
        (day, "uploader-report-only", "", False),
        (day, "uploader-report-only", "login_required", True),
    }


@pytest.mark.django_db
def test_a_body_without_a_declared_length_is_not_counted(counts: stats.StatsBuffer) -> None:
    request = upload("/lab/small", 10)[0]
    del request.META["CONTENT_LENGTH"]
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    run_view(request)
    assert counts.pending_sizes() == {}
