"""The test app's views (tests/urls.py): one ``lab_*`` view per policy option at /lab/, and the
routes the end-to-end, client and browser tests drive: an S3-style object store (/objects/), a
multipart form (/upload/form, /upload/plain), uploader recipes, a login-required upload API.
"""

import hashlib
import logging
import os
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from django_expect import upload_policy
from tests.testapp.forms import DocumentForm
from tests.testapp.models import StoredObject

CHUNK = 1024 * 1024


def _digest_body(request):
    """Stream the body through sha256 and md5; never hold it in memory."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    while chunk := request.read(CHUNK):
        sha.update(chunk)
        md5.update(chunk)
        size += len(chunk)
    return size, sha.hexdigest(), md5.hexdigest()


def index(request):
    return render(request, "testapp/index.html")


# -- S3-style object store: PUT /objects/<key> (10 MiB), GET to read it back -------------------


def _object_path(key):
    root = Path(settings.MEDIA_ROOT) / "objects"
    root.mkdir(parents=True, exist_ok=True)
    return root / hashlib.sha256(key.encode()).hexdigest()


@csrf_exempt
@upload_policy(max_size="10MiB")
def objects(request, key):
    path = _object_path(key)
    if request.method == "PUT":
        md5, size = hashlib.md5(), 0
        partial = path.with_suffix(".part")
        with open(partial, "wb") as out:
            while chunk := request.read(CHUNK):
                md5.update(chunk)
                size += len(chunk)
                out.write(chunk)
        os.replace(partial, path)
        StoredObject.objects.update_or_create(
            key=key,
            defaults={
                "size": size,
                "md5": md5.hexdigest(),
                "content_type": request.content_type or "",
            },
        )
        response = HttpResponse(status=200)
        response["ETag"] = f'"{md5.hexdigest()}"'
        return response
    if request.method in ("GET", "HEAD"):
        if not path.exists():
            raise Http404(key)
        return FileResponse(open(path, "rb"))
    if request.method == "DELETE":
        path.unlink(missing_ok=True)
        StoredObject.objects.filter(key=key).delete()
        return HttpResponse(status=204)
    return HttpResponse(status=405)


# -- a multipart form: 5 MB, images or PDF ---------------------------------------------------


def _wants_json(request):
    return "application/json" in request.headers.get("Accept", "")


@upload_policy(max_size="5MB", content_types=["multipart/form-data"])
def document_form(request):
    """The form page; the page's script (testapp/upload.js) posts it with XHR and asks for JSON."""
    if request.method == "POST":
        form = DocumentForm(request.POST, request.FILES)
        if form.is_valid():
            document = form.cleaned_data["document"]
            if _wants_json(request):
                return JsonResponse({"stored": document.name, "size": document.size})
            return render(
                request,
                "testapp/form.html",
                {"form": DocumentForm(), "stored": document.name, "size": document.size},
            )
        if _wants_json(request):
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    else:
        form = DocumentForm()
    return render(request, "testapp/form.html", {"form": form})


def plain_form(request):
    """The same form with no script, as a third-party page or an old template sends it: the
    browser posts the whole body to /upload/form whatever its size
    (docs/howto/browsers-sent-anyway.md).
    """
    return render(request, "testapp/plain.html", {"form": DocumentForm()})


def uploaders(request):
    """Recipes for JavaScript uploaders (docs/howto/browsers.md), driven by the browser tests."""
    return render(request, "testapp/uploaders.html")


# -- a login-required upload API ---------------------------------------------------------------


@csrf_exempt
@upload_policy(max_size="50MB", login_required=True)
def api_upload(request):
    if request.method not in ("POST", "PUT"):
        return JsonResponse({"detail": "POST or PUT a body here"}, status=405)
    size, sha256, _ = _digest_body(request)
    return JsonResponse({"user": request.user.get_username(), "size": size, "sha256": sha256})


# -- lab: one view per policy option -------------------------------------------------------------


def _report(request, **extra):
    size, sha256, _ = _digest_body(request)
    return JsonResponse({"size": size, "sha256": sha256, **extra})


def lab_crash(request):  # a view that fails: the log checks must see Django's 500
    raise RuntimeError("lab/crash: a deliberate failure")


@csrf_exempt
def lab_echo(request):  # undecorated: EXPECT_DEFAULT_POLICY applies
    return _report(request)


@csrf_exempt
@upload_policy(max_size=1000)
def lab_small(request):
    return _report(request)


@csrf_exempt
@upload_policy(max_size=1000)
def lab_noread(request):
    return JsonResponse({"read": False})


@csrf_exempt
@upload_policy(content_types=["image/*", "application/pdf"])
def lab_types(request):
    return _report(request)


@csrf_exempt
@upload_policy(login_required=True)
def lab_login(request):
    return _report(request, user=request.user.get_username())


@csrf_exempt
@upload_policy(permission="testapp.add_storedobject")
def lab_permission(request):
    return _report(request)


def _deny_without_ticket(request):
    if request.headers.get("X-Upload-Ticket") != "valid":
        return JsonResponse({"error": {"status": 409, "code": "no_ticket"}}, status=409)
    return None


@csrf_exempt
@upload_policy(check=_deny_without_ticket)
def lab_check(request):
    return _report(request)


@csrf_exempt
@upload_policy(expect="after-checks")
def lab_after_checks(request):
    return _report(request)


@csrf_exempt
@upload_policy(expect="refuse")
def lab_refuse(request):
    return _report(request)


@csrf_exempt
@upload_policy(max_size=100_000)
def lab_body(request):  # reads request.body: chunked bodies arrive whole, capped at max_size
    body = request.body
    return JsonResponse({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})


# -- body limits (docs/howto/body-limits.md): max_size replaces DATA_UPLOAD_MAX_MEMORY_SIZE


def _in_memory_report(request):
    """What request.body (raw bodies) or request.POST / FILES (forms) read into memory."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields = {name: len(value) for name, value in request.POST.items()}
        files = {name: upload.size for name, upload in request.FILES.items()}
        return JsonResponse({"fields": fields, "files": files})
    body = request.body
    return JsonResponse({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})


@csrf_exempt
@upload_policy(max_size="10MiB")
def lab_bigbody(request):  # request.body up to 10 MiB, over Django's 2.5 MiB default
    body = request.body
    return JsonResponse({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})


@csrf_exempt
@upload_policy(max_size="10MiB")
def lab_bigform(request):  # request.POST (urlencoded, or multipart fields) up to 10 MiB
    return _in_memory_report(request)


@csrf_exempt
@upload_policy()
def lab_djangocap(request):  # a policy without max_size: Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    return _in_memory_report(request)


@upload_policy()
def lab_djangocap_csrf(request):  # the same, behind CsrfViewMiddleware (it reads request.POST)
    return _in_memory_report(request)


@csrf_exempt
@upload_policy(max_size=1000)
async def lab_async(request):
    body = request.body
    return JsonResponse({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})


@method_decorator(csrf_exempt, name="dispatch")
@upload_policy(max_size=1000)
class LabClassView(View):
    def post(self, request):
        return _report(request)


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(upload_policy(max_size=1000), name="dispatch")
class LabMethodDecoratedView(View):
    def post(self, request):
        return _report(request)


try:  # Django REST framework is optional: the DRF lab view exists when it is installed.
    from rest_framework.authentication import BasicAuthentication, SessionAuthentication
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.response import Response
    from rest_framework.views import APIView
except ImportError:  # pragma: no cover
    LabDrfView = None
else:

    @upload_policy(max_size=1000, login_required=True)
    class LabDrfView(APIView):
        authentication_classes = (SessionAuthentication, BasicAuthentication)
        permission_classes = (IsAuthenticated,)

        def post(self, request):
            size, sha256, _ = _digest_body(request)
            return Response({"size": size, "sha256": sha256, "user": request.user.username})


# -- lab: faults (stalled, short and broken bodies) --------------------------------------------


@csrf_exempt
@upload_policy(max_size="10MB", body_timeout=1)
def lab_timeout(request):  # a body that stops arriving for 1 s gets 408
    return _report(request)


@csrf_exempt
@upload_policy(max_size="10MB", body_timeout=1)
def lab_swallow(request):  # a careless view that swallows read errors: the middleware still answers
    try:
        return _report(request)
    except OSError as error:  # what it caught goes to the log (tests/test_faults.py reads it)
        logging.getLogger("testapp").info(
            "lab/swallow caught %s caused by %s",
            type(error).__name__,
            type(error.__cause__).__name__,
        )
        return JsonResponse({"size": -1, "sha256": "swallowed"})
