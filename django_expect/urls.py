"""``path("_expect/", include("django_expect.urls"))``: the proxy precheck endpoints.

See django_expect.precheck and docs/howto/deployment.md (nginx ``auth_request``).
"""

from django.urls import path

from django_expect.precheck import precheck, precheck_precise

app_name = "django_expect"
urlpatterns = [
    path("precheck", precheck, name="precheck"),
    path("precheck/precise", precheck_precise, name="precheck-precise"),
]
