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
"""

from __future__ import annotations

import atexit
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
from django_expect.core import Decision
from django_expect.overrides import app_installed
from django_expect.signals import upload_rejected

__all__ = ["StatsBuffer", "buffer", "record_rejection", "route_name"]

logger = logging.getLogger("django_expect")

_Key = tuple[datetime.date, str, str, int]

_prometheus_counter: Any = None  # django_expect_rejections_total
_prometheus_report_only: Any = None  # django_expect_report_only_rejections_total
_prometheus_missing = False
_prometheus_lock = threading.Lock()


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
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushes = 0
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
        """Write the pending counts (one batch); returns how many rows were touched."""
        with self._lock:
            batch, self._pending = self._pending, Counter()
            reported, self._pending_report_only = self._pending_report_only, Counter()
        if not batch and not reported:
            return 0
        try:
            with transaction.atomic():
                for key, count in sorted(batch.items()):
                    _add_to_row(key, count, report_only=False)
                for key, count in sorted(reported.items()):
                    _add_to_row(key, count, report_only=True)
        except Exception as error:
            with self._lock:
                self._pending.update(batch)
                self._pending_report_only.update(reported)
            if not self._failing:
                logger.warning(
                    "django-expect: cannot write %d rejection count(s) (%s: %s); keeping them "
                    "and retrying at every flush (logged once until a flush succeeds)",
                    len(batch) + len(reported),
                    type(error).__name__,
                    error,
                )
            self._failing = True
            return 0
        if self._failing:
            logger.info("django-expect: rejection counts written again after a failed flush")
            self._failing = False
        self.flushes += 1
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


buffer = StatsBuffer()


@atexit.register
def _flush_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    if buffer.autoflush and buffer.pending():
        buffer.flush()


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
    counter = _prometheus_rejections(report_only)
    if counter is not None:
        counter.labels(route=route, reason=reason, status=str(status)).inc()
    upload_rejected.send(
        sender=sender, request=request, decision=decision, route=route, report_only=report_only
    )
