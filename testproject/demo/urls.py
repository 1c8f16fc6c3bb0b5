"""The demo's pages and upload endpoints, included by the demo project (testproject/urls.py) and
by the test project (tests/urls.py), whose end-to-end and browser tests drive them as they are."""

from django.urls import path

from demo import views

urlpatterns = [
    path("", views.index, name="index"),
    path("objects/<path:key>", views.objects, name="objects"),
    path("upload/form", views.document_form, name="document-form"),
    path("upload/plain", views.plain_form, name="plain-form"),
    path("upload/uploaders", views.uploaders, name="uploaders"),
    path("api/uploads", views.api_upload, name="api-upload"),
]
