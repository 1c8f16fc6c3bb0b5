"""``body_timeout`` and ``EXPECT_BODY_TIMEOUT``: validation and the system check."""

from __future__ import annotations

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

django.setup()

from django_expect import upload_policy  # noqa: E402
from django_expect.checks import check_settings  # noqa: E402
from django_expect.conf import conf  # noqa: E402
from django_expect.policies import policy_of  # noqa: E402


def test_upload_policy_takes_body_timeout() -> None:
    view = upload_policy(body_timeout=2.5)(lambda request: None)
    policy = policy_of(view)
    assert policy is not None and policy.body_timeout == 2.5


@pytest.mark.parametrize("value", [0, -1, "5", True, float("inf")])
def test_invalid_body_timeout_names_the_view(value: object) -> None:
    with pytest.raises(ImproperlyConfigured, match="body_timeout"):
        upload_policy(body_timeout=value)(lambda request: None)  # type: ignore[arg-type]


def test_setting_default_and_override() -> None:
    with override_settings(EXPECT_BODY_TIMEOUT=3):
        assert conf.EXPECT_BODY_TIMEOUT == 3.0
    with override_settings(EXPECT_BODY_TIMEOUT=None):
        assert conf.EXPECT_BODY_TIMEOUT is None


@pytest.mark.parametrize(
    ("value", "ids"),
    [(5, []), (None, []), (0, ["django_expect.E007"]), ("soon", ["django_expect.E007"])],
)
def test_system_check_e005(value: object, ids: list[str]) -> None:
    with override_settings(EXPECT_BODY_TIMEOUT=value):
        assert [m.id for m in check_settings() if m.id == "django_expect.E007"] == ids
