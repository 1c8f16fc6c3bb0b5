"""Per-endpoint upload policies in Django REST framework and django-ninja
(docs/howto/api-frameworks.md).

Mounted at /drf/ and /ninja/ (tests/urls.py); the demo's own endpoints (testproject/demo/
api_views.py) are tested on the demo (tests/tooling/test_demo.py). These are what the end-to-end
tests drive (tests/wire/test_frameworks_wire.py): 1000-byte limits on single actions and
operations, with the decorator written in both orders around ``@action`` and ``@api.post``.
"""

from __future__ import annotations

import hashlib

from demo.views import body_summary
from django.contrib.auth import get_user_model
from django.urls import include, path
from ninja import File, NinjaAPI, Router, Schema
from ninja.files import UploadedFile
from ninja.security import APIKeyHeader, HttpBearer
from rest_framework import generics, serializers, viewsets
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from django_expect import upload_policy

# -- Django REST framework ----------------------------------------------------------------------


@upload_policy(max_size=3000)  # the class: the default for actions without their own
class LabViewSet(viewsets.ViewSet):
    authentication_classes = (SessionAuthentication,)

    @upload_policy(max_size=1000)
    def create(self, request):  # POST /drf/lab/ (JSON, parsed by DRF)
        return Response({"keys": sorted(request.data)}, status=201)

    @upload_policy(max_size=2000)
    def update(self, request, pk=None):  # PUT /drf/lab/<pk>/
        return Response(body_summary(request))

    def partial_update(self, request, pk=None):  # PATCH: the class's 3000 bytes
        return Response(body_summary(request))

    @action(detail=False, methods=["post"])
    @upload_policy(max_size=1000, content_types=["application/octet-stream"])
    def blob(self, request):  # POST /drf/lab/blob/: @action above @upload_policy
        return Response(body_summary(request))

    @upload_policy(max_size=1000)
    @action(detail=True, methods=["post"])
    def attach(self, request, pk=None):  # POST /drf/lab/<pk>/attach/: the other order
        return Response(body_summary(request))

    @action(detail=False, methods=["post"], authentication_classes=[BasicAuthentication])
    @upload_policy(max_size=1000, login_required=True)
    def private(self, request):  # POST /drf/lab/private/: Basic auth, read from the head
        return Response({**body_summary(request), "user": request.user.get_username()})


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField()


class LabCreateView(generics.CreateAPIView):  # POST /drf/generic: the mixin's create
    serializer_class = NoteSerializer
    authentication_classes = (SessionAuthentication,)

    @upload_policy(max_size=1000)
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.data, status=201)


class LabUpdateView(generics.UpdateAPIView):  # /drf/note: PUT 2000 bytes, PATCH its own 1000
    authentication_classes = (SessionAuthentication,)

    @upload_policy(max_size=2000)
    def update(self, request, *args, **kwargs):
        return Response(body_summary(request))

    @upload_policy(max_size=1000)
    def partial_update(self, request, *args, **kwargs):
        return Response(body_summary(request))


class LabAPIView(APIView):  # POST /drf/plain: 1000 bytes; PUT: EXPECT_DEFAULT_POLICY
    authentication_classes = (SessionAuthentication,)

    @upload_policy(max_size=1000)
    def post(self, request):
        return Response(body_summary(request))

    def put(self, request):
        return Response(body_summary(request))


drf_router = SimpleRouter()
drf_router.register("lab", LabViewSet, basename="lab")

drf_urlpatterns = [
    *drf_router.urls,
    path("generic", LabCreateView.as_view(), name="generic"),
    path("note", LabUpdateView.as_view(), name="note"),
    path("plain", LabAPIView.as_view(), name="plain"),
]


# -- django-ninja --------------------------------------------------------------------------------


class ApiKey(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request, key):
        if key == "demo-key":
            return get_user_model().objects.filter(username="demo").first()
        return None


class Bearer(HttpBearer):
    def authenticate(self, request, token):
        return token if token == "lab-token" else None  # not a user: logged in, no permissions


class Item(Schema):
    name: str
    tags: tuple[str, ...] = ()


api = NinjaAPI(urls_namespace="ninja", docs_url=None)


@api.post("/json")
@upload_policy(max_size=1000)
def ninja_json(request, item: Item):  # JSON parsed by ninja (pydantic)
    return {"name": item.name, "tags": item.tags}


@upload_policy(max_size=1000, content_types=["multipart/form-data"])
@api.post("/files")
def ninja_files(request, file: UploadedFile = File(...)):  # noqa: B008 - ninja's idiom  # @upload_policy above @api.post
    return {"name": file.name, **body_summary(file)}


@api.put("/raw")
@upload_policy(max_size=1000)
def ninja_raw(request):
    body = request.body
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@api.post("/async")
@upload_policy(max_size=1000)
async def ninja_async(request):
    body = request.body
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@api.post("/items")
@upload_policy(max_size=1000)
def ninja_items_post(request):
    return body_summary(request)


@api.put("/items")
@upload_policy(max_size=2000)
def ninja_items_put(request):  # the same path: each method has its own policy
    return body_summary(request)


@api.post("/keyed", auth=ApiKey())
@upload_policy(max_size=1000, login_required=True)
def ninja_keyed(request):  # identity from the operation's own X-API-Key, before the body
    return {**body_summary(request), "user": request.auth.get_username()}


@api.post("/bearer", auth=Bearer())
@upload_policy(max_size=1000, login_required=True)
def ninja_bearer(request):
    return body_summary(request)


lab_router = Router()


@lab_router.post("/upload")
@upload_policy(max_size=1000)
def router_upload(request):  # POST /ninja/router/upload
    return body_summary(request)


nested_router = Router()


@nested_router.post("/deep")
@upload_policy(max_size=1000)
def nested_upload(request):  # POST /ninja/router/nested/deep: a router inside a router
    return body_summary(request)


lab_router.add_router("/nested", nested_router)
api.add_router("/router", lab_router)

urlpatterns = [
    path("drf/", include((drf_urlpatterns, "drf"))),
    path("ninja/", api.urls),
]
