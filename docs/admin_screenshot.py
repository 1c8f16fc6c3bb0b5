"""Render docs/images/admin.png: the upload policy overrides page of the demo's admin.

    .venv/bin/python docs/admin_screenshot.py

Builds a throw-away demo database with two overrides and a few rejection counts, renders the
admin page in-process (logged in as the demo superuser), points its stylesheets at Django's own
admin static files, and has headless Chromium (Debian package ``chromium``) take the picture.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "testproject"), str(ROOT)]
WORK = Path(tempfile.mkdtemp(prefix="django-expect-shot-"))
os.environ.update(
    DJANGO_SETTINGS_MODULE="testproject.settings",
    DEMO_DB=str(WORK / "db.sqlite3"),
    DEMO_MEDIA_ROOT=str(WORK / "media"),
)

import django  # noqa: E402

django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from django_expect.models import PolicyOverride, RejectionCount  # noqa: E402


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    call_command("migrate", verbosity=0, interactive=False)
    call_command("demo_setup", verbosity=0)
    PolicyOverride.objects.create(route="api-upload", max_size=5_000_000, note="incident 42")
    PolicyOverride.objects.create(route="document-form", content_types="image/png", expect="refuse")
    today = timezone.now().date()
    RejectionCount.objects.create(
        day=today, route="api-upload", reason="content_too_large", status=413, count=1289
    )
    RejectionCount.objects.create(
        day=today, route="api-upload", reason="login_required", status=401, count=37
    )

    client = Client()
    client.force_login(get_user_model().objects.get(username="demo"))
    html = client.get("/admin/django_expect/policyoverride/").content.decode()
    static = Path(admin.__file__).parent / "static"
    html = re.sub(r'(href|src)="/static/', rf'\1="file://{static}/', html)
    page = WORK / "admin.html"
    page.write_text(html)
    output = ROOT / "docs" / "images" / "admin.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={WORK / 'chromium'}",
            "--hide-scrollbars",
            "--window-size=1400,1250",
            f"--screenshot={output}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    shutil.rmtree(WORK, ignore_errors=True)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
