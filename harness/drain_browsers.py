"""Real browsers for the sent-anyway tests and the browser bench
(tests/browsers/test_browser_drain.py, tests/browsers/test_browser_h2.py, bench/browsers.py).

Chromium (Debian ``chromium``) through Playwright for Python with ``executable_path`` (Playwright's
own browser downloads are never used); Firefox ESR (Debian ``firefox-esr``) through puppeteer-core
over WebDriver BiDi, from ``tests/browsers/drain_firefox.mjs``. Each call starts a fresh browser
and returns what it showed: a page with its HTTP status, or an error (a reset page).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from harness.browsers import CHROMIUM_ARGS, NODE_DIR, NODE_MODULES
from harness.node_driver import run_node_driver
from harness.tools import find, missing, require

FIREFOX_SCRIPT = NODE_DIR / "drain_firefox.mjs"
TIMEOUT = 120.0


@dataclass
class Shown:
    """What the browser showed after the upload: ``outcome`` "page" (with ``status``) for a
    document or a script's response, "error" for an error page or a network error."""

    outcome: str
    status: int | None = None
    text: str = ""
    error: str = ""
    seconds: float = 0.0
    protocol: str = ""  # the navigation's nextHopProtocol: "http/1.1", "h2"

    @property
    def shows_413(self) -> bool:
        """A 413 page (its text names the status), or a script's 413 with a JSON error."""
        if self.status != 413:
            return False
        if self.outcome == "page":
            return "413" in self.text
        if self.outcome == "response":
            try:
                return bool(json.loads(self.text))
            except ValueError:
                return False
        return False


def require_chromium() -> str:
    path = require("chromium", "chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing("the Python package playwright", "pip install -r requirements-dev.txt")
    return path


def require_firefox() -> str:
    path = require("firefox-esr", "firefox-esr")
    if find("node") is None:
        missing("node", "apt-get install nodejs")
    if not (NODE_MODULES / "puppeteer-core").is_dir():
        missing("puppeteer-core", f"cd {NODE_DIR} && PUPPETEER_SKIP_DOWNLOAD=1 npm install")
    return path


def chromium(
    mode: str, form_url: str, arg: str | int, *, ignore_https_errors: bool = False
) -> Shown:
    """``mode`` "form": choose the file ``arg`` in the form and submit it; "fetch"/"xhr": post a
    ``arg``-byte Blob as multipart form data from the form page's script."""
    from playwright.sync_api import Error, sync_playwright

    executable = require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(ignore_https_errors=ignore_https_errors)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT * 1000)
            page.goto(form_url)
            started = time.monotonic()
            if mode == "form":
                page.set_input_files("input[type=file]", str(arg))
                started = time.monotonic()
                try:
                    with page.expect_navigation(timeout=TIMEOUT * 1000) as navigation:
                        page.click("[type=submit]")
                    response = navigation.value
                    shown = Shown(
                        "page",
                        response.status if response else None,
                        page.inner_text("body")[:2000],
                        protocol=str(page.evaluate(_PROTOCOL)),
                    )
                except Error as error:
                    shown = Shown("error", error=str(error)[:500])
            else:
                result: dict[str, Any] = page.evaluate(_SCRIPT_UPLOAD, [mode, int(arg)])
                shown = Shown(
                    str(result["outcome"]),
                    result.get("status"),
                    str(result.get("text", "")),
                    str(result.get("error", "")),
                )
            shown.seconds = time.monotonic() - started
            return shown
        finally:
            browser.close()


def firefox(
    mode: str, form_url: str, arg: str | int, *, ignore_https_errors: bool = False
) -> Shown:
    """As :func:`chromium`, in Firefox ESR (puppeteer-core over WebDriver BiDi)."""
    executable = require_firefox()
    env = dict(os.environ, FIREFOX=executable, DRAIN_TIMEOUT_MS=str(int(TIMEOUT * 1000)))
    if ignore_https_errors:
        env["IGNORE_CERTS"] = "1"
    done = run_node_driver(
        ["node", str(FIREFOX_SCRIPT), mode, form_url, str(arg)],
        timeout=TIMEOUT + 60,
        env=env,
        cwd=NODE_DIR,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"drain_firefox.mjs failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    return Shown(
        str(result["outcome"]),
        result.get("status"),
        str(result.get("text", "")),
        str(result.get("error", "")),
        float(result.get("seconds", 0.0)),
        str(result.get("protocol", "")),
    )


BROWSERS = {"chromium": chromium, "firefox": firefox}

_PROTOCOL = "(performance.getEntriesByType('navigation')[0] || {}).nextHopProtocol || ''"

#: A page script: POST a Blob of ``size`` zero bytes as the form's file with fetch() or XHR.
_SCRIPT_UPLOAD = """async ([mode, size]) => {
  const form = new FormData();
  form.append('document', new Blob([new Uint8Array(size)]), 'big.bin');
  try {
    if (mode === 'fetch') {
      const r = await fetch(location.href, { method: 'POST', body: form,
                                             headers: { Accept: 'application/json' } });
      return { outcome: 'response', status: r.status, text: (await r.text()).slice(0, 2000) };
    }
    return await new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', location.href);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.onload = () => resolve({ outcome: 'response', status: xhr.status,
                                   text: String(xhr.responseText).slice(0, 2000) });
      xhr.onerror = () => resolve({ outcome: 'error', error: 'xhr error' });
      xhr.send(form);
    });
  } catch (error) {
    return { outcome: 'error', error: String(error) };
  }
}"""
