"""Per-endpoint upload policies in Django REST framework and django-ninja
(docs/howto/api-frameworks.md).

Mounted at /drf/ and /ninja/ (testproject/urls.py): ``POST /drf/documents/`` (a ViewSet's
``create``: 5 MB, login) and ``POST /ninja/documents`` (a multipart ``UploadedFile``: 5 MB). The
tests' endpoints (every decorator order, authenticators) are in tests/testapp/api_views.py.
"""

from __future__ import annotations

from django.urls import include, path
from ninja import File, NinjaAPI
from ninja.files import UploadedFile
from rest_framework import viewsets
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from demo.views import body_summary
from django_expect import upload_policy

# -- Django REST framework ----------------------------------------------------------------------


class DocumentViewSet(viewsets.ViewSet):  # the demo: POST /drf/documents/ (5 MB, login)
    authentication_classes = (SessionAuthentication, BasicAuthentication)

    @upload_policy(max_size="5MB", login_required=True)
    def create(self, request):
        return Response({**body_summary(request), "user": request.user.get_username()}, status=201)


drf_router = SimpleRouter()
drf_router.register("documents", DocumentViewSet, basename="documents")


# -- django-ninja --------------------------------------------------------------------------------

api = NinjaAPI(urls_namespace="ninja", docs_url=None)


@api.post("/documents")
@upload_policy(max_size="5MB", content_types=["multipart/form-data"])
def ninja_documents(request, file: UploadedFile = File(...)):  # noqa: B008 - the demo's
    return {"name": file.name, **body_summary(file)}


urlpatterns = [
    path("drf/", include((drf_router.urls, "drf"))),
    path("ninja/", api.urls),
]
