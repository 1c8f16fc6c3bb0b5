"""The Python examples of docs/howto/uploader-limits.md run as written against the public API:
each block is executed in order (as the modules ``myapp.plans`` / ``myapp.views`` they name),
and the policies they declare give the values the page says."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.test import RequestFactory, override_settings

from django_expect.checks import check_settings
from django_expect.core import UploadPolicy
from django_expect.policies import default_policy, policy_of

HOWTO = Path(__file__).resolve().parents[2] / "docs" / "howto" / "uploader-limits.md"
BLOCKS = re.findall(r"```python\n(.*?)```", HOWTO.read_text(), re.S)


@pytest.fixture
def myapp() -> Iterator[dict[str, Any]]:
    """Every block run in one module's namespace, also importable as ``myapp.plans`` and
    ``myapp.views`` (the blocks import each other's names that way)."""
    package = types.ModuleType("myapp")
    module = types.ModuleType("myapp.plans")
    package.plans = module  # type: ignore[attr-defined]
    package.views = module  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("myapp", "myapp.plans", "myapp.views")}
    sys.modules.update({"myapp": package, "myapp.plans": module, "myapp.views": module})
    try:
        yield module.__dict__
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def _run(namespace: dict[str, Any], block: str) -> UploadPolicy | None:
    namespace.pop("upload", None)
    exec(compile(block, str(HOWTO), "exec"), namespace)
    view = namespace.get("upload") or namespace.get("api_upload")
    return policy_of(view) if view is not None else None


def _request(user: Any) -> Any:
    request = RequestFactory().post("/upload", data=b"", content_type="image/png")
    request.user = user
    return request


def test_the_page_has_the_blocks_this_test_runs() -> None:
    assert len(BLOCKS) == 8
    for block in BLOCKS:
        compile(block, str(HOWTO), "exec")


@pytest.mark.django_db
def test_every_block_runs_and_declares_what_the_page_says(myapp: dict[str, Any]) -> None:
    pytest.importorskip("rest_framework")
    plans, views, drf, default, quota, report_only, _metrics, group_example = BLOCKS
    free = User.objects.create_user("free")
    pro = User.objects.create_user("pro")
    pro.groups.add(Group.objects.create(name="pro"))

    assert _run(myapp, plans) is None
    assert myapp["max_upload"](_request(AnonymousUser())) == "1MB"
    assert myapp["max_upload"](_request(free)) == "10MB"

    policy = _run(myapp, views)
    assert policy is not None and policy.login_required is True
    assert policy.per_request == ("max_size", "content_types")
    as_free = policy.for_request(_request(free))
    assert (as_free.max_size, as_free.content_types) == (10_000_000, ("image/*", "application/pdf"))
    as_pro = policy.for_request(_request(pro))
    assert (as_pro.max_size, as_pro.content_types) == (1_000_000_000, None)

    policy = _run(myapp, drf)
    assert policy is not None and policy.per_request == ("max_size",)

    _run(myapp, default)
    with override_settings(EXPECT_DEFAULT_POLICY=myapp["EXPECT_DEFAULT_POLICY"]):
        assert [m.id for m in check_settings()] == []
        assert default_policy().per_request == ("max_size",)

    policy = _run(myapp, quota)
    assert policy is not None and policy.quota is myapp["storage_quota"]
    storage_quota: Any = myapp["storage_quota"]
    assert storage_quota(_request(AnonymousUser())) is None

    policy = _run(myapp, report_only)
    assert policy is not None and policy.report_only is True

    policy = _run(myapp, group_example)
    assert policy is not None and policy.max_size == 10_000_000 and policy.login_required


def test_the_metrics_view_serves_every_workers_counts(
    myapp: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("prometheus_client")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics = [block for block in BLOCKS if "MultiProcessCollector" in block]
    assert len(metrics) == 1
    _run(myapp, metrics[0])
    response = myapp["metrics"](RequestFactory().get("/metrics"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("left", "message"),
    [
        (400, "the body is 600 bytes; your upload quota has 400 bytes left"),  # the page's
        (500_000, "the body is 600000 bytes; your upload quota has 500000 bytes (500 kB) left"),
        (0, "the body is 600 bytes; your upload quota has nothing left"),
    ],
)
def test_the_quota_refusal_reads_as_the_page_shows(left: int, message: str) -> None:
    from django_expect.core import RequestHead, decide
    from django_expect.quotas import quota_exceeded

    declared = 600 if left < 600 else 600_000
    meta = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(declared),
        "CONTENT_TYPE": "image/png",
        "HTTP_EXPECT": "100-continue",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    refusal = quota_exceeded(decide(RequestHead.from_wsgi(meta), UploadPolicy()), left)
    assert (refusal.status, refusal.message) == (413, message)
