"""Flat as the project grows: django-expect's per-request cost with many URL patterns and many
admin overrides, and how long a refresh of the overrides takes.

    python -m bench.scale [--patterns 1,100,10000] [--overrides 0,100,10000] [--rows 10000]
                          [--iterations 20000]          # prints JSON

In-process, like bench/overhead.py (stand-ins for gunicorn's request, no sockets), ROUNDS rounds
per figure:

* ``patterns``: a URL conf of N patterns with the upload view last; each request is resolved by
  Django (``resolve_us``: Django's own cost, the same with or without django-expect) and then
  goes through ExpectMiddleware's ``process_view`` and response phase (``middleware_us``:
  django-expect's share, which must not grow with N).
* ``overrides``: the same 1 KiB POST with N overrides in force (none of them on the route, plus
  one on it when N > 0), through the middleware.
* ``refresh``: N override rows in a fresh SQLite database; the refresher's first load (counter +
  rows + site row) and a refresh with nothing changed (the counter only), in seconds. Requests
  never wait for either (tests/wire/test_no_request_queries.py: ``test_requests_never_wait_for_a_
  refresh``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ["BENCH_MODE"] = "expect"
_DB = Path(tempfile.mkdtemp(prefix="bench-scale-")) / "db.sqlite3"
os.environ["TEST_DB"] = str(_DB)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import clear_url_caches, path, resolve  # noqa: E402

from bench import views  # noqa: E402
from bench.overhead import BODY, ROUNDS, _request  # noqa: E402
from django_expect import overrides, upload_policy  # noqa: E402
from django_expect.middleware import ExpectMiddleware  # noqa: E402
from django_expect.overrides import Override, OverrideRegistry, SiteDefaults  # noqa: E402

UPLOAD = "/upload-last"


def _urlconf(count: int) -> str:
    """A URL conf module of ``count`` patterns, the upload view last; its dotted name."""
    name = f"bench_scale_urls_{count}"
    module = types.ModuleType(name)
    filler = [
        path(f"filler-{i}/<int:pk>", views.small, name=f"filler-{i}") for i in range(count - 1)
    ]
    upload = upload_policy(max_size="64KiB")(views.small)
    module.urlpatterns = [*filler, path(UPLOAD.lstrip("/"), upload, name="upload-last")]  # type: ignore[attr-defined]
    sys.modules[name] = module
    return name


def _rounds(step: Any, iterations: int) -> list[float]:
    out = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(iterations):
            step()
        out.append((time.perf_counter() - started) / iterations * 1e6)
    return out


def _registry(count: int) -> OverrideRegistry:
    rows = {i: Override(f"other-{i}", max_size=i) for i in range(count)}
    if count:
        rows[-1] = Override("upload-last", max_size=60_000)
    registry = OverrideRegistry(
        loader=lambda: rows, site_loader=SiteDefaults, version_reader=lambda: 1, background=False
    )
    registry.refresh()
    return registry


def patterns(counts: list[int], iterations: int) -> list[dict[str, Any]]:
    response = HttpResponse("ok")
    middleware = ExpectMiddleware(lambda request: response)
    overrides.registry = _registry(0)
    rows = []
    for count in counts:
        with override_settings(ROOT_URLCONF=_urlconf(count)):
            clear_url_caches()
            match = resolve(UPLOAD)
            # Django's own resolve scans the patterns (linear in their number): fewer calls
            # where each takes milliseconds, the same per-call figure.
            resolve_calls = min(iterations, max(200, iterations * 100 // count))
            resolve_us = _rounds(lambda: resolve(UPLOAD), resolve_calls)

            def through(match: Any = match) -> None:
                request = _request("POST", BODY)
                request.resolver_match = match
                middleware.process_view(request, match.func, (), {})
                middleware(request)

            rows.append(
                {
                    "patterns": count,
                    "resolve_us": resolve_us,
                    "middleware_us": _rounds(through, iterations),
                }
            )
        clear_url_caches()
    return rows


def overrides_in_force(counts: list[int], iterations: int) -> list[dict[str, Any]]:
    response = HttpResponse("ok")
    middleware = ExpectMiddleware(lambda request: response)
    rows = []
    with override_settings(ROOT_URLCONF=_urlconf(1)):
        clear_url_caches()
        match = resolve(UPLOAD)
        for count in counts:
            overrides.registry = _registry(count)

            def through() -> None:
                request = _request("POST", BODY)
                request.resolver_match = match
                middleware.process_view(request, match.func, (), {})
                middleware(request)

            rows.append({"overrides": count, "middleware_us": _rounds(through, iterations)})
    clear_url_caches()
    return rows


def refresh(rows: int) -> dict[str, Any]:
    from django_expect.models import PolicyOverride

    call_command("migrate", "-v0", "--noinput")
    PolicyOverride.objects.bulk_create(
        PolicyOverride(route=f"route-{i}", max_size=1000 + i) for i in range(rows)
    )
    overrides.bump_version()
    first, unchanged = [], []
    for _ in range(ROUNDS):
        registry = OverrideRegistry(background=False)
        started = time.perf_counter()
        registry.refresh()
        first.append(time.perf_counter() - started)
        assert len(registry.current()) == rows, len(registry.current())
        started = time.perf_counter()
        registry.refresh()
        unchanged.append(time.perf_counter() - started)
    return {"rows": rows, "first_load_s": first, "unchanged_s": unchanged}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", default="1,100,10000")
    parser.add_argument("--overrides", default="0,100,10000")
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--iterations", type=int, default=20000)
    args = parser.parse_args(argv)

    def ints(text: str) -> list[int]:
        return [int(v) for v in text.split(",") if v]

    result = {
        "rounds": ROUNDS,
        "iterations": args.iterations,
        "patterns": patterns(ints(args.patterns), args.iterations),
        "overrides": overrides_in_force(ints(args.overrides), args.iterations),
        "refresh": refresh(args.rows),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
