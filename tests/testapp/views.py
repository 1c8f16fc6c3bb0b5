"""The test app's views (tests/urls.py): one ``lab_*`` view per policy option at /lab/.

The pages the end-to-end, client and browser tests drive besides these (the object store at
/objects/, the form at /upload/form, the uploader recipes, the upload API) are the demo's own
(testproject/demo/urls.py), tested as they are.
"""

import gc
import hashlib
import logging
import os
import sys

from demo.views import digest_body
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from django_expect import upload_policy

# -- lab: one view per policy option -------------------------------------------------------------


def _report(request, **extra):
    size, sha256, _ = digest_body(request)
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
@upload_policy(permission="demo.add_storedobject")
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
            size, sha256, _ = digest_body(request)
            return Response({"size": size, "sha256": sha256, "user": request.user.username})


# -- lab: faults (stalled, short and broken bodies) --------------------------------------------


@csrf_exempt
@upload_policy(max_size="10MB", body_timeout=1)
def lab_timeout(request):  # a body that stops arriving for 1 s gets 408
    return _report(request)


@csrf_exempt
@upload_policy(max_size="10MB", body_timeout=1, min_rate=100, min_rate_grace=0.5)
def lab_slow(request):  # under 100 B/s on average after 0.5 s: 408 (wire/test_min_rate_wire.py)
    return _report(request)


@csrf_exempt
@upload_policy(max_size="10MB", body_timeout=1)
def lab_swallow(request):  # a careless view that swallows read errors: the middleware still answers
    try:
        return _report(request)
    except OSError as error:  # what it caught goes to the log (tests/wire/test_faults.py reads it)
        logging.getLogger("testapp").info(
            "lab/swallow caught %s caused by %s",
            type(error).__name__,
            type(error.__cause__).__name__,
        )
        return JsonResponse({"size": -1, "sha256": "swallowed"})


def lab_greenlets(request):
    """The soak's sampler (stress/soak.py): this worker process's live greenlets, counted by the
    garbage collector (None where greenlet was never imported: not a gevent worker)."""
    module = sys.modules.get("greenlet")
    count = None
    if module is not None:
        count = sum(1 for obj in gc.get_objects() if isinstance(obj, module.greenlet))
    return JsonResponse({"pid": os.getpid(), "greenlets": count})
