"""Demo views: an S3-style object store, a multipart form, a login-required upload API.

(The tests drive these pages as they are, and one ``lab_*`` view per policy option of their own:
tests/testapp/.)
"""

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from demo.forms import DocumentForm
from demo.models import StoredObject
from django_expect import upload_policy

CHUNK = 1024 * 1024


def digest_body(request):
    """Stream the body through sha256 and md5; never hold it in memory."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    while chunk := request.read(CHUNK):
        sha.update(chunk)
        md5.update(chunk)
        size += len(chunk)
    return size, sha.hexdigest(), md5.hexdigest()


def body_summary(stream):
    """``size`` and ``sha256`` of a body read from ``stream`` (a Django or DRF request, an uploaded
    file), as the API endpoints answer them."""
    size, sha256, _ = digest_body(stream)
    return {"size": size, "sha256": sha256}


def index(request):
    return render(request, "demo/index.html")


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
    """The form page; the page's script (demo/upload.js) posts it with XHR and asks for JSON."""
    if request.method == "POST":
        form = DocumentForm(request.POST, request.FILES)
        if form.is_valid():
            document = form.cleaned_data["document"]
            if _wants_json(request):
                return JsonResponse({"stored": document.name, "size": document.size})
            return render(
                request,
                "demo/form.html",
                {"form": DocumentForm(), "stored": document.name, "size": document.size},
            )
        if _wants_json(request):
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    else:
        form = DocumentForm()
    return render(request, "demo/form.html", {"form": form})


def plain_form(request):
    """The same form with no script, as a third-party page or an old template sends it: the
    browser posts the whole body to /upload/form whatever its size
    (docs/howto/browsers-sent-anyway.md).
    """
    return render(request, "demo/plain.html", {"form": DocumentForm()})


def uploaders(request):
    """Recipes for JavaScript uploaders (docs/howto/browsers.md), driven by the browser tests."""
    return render(request, "demo/uploaders.html")


def tus_page(request):
    """Uppy + tus against the demo's tus endpoint (docs/howto/tus.md)."""
    return render(request, "demo/tus.html", {"endpoint": "/uploads/tus/"})


# -- a login-required upload API ---------------------------------------------------------------


@csrf_exempt
@upload_policy(max_size="50MB", login_required=True)
def api_upload(request):
    if request.method not in ("POST", "PUT"):
        return JsonResponse({"detail": "POST or PUT a body here"}, status=405)
    size, sha256, _ = digest_body(request)
    return JsonResponse({"user": request.user.get_username(), "size": size, "sha256": sha256})
