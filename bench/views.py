"""The bench views, written the everyday Django way (they check sizes themselves).

``bench/urls.py`` serves them as they are (stock) or wrapped in ``@upload_policy`` (django-expect),
so both columns run the same view code; with django-expect the policy answers first.
"""

import json
import zlib

from django import forms
from django.http import HttpResponse, JsonResponse

CHUNK = 1024 * 1024
PUT_LIMIT = 5 * 1024 * 1024  # the S3-style PUT: 5 MiB
FORM_LIMIT = 5_000_000  # the multipart form: 5 MB


def put_object(request, key):
    """S3-style PUT. Stock's best effort: refuse on the declared length, before reading."""
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > PUT_LIMIT:
        return JsonResponse({"error": "too large", "limit": PUT_LIMIT}, status=413)
    return _drain(request)


def put_object_reading(request, key):
    """S3-style PUT, the other everyday way: stream the body, give up once it passes the limit."""
    size = 0
    while chunk := request.read(CHUNK):
        size += len(chunk)
        if size > PUT_LIMIT:
            return JsonResponse({"error": "too large", "limit": PUT_LIMIT}, status=413)
    return JsonResponse({"size": size})


def accept_stream(request, key):
    """Accepted streaming upload: read everything in 1 MiB chunks, keep nothing but a checksum
    (adler32: the bench checks every run received exactly the bytes sent, at little CPU cost)."""
    size, checksum = 0, zlib.adler32(b"")
    while chunk := request.read(CHUNK):
        size += len(chunk)
        checksum = zlib.adler32(chunk, checksum)
    return JsonResponse({"size": size, "adler32": checksum})


def put_stored(request, key):
    """A plain PUT written to default_storage in 64 KiB reads, as the tus endpoint writes its
    chunks: the fair baseline for tus throughput (bench/tus.py)."""
    from django.core.files import File
    from django.core.files.storage import default_storage

    class Body:
        def read(self, size=-1):
            return request.read(64 * 1024)

    name = default_storage.save(f"put/{key}", File(Body(), name=key))
    size = default_storage.size(name)
    default_storage.delete(name)
    return JsonResponse({"size": size})


def _drain(request):
    size = 0
    while chunk := request.read(CHUNK):
        size += len(chunk)
    return JsonResponse({"size": size})


class UploadForm(forms.Form):
    title = forms.CharField(max_length=100, required=False)
    document = forms.FileField()

    def clean_document(self):
        document = self.cleaned_data["document"]
        if document.size > FORM_LIMIT:
            raise forms.ValidationError("The file is too big (5 MB at most).", code="too_big")
        return document


def upload_form(request):
    """The everyday pattern: parse request.FILES through a form, then reject what is too big."""
    if request.method != "POST":
        return HttpResponse("POST a multipart form with a 'document' file", status=405)
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        return JsonResponse({"stored": form.cleaned_data["document"].name})
    too_big = any(e.code == "too_big" for e in form.errors.as_data().get("document", []))
    return JsonResponse({"errors": form.errors}, status=413 if too_big else 400)


def small(request):
    """GET: a tiny response. POST: read the small body, answer its length."""
    if request.method == "POST":
        return HttpResponse(str(len(request.body)))
    return HttpResponse("ok")


def small_form(request):
    """A 1 KiB urlencoded form POST: parse request.POST, answer the length of its text field."""
    return HttpResponse(str(len(request.POST.get("text", ""))))


def small_json(request):
    """A 1 KiB JSON POST: parse the body, answer the length of its text field."""
    return HttpResponse(str(len(json.loads(request.body).get("text", ""))))
