"""The admin where it must not guess: an override of a route no URL pattern has any more keeps
its name in the form, and a staff member without the permission is refused the site-wide
settings (Django's 403), not given a row."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from django_expect.admin import _route_choices
from django_expect.models import UploadSettings


def test_an_unknown_current_route_is_offered_as_it_is() -> None:
    choices = dict(_route_choices("gone-route"))
    assert choices["gone-route"] == "gone-route  (unknown route)"
    assert choices[""] == "---------"
    assert "gone-route" not in dict(_route_choices(None))


@pytest.mark.django_db
def test_staff_without_permission_get_djangos_403_and_no_row(client: Client) -> None:
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    response = client.get("/admin/django_expect/uploadsettings/")
    assert response.status_code == 403
    assert not UploadSettings.objects.exists()
    staff.user_permissions.add(Permission.objects.get(codename="view_uploadsettings"))
    response = client.get("/admin/django_expect/uploadsettings/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/django_expect/uploadsettings/1/change/"
    assert UploadSettings.objects.filter(pk=1).exists()
