"""The users and tokens the tests log in with: ``demo`` / ``demo`` (superuser, token
``demo-token``) and ``plain`` (no permissions, token ``plain-token``)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tests.testapp.models import ApiToken


class Command(BaseCommand):
    help = "Create the test users 'demo' (superuser, password 'demo') and 'plain', with tokens."

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
        self.stdout.write("test users: demo / demo (demo-token), plain (plain-token)")
