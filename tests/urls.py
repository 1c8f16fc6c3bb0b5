"""URLs of the test project: the demo's pages (testproject/demo/urls.py), the test app's routes
(tests/testapp), django-expect's precheck, the admin; /drf/ and /ninja/ when Django REST framework
and django-ninja are installed."""

from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path

from django_expect.tus import tus_urls
from tests.testapp import uploader_views, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("_expect/", include("django_expect.urls")),  # proxy precheck (docs/howto/deployment.md)
    path("", include("demo.urls")),
    path("lab/echo", views.lab_echo, name="lab-echo"),
    path("lab/crash", views.lab_crash, name="lab-crash"),
    path("lab/small", views.lab_small, name="lab-small"),
    path("lab/noread", views.lab_noread, name="lab-noread"),
    path("lab/types", views.lab_types, name="lab-types"),
    path("lab/login", views.lab_login, name="lab-login"),
    path("lab/permission", views.lab_permission, name="lab-permission"),
    path("lab/check", views.lab_check, name="lab-check"),
    path("lab/after-checks", views.lab_after_checks, name="lab-after-checks"),
    path("lab/refuse", views.lab_refuse, name="lab-refuse"),
    path("lab/body", views.lab_body, name="lab-body"),
    path("lab/async", views.lab_async, name="lab-async"),
    path("lab/bigbody", views.lab_bigbody, name="lab-bigbody"),
    path("lab/bigform", views.lab_bigform, name="lab-bigform"),
    path("lab/djangocap", views.lab_djangocap, name="lab-djangocap"),
    path("lab/djangocap-csrf", views.lab_djangocap_csrf, name="lab-djangocap-csrf"),
    path("lab/class", views.LabClassView.as_view(), name="lab-class"),
    path("lab/method", views.LabMethodDecoratedView.as_view(), name="lab-method"),
    path("lab/timeout", views.lab_timeout, name="lab-timeout"),
    path("lab/slow", views.lab_slow, name="lab-slow"),
    path("lab/greenlets", views.lab_greenlets, name="lab-greenlets"),  # stress/soak.py
    path("lab/swallow", views.lab_swallow, name="lab-swallow"),
    # tus endpoints (tests/test_tus*.py): one include per upload route.
    path(
        "lab/tus/",
        include(
            tus_urls(max_size="8MB", content_types=["application/octet-stream", "image/*"]),
            namespace="lab-tus",
        ),
    ),
    path(
        "lab/tus-login/",
        include(tus_urls(max_size="8MB", login_required=True), namespace="lab-tus-login"),
    ),
    path("lab/tus-default/", include(tus_urls(), namespace="lab-tus-default")),
]
urlpatterns += uploader_views.urlpatterns  # per-request limits (issue 22)
if views.LabDrfView is not None:
    urlpatterns.append(path("lab/drf", views.LabDrfView.as_view(), name="lab-drf"))
try:  # DRF and django-ninja endpoints (testapp/api_views.py), when both are installed
    from tests.testapp import api_views
except ImportError:  # pragma: no cover
    pass
else:
    urlpatterns += api_views.urlpatterns
# Static files (precheck.js, the admin's CSS, the browser tests' vendor/) served even with DEBUG
# off, as the demo does.
urlpatterns.append(re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}))
