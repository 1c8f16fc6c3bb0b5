"""`Authorization: Token <key>` authentication for API clients (reads headers only)."""

from django.contrib.auth.models import AnonymousUser

from demo.models import ApiToken


class TokenAuthMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Token "):
            token = ApiToken.objects.select_related("user").filter(key=header[6:].strip()).first()
            request.user = token.user if token else AnonymousUser()
            request._dont_enforce_csrf_checks = True  # token clients are not browsers
        return self.get_response(request)
