"""Rejection statistics: a log record, a signal and a counter for every pre-body rejection.

Invariants this module keeps:

* Recording a rejection never touches the database. Counts are added up in memory per
  (day, route, reason, status) and written in one batch per process at most every
  ``EXPECT_STATS_FLUSH_INTERVAL`` seconds, by a daemon thread started on the first rejection:
  a flood of rejections costs one small batch of writes per interval, not a write per request.
* A failed write puts the counts back; they are written with the next batch.
* Days are UTC dates, so processes in different time zones add to the same rows.
* If ``prometheus-client`` is installed, the same counts are also a Prometheus counter,
  ``django_expect_rejections_total{route, reason, status}``, in the default registry.
* Size histograms: the declared ``Content-Length`` of every upload the middleware decides is
  counted per (day, route) in fixed buckets (:data:`~django_expect.models.SIZE_BUCKETS`: powers
  of 4 from 1 KiB to 4 GiB, then everything larger), and that of every refusal per (day,
  route, reason). Memory is a fixed list of 13 counts (plus count and sum) per key, keys
  bounded like the counters'; they are written with the counters, in the same transaction
  (``SizeHistogram``), and observed in Prometheus histograms
  ``django_expect_declared_size_bytes{route}``, ``django_expect_rejected_size_bytes{route,
  reason}`` and ``django_expect_report_only_rejected_size_bytes{route, reason}``.
"""

from __future__ import annotations

import atexit
import bisect
import datetime
import logging
import threading
from collections import Counter
from typing import Any

from django.apps import apps
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import F
from django.http import HttpRequest

from django_expect.conf import conf
from django_expect.core import SIZE_BUCKETS, Decision
from django_expect.overrides import app_installed
from django_expect.signals import server_stopping, upload_rejected

__all__ = ["StatsBuffer", "buffer", "record_rejection", "record_size", "route_name"]

logger = logging.getLogger("django_expect")

_Key = tuple[datetime.date, str, str, int]
#: (day, route, reason or "" for every upload, report-only)
_SizeKey = tuple[datetime.date, str, str, bool]


def size_bucket(size: int) -> int:
    """The index of the bucket ``size`` falls in (``len(SIZE_BUCKETS)``: over the last bound)."""
    return bisect.bisect_left(SIZE_BUCKETS, size)


_prometheus_counter: Any = None  # django_expect_rejections_total
_prometheus_report_only: Any = None  # django_expect_report_only_rejections_total
_prometheus_missing = False
_prometheus_lock = threading.Lock()


_prometheus_histograms: dict[str, Any] = {}


def _prometheus_histogram(name: str) -> Any:
    """One of the size histograms (``declared``, ``rejected``, ``report_only``), created on
    first use; None without prometheus-client."""
    histogram = _prometheus_histograms.get(name)
    if histogram is not None or _prometheus_missing:
        return histogram
    with _prometheus_lock:
        histogram = _prometheus_histograms.get(name)
        if histogram is not None:
            return histogram
        try:
            import prometheus_client
        except ImportError:  # pragma: no cover - exercised when prometheus-client is absent
            return None
        buckets = [float(bound) for bound in SIZE_BUCKETS] + [float("inf")]
        if name == "declared":
            histogram = prometheus_client.Histogram(
                "django_expect_declared_size_bytes",
                "Declared Content-Length of the uploads django-expect decided, per route.",
                ["route"],
                buckets=buckets,
            )
        else:
            metric = (
                "django_expect_report_only_rejected_size_bytes"
                if name == "report_only"
                else "django_expect_rejected_size_bytes"
            )
            what = (
                "a report-only policy would have rejected"
                if name == "report_only"
                else ("django-expect rejected before their body")
            )
            histogram = prometheus_client.Histogram(
                metric,
                f"Declared Content-Length of the uploads {what}, per route and reason.",
                ["route", "reason"],
                buckets=buckets,
            )
        _prometheus_histograms[name] = histogram
    return histogram


def _prometheus_rejections(report_only: bool = False) -> Any:
    """The Prometheus counter (the report-only one with ``report_only``), created on first use
    (None without prometheus-client).

    Imported lazily: prometheus-client costs about 2 MB per worker, and a labelled counter
    exports no sample before its first increment anyway.
    """
    global _prometheus_counter, _prometheus_report_only, _prometheus_missing
    counter = _prometheus_report_only if report_only else _prometheus_counter
    if counter is None and not _prometheus_missing:
        # One creation per process: two first rejections at once (threads, greenlets) would
        # register the same metric twice (prometheus-client: "Duplicated timeseries", a 500).
        with _prometheus_lock:
            counter = _prometheus_report_only if report_only else _prometheus_counter
            if counter is not None or _prometheus_missing:
                return counter
            try:
                import prometheus_client
            except ImportError:  # pragma: no cover - exercised when prometheus-client is absent
                _prometheus_missing = True
                return None
            labels = ["route", "reason", "status"]
            if report_only:
                counter = _prometheus_report_only = prometheus_client.Counter(
                    "django_expect_report_only_rejections",
                    "Requests a report-only policy would have rejected (they went on).",
                    labels,
                )
            else:
                counter = _prometheus_counter = prometheus_client.Counter(
                    "django_expect_rejections",
                    "Requests rejected by django-expect before their body was read.",
                    labels,
                )
    return counter


class StatsBuffer:
    """This process's pending counts, flushed to ``RejectionCount`` in batches."""

    def __init__(self) -> None:
        self._pending: Counter[_Key] = Counter()
        self._pending_report_only: Counter[_Key] = Counter()  # what report-only let through
        #: size histograms: per key [count, total bytes, bucket 0, ..., bucket 12]
        self._pending_sizes: dict[_SizeKey, list[int]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False  # the last flush failed: warn once per outage, not every flush
        #: Write counts from a background thread (and at exit). Test suites that flush by hand
        #: set this to False.
        self.autoflush = True

    def add(self, route: str, reason: str, status: int, report_only: bool = False) -> None:
        day = datetime.datetime.now(datetime.UTC).date()
        with self._lock:
            pending = self._pending_report_only if report_only else self._pending
            pending[(day, route, reason, status)] += 1
        self._ensure_thread()

    def add_size(self, route: str, size: int, reason: str = "", report_only: bool = False) -> None:
        """Count one declared size: of every upload (``reason`` empty) or of a refusal."""
        day = datetime.datetime.now(datetime.UTC).date()
        key = (day, route, reason, report_only)
        with self._lock:
            counts = self._pending_sizes.get(key)
            if counts is None:
                counts = self._pending_sizes[key] = [0] * (len(SIZE_BUCKETS) + 3)
            counts[0] += 1
            counts[1] += size
            counts[2 + size_bucket(size)] += 1
        self._ensure_thread()

    def pending_sizes(self) -> dict[_SizeKey, list[int]]:
        with self._lock:
            return {key: list(counts) for key, counts in self._pending_sizes.items()}

    def pending(self) -> dict[_Key, int]:
        with self._lock:
            return dict(self._pending)

    def pending_report_only(self) -> dict[_Key, int]:
        with self._lock:
            return dict(self._pending_report_only)

    def _ensure_thread(self) -> None:
        if not self.autoflush or (self._thread is not None and self._thread.is_alive()):
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._run, name="django-expect-stats", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(max(conf.EXPECT_STATS_FLUSH_INTERVAL, 0.05))
            self._wake.clear()
            try:
                self.flush()
            finally:
                close_old_connections()

    def flush(self) -> int:
        """Write the pending counts and size histograms (one batch, one transaction); returns
        how many rejection count rows were touched."""
        with self._lock:
            batch, self._pending = self._pending, Counter()
            reported, self._pending_report_only = self._pending_report_only, Counter()
            sizes, self._pending_sizes = self._pending_sizes, {}
        if not batch and not reported and not sizes:
            return 0
        try:
            with transaction.atomic():
                for key, count in sorted(batch.items()):
                    _add_to_row(key, count, report_only=False)
                for key, count in sorted(reported.items()):
                    _add_to_row(key, count, report_only=True)
                if sizes:
                    _add_to_histograms(sizes)
        except Exception as error:
            with self._lock:
                self._pending.update(batch)
                self._pending_report_only.update(reported)
                for size_key, counts in sizes.items():
                    kept = self._pending_sizes.setdefault(size_key, [0] * len(counts))
                    for i, value in enumerate(counts):
                        kept[i] += value
            if not self._failing:
                logger.warning(
                    "django-expect: cannot write %d rejection count(s) and %d size histogram(s) "
                    "(%s: %s); keeping them and retrying at every flush (logged once until a "
                    "flush succeeds)",
                    len(batch) + len(reported),
                    len(sizes),
                    type(error).__name__,
                    error,
                )
            self._failing = True
            return 0
        if self._failing:
            logger.info("django-expect: rejection counts written again after a failed flush")
            self._failing = False
        return len(batch) + len(reported)


def _add_to_row(key: _Key, count: int, report_only: bool) -> None:
    model = apps.get_model("django_expect", "RejectionCount")
    day, route, reason, status = key
    fields = {"day": day, "route": route, "reason": reason, "status": status}
    fields["report_only"] = report_only
    rows = model.objects.filter(**fields)
    if rows.update(count=F("count") + count):
        return
    try:
        with transaction.atomic():
            model.objects.create(**fields, count=count)
    except IntegrityError:  # another process created the row meanwhile
        rows.update(count=F("count") + count)


def _add_to_histograms(sizes: dict[_SizeKey, list[int]]) -> None:
    """Add pending histograms to their rows: one SELECT of the rows that exist, one INSERT of
    those that do not, one UPDATE per existing row (inside the flush's transaction)."""
    model = apps.get_model("django_expect", "SizeHistogram")
    existing = {
        (row.day, row.route, row.reason, row.report_only)
        for row in model.objects.filter(
            day__in={key[0] for key in sizes}, route__in={key[1] for key in sizes}
        ).only("day", "route", "reason", "report_only")
    }
    fresh = [key for key in sizes if key not in existing]
    if fresh:
        try:
            with transaction.atomic():
                model.objects.bulk_create(
                    [
                        model(**_histogram_fields(key), **_histogram_values(sizes[key]))
                        for key in fresh
                    ]
                )
        except IntegrityError:  # another process created one meanwhile: add to it instead
            existing.update(fresh)
    for key in sorted(k for k in sizes if k in existing):
        rows = model.objects.filter(**_histogram_fields(key))
        changes = {name: F(name) + n for name, n in _histogram_values(sizes[key]).items()}
        if not rows.update(**changes):
            model.objects.create(**_histogram_fields(key), **_histogram_values(sizes[key]))


def _histogram_fields(key: _SizeKey) -> dict[str, Any]:
    day, route, reason, report_only = key
    return {"day": day, "route": route, "reason": reason, "report_only": report_only}


def _histogram_values(counts: list[int]) -> dict[str, int]:
    values = {"count": counts[0], "total_bytes": counts[1]}
    values.update({f"bucket_{i}": n for i, n in enumerate(counts[2:]) if n})
    return values


buffer = StatsBuffer()


def flush_before_exit(**_: Any) -> None:
    """Write this process's pending counts before it exits: at interpreter exit, and when the
    ASGI server announces its shutdown (``server_stopping``; uvicorn exits through the SIGTERM
    it was sent, so ``atexit`` does not run there)."""
    if buffer.autoflush and buffer.pending():
        buffer.flush()


atexit.register(flush_before_exit)
server_stopping.connect(flush_before_exit, dispatch_uid="django_expect.stats")


def client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "-")


def route_name(request: HttpRequest) -> str:
    """The route as overrides and statistics name it: the resolved view name."""
    match = request.resolver_match
    return match.view_name if match is not None else "-"


def record_rejection(
    sender: type, request: HttpRequest, decision: Decision, *, report_only: bool = False
) -> None:
    """Log, signal and count one rejection (called by the middleware; no database access).

    ``report_only``: the policy is in report-only mode and the request went on as accepted;
    the log record says "would be rejected", the counts and the signal carry the flag, and
    Prometheus counts it in ``django_expect_report_only_rejections_total``.

    The status is the one answered: ``decision.status`` (a view's own ``check`` chooses its
    response, and ``Decision.check_status`` carries that response's status).
    """
    assert decision.reason is not None and decision.status is not None
    route = route_name(request)
    reason = decision.reason.value
    status = decision.status
    if logger.isEnabledFor(logging.INFO):  # the record and its extra only when logged
        client = client_address(request)
        logger.info(
            "upload %s: route=%s reason=%s status=%d declared_length=%s client=%s",
            "would be rejected (report-only)" if report_only else "rejected",
            route,
            reason,
            status,
            "-" if decision.declared_length is None else decision.declared_length,
            client,
            extra={
                "route": route,
                "reason": reason,
                "status": status,
                "declared_length": decision.declared_length,
                "client": client,
                "method": request.method,
                "report_only": report_only,
            },
        )
    if conf.EXPECT_STATS and app_installed():
        buffer.add(route, reason, status, report_only)
    if decision.declared_length is not None:
        record_size(request, decision.declared_length, reason, report_only=report_only)
    counter = _prometheus_rejections(report_only)
    if counter is not None:
        counter.labels(route=route, reason=reason, status=str(status)).inc()
    upload_rejected.send(
        sender=sender, request=request, decision=decision, route=route, report_only=report_only
    )


def record_size(
    request: HttpRequest, size: int, reason: str = "", *, report_only: bool = False
) -> None:
    """Count one declared size in the route's histogram (no database access): of every
    upload the middleware decides (``reason`` empty), or of a refusal (its reason)."""
    route = route_name(request)
    if conf.EXPECT_STATS and app_installed():
        buffer.add_size(route, size, reason, report_only)
    if not reason:
        histogram = _prometheus_histogram("declared")
        if histogram is not None:
            histogram.labels(route=route).observe(size)
        return
    histogram = _prometheus_histogram("report_only" if report_only else "rejected")
    if histogram is not None:
        histogram.labels(route=route, reason=reason).observe(size)
