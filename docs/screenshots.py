"""Render the browser pages' screenshots in docs/images/ (docs/howto/browsers.md shows them).

    .venv/bin/python docs/screenshots.py

Starts the demo under gunicorn with django-expect's hooks (a throw-away database), and has
Debian's headless Chromium (``apt-get install chromium``), driven by Playwright for Python, take:

* ``demo-upload.png``: the demo's upload page after a 1 MB upload (progress bar, server's answer);
* ``precheck-message.png``: the same page with a 300 MB file chosen: the pre-check's message;
* ``rejected-413.png``: the 413 page a browser shows when the form is posted without scripts;
* ``admin-precheck.png``: the admin's add form of a model with a FileField, pre-check shown.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.browsers import CHROMIUM_ARGS  # noqa: E402
from harness.process import prepare_database, project_env  # noqa: E402
from harness.server import Server  # noqa: E402

IMAGES = ROOT / "docs" / "images"
VIEWPORT = {"width": 900, "height": 640}


def main() -> None:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="django-expect-shots-"))
    env = project_env(work / "db.sqlite3", work / "media")
    prepare_database(env)
    files = {}
    for name, size in (("report.pdf", 1_000_000), ("video.pdf", 300_000_000), ("scan.pdf", 10**7)):
        files[name] = work / name
        with open(files[name], "wb") as handle:
            handle.truncate(size)
    server = Server("gthread", True, work / "gunicorn.log", env).start()
    IMAGES.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{server.url}/upload/form")
            page.fill("#id_title", "Quarterly report")
            page.set_input_files("#id_document", str(files["report.pdf"]))
            page.click("button[type=submit]")
            page.wait_for_selector("#upload-status.done")
            page.screenshot(path=str(IMAGES / "demo-upload.png"))

            page.goto(f"{server.url}/upload/form")
            page.set_input_files("#id_document", str(files["video.pdf"]))
            page.click("button[type=submit]")
            page.wait_for_selector("[data-expect-precheck-message]")
            page.screenshot(path=str(IMAGES / "precheck-message.png"))

            page.goto(f"{server.url}/admin/login/?next=/admin/demo/document/add/")
            page.fill("#id_username", "demo")
            page.fill("#id_password", "demo")
            page.click("input[type=submit]")
            page.wait_for_selector("#id_file")
            page.fill("#id_title", "Site survey")
            huge = work / "survey.pdf"
            with open(huge, "wb") as handle:
                handle.truncate(200 * 2**20)
            page.set_input_files("#id_file", str(huge))
            page.click("input[name=_save]")
            page.wait_for_selector(".expect-precheck-message")
            page.screenshot(path=str(IMAGES / "admin-precheck.png"))

            plain = browser.new_context(java_script_enabled=False, viewport=VIEWPORT).new_page()
            plain.goto(f"{server.url}/upload/form")
            plain.set_input_files("#id_document", str(files["scan.pdf"]))
            plain.click("button[type=submit]")
            plain.wait_for_selector("a.back")
            plain.screenshot(path=str(IMAGES / "rejected-413.png"))
            browser.close()
    finally:
        server.stop()
    for name in ("demo-upload", "precheck-message", "rejected-413", "admin-precheck"):
        print(IMAGES / f"{name}.png")


if __name__ == "__main__":
    main()
