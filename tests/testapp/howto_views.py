"""The worked example of docs/howto/uploader-limits.md, scaled down, at /howto/ (tests/urls.py
includes it), for tests/operations/test_uploader_limits_howto.py.

``/howto/upload``: the code's limit is the free plan's (1000 bytes where the how-to says 10 MB);
the operator gives group "pro" more in the admin. Each user has a storage quota counted from the
files the view stored (5000 bytes free, 1 MB pro, where the how-to says 100 MB / 1 GB).
``/howto/metrics``: the project's Prometheus endpoint, in prometheus-client's multiprocess
mode when ``PROMETHEUS_MULTIPROC_DIR`` is set (several gunicorn workers), as the how-to shows.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from django_expect import upload_policy

FREE_QUOTA, PRO_QUOTA = 5000, 1_000_000


def _folder(user_pk: object) -> Path:
    return Path(settings.MEDIA_ROOT) / "howto" / str(user_pk)


def storage_quota(request: HttpRequest) -> tuple[str, int] | None:
    if not request.user.is_authenticated:
        return None  # anonymous: login_required refuses
    folder = _folder(request.user.pk)
    used = sum(f.stat().st_size for f in folder.iterdir()) if folder.is_dir() else 0
    allowance = PRO_QUOTA if request.user.groups.filter(name="pro").exists() else FREE_QUOTA
    return (f"user:{request.user.pk}", max(allowance - used, 0))


@csrf_exempt
@upload_policy(max_size=1000, quota=storage_quota, login_required=True)
def upload(request: HttpRequest) -> JsonResponse:
    body = request.body
    folder = _folder(request.user.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / uuid.uuid4().hex).write_bytes(body)  # the next request's quota counts it
    return JsonResponse({"size": len(body), "user": request.user.get_username()})


def metrics(request: HttpRequest) -> HttpResponse:
    import prometheus_client
    from prometheus_client import multiprocess

    registry = prometheus_client.REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return HttpResponse(
        prometheus_client.generate_latest(registry),
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )


urlpatterns = [
    path("howto/upload", upload, name="howto-upload"),
    path("howto/metrics", metrics, name="howto-metrics"),
]
