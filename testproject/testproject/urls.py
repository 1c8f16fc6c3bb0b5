from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("_expect/", include("django_expect.urls")),  # proxy precheck (docs/howto/deployment.md)
    path("", include("demo.urls")),
]
try:  # DRF and django-ninja endpoints (demo/api_views.py), when both are installed
    from demo import api_views
except ImportError:  # pragma: no cover
    pass
else:
    urlpatterns += api_views.urlpatterns
# The demo serves its static files itself (precheck.js, the admin's CSS) even with DEBUG off, so
# `make demo` needs no collectstatic or web server; a real deployment uses its web server or
# WhiteNoise instead (docs/howto/browsers.md).
urlpatterns.append(re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}))
