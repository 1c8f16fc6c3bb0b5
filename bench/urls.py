"""Bench URLs: the same views, stock or with ``@upload_policy`` (``settings.BENCH_MODE``)."""

import os

from django.conf import settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench import views

if settings.BENCH_MODE == "expect":
    from django_expect import upload_policy

    def policy(**kwargs):
        return upload_policy(**kwargs)
else:

    def policy(**kwargs):
        return lambda view: view


urlpatterns = [
    path("objects/<path:key>", csrf_exempt(policy(max_size=views.PUT_LIMIT)(views.put_object))),
    path(
        "objects-read/<path:key>",
        csrf_exempt(policy(max_size=views.PUT_LIMIT)(views.put_object_reading)),
    ),
    path("accept/<path:key>", csrf_exempt(policy(max_size="2GiB")(views.accept_stream))),
    path(
        "upload/form",
        csrf_exempt(
            policy(max_size=views.FORM_LIMIT, content_types=["multipart/form-data"])(
                views.upload_form
            )
        ),
    ),
    path("small", csrf_exempt(policy(max_size="64KiB")(views.small))),
    path(
        "small-form",
        csrf_exempt(
            policy(max_size="64KiB", content_types=["application/x-www-form-urlencoded"])(
                views.small_form
            )
        ),
    ),
    path(
        "small-json",
        csrf_exempt(policy(max_size="64KiB", content_types=["application/json"])(views.small_json)),
    ),
    path("stored/<path:key>", csrf_exempt(policy(max_size="2GiB")(views.put_stored))),
]

if settings.BENCH_MODE == "expect":  # bench/tus.py: the tus endpoint needs the app
    from django.urls import include

    from django_expect.tus import tus_urls

    urlpatterns += [
        # The limit governs the whole file: refused at creation.
        path("tus-limited/", include(tus_urls(max_size=views.PUT_LIMIT), namespace="limited")),
        # No whole-file limit (django-tus style): takes the file, a check can only come after.
        path("tus-open/", include(tus_urls(max_size="2GiB"), namespace="open")),
    ]

if os.environ.get("BENCH_TIMING"):  # bench/breakdown.py: the worker's timings (bench only)
    from django.http import JsonResponse

    def timings(request):
        from bench.timed_gunicorn import take_samples

        return JsonResponse({"samples": take_samples()})

    urlpatterns += [path("bench/timings", timings)]
