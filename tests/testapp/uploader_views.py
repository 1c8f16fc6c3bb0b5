"""Routes with per-request limits (issue 22), at /uploader/ (tests/urls.py includes them).

Plans: anonymous 100 bytes, a user 1000 bytes and text only, a superuser ("pro") 100 kB and any
type. The same plan function serves a session/Token-middleware view, a DRF view whose users
authenticate with a DRF authenticator (``Authorization: Bearer <ApiToken>``), and views whose
callables fail or return bad values. ``/uploader/report-only`` has every check in report-only
mode.
"""

from demo.models import ApiToken
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from django_expect import upload_policy
from tests.testapp.views import _report


def plan_max_size(request):
    user = request.user
    if user.is_superuser:
        return "100kB"
    return 1000 if user.is_authenticated else 100


def plan_types(request):
    return None if request.user.is_superuser else ["text/plain"]


@csrf_exempt
@upload_policy(max_size=plan_max_size, content_types=plan_types)
def plan(request):
    return _report(request, user=request.user.get_username())


@csrf_exempt
@upload_policy(max_size=lambda request: "lots")
def bad_value(request):
    return _report(request)


def _broken(request):
    raise LookupError("no plan for this user")


@csrf_exempt
@upload_policy(max_size=_broken)
def raising(request):
    return _report(request)


def _ticket_check(request):
    if request.headers.get("X-Upload-Ticket") != "valid":
        return JsonResponse({"error": "no ticket"}, status=409)
    return None


@csrf_exempt
@upload_policy(
    max_size=100,
    content_types="text/plain",
    login_required=True,
    permission="auth.view_user",
    check=_ticket_check,
    report_only=True,
)
def report_only(request):  # each credential/head below breaks one check; all go through
    return _report(request)


def quota_of(request):
    if not request.user.is_authenticated:
        return None
    return (f"user:{request.user.pk}", 1000)  # usage is not stored here: always 1000 left


@csrf_exempt
@upload_policy(quota=quota_of, max_size="1MB")
def quota(request):
    return _report(request)


@csrf_exempt
@upload_policy(quota=lambda request: ("k", -5))
def bad_quota(request):
    return _report(request)


urlpatterns = [
    path("uploader/quota", quota, name="uploader-quota"),
    path("uploader/bad-quota", bad_quota, name="uploader-bad-quota"),
    path("uploader/report-only", report_only, name="uploader-report-only"),
    path("uploader/plan", plan, name="uploader-plan"),
    path("uploader/bad-value", bad_value, name="uploader-bad-value"),
    path("uploader/raising", raising, name="uploader-raising"),
]

try:
    from rest_framework.authentication import BaseAuthentication
    from rest_framework.decorators import api_view, authentication_classes
except ImportError:  # pragma: no cover
    pass
else:

    class BearerTokenAuthentication(BaseAuthentication):
        """DRF authentication from the head: ``Authorization: Bearer <ApiToken key>``."""

        def authenticate(self, request):
            header = request.META.get("HTTP_AUTHORIZATION", "")
            if not header.startswith("Bearer "):
                return None
            token = ApiToken.objects.select_related("user").filter(key=header[7:]).first()
            return None if token is None else (token.user, token)

    @upload_policy(max_size=plan_max_size, content_types=plan_types)
    @api_view(["POST"])
    @authentication_classes([BearerTokenAuthentication])
    def drf_plan(request):
        return _report(request, user=request.user.get_username())

    urlpatterns.append(path("uploader/drf-plan", drf_plan, name="uploader-drf-plan"))
