"""The demo's pages and upload endpoints, included by the demo project (testproject/urls.py) and
by the test project (tests/urls.py), whose end-to-end and browser tests drive them as they are."""

from django.urls import include, path

from demo import views
from django_expect.tus import tus_urls

urlpatterns = [
    path("", views.index, name="index"),
    path("objects/<path:key>", views.objects, name="objects"),
    path("upload/form", views.document_form, name="document-form"),
    path("upload/plain", views.plain_form, name="plain-form"),
    path("upload/uploaders", views.uploaders, name="uploaders"),
    path("api/uploads", views.api_upload, name="api-upload"),
    # Resumable uploads (tus): the policy covers the whole file (docs/howto/tus.md).
    path("uploads/tus/", include(tus_urls(max_size="10MB"), namespace="demo-tus")),
    path("upload/tus", views.tus_page, name="tus-page"),
]
