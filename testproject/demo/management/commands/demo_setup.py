"""Create the demo user (demo / demo, superuser) with the API token ``demo-token``, and ``plain``
(no permissions) with ``plain-token``: the demo's users and the tests'."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from demo.models import ApiToken


class Command(BaseCommand):
    help = (
        "Create the demo superuser 'demo' (password 'demo', API token 'demo-token') and the user "
        "'plain' (API token 'plain-token')."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username="demo", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password("demo")
            user.save()
        ApiToken.objects.get_or_create(key="demo-token", defaults={"user": user})
        plain, _ = User.objects.get_or_create(username="plain")
        ApiToken.objects.get_or_create(key="plain-token", defaults={"user": plain})
        self.stdout.write("demo user: demo / demo; API tokens: demo-token (superuser), plain-token")
