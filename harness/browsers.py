"""Real browsers for the browser tests: Chromium through Playwright, Firefox through puppeteer-core.

A scenario is a list of steps (plain dicts, the same for both browsers)::

    {"goto": url}                      load a page (waits for "load")
    {"setFiles": [selector, path...]}  choose files in a file input
    {"click": selector}
    {"waitFor": selector}              wait until the element is visible
    {"text": selector}                 -> the element's textContent
    {"eval": "async () => {...}"}      -> the function's (JSON) result, run in the page
    {"url": true}                      -> the page's URL
    {"screenshot": path}

:func:`run_steps` returns one result per step. Chromium is Debian's ``chromium`` driven by
Playwright for Python (never ``playwright install``); Firefox is Debian's ``firefox-esr`` driven
over WebDriver BiDi by ``tests/browsers/drive.mjs`` (npm packages installed by ``.ci/run``:
``cd tests/browsers && PUPPETEER_SKIP_DOWNLOAD=1 npm ci``). A missing piece skips the test, or
fails it under ``DJANGO_EXPECT_REQUIRE_ALL=1``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from harness.node_driver import run_node_driver
from harness.process import ROOT
from harness.tools import find, missing, require, require_module

BROWSERS = ("chromium", "firefox")
NODE_DIR = ROOT / "tests" / "browsers"
NODE_MODULES = NODE_DIR / "node_modules"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
STEP_TIMEOUT_MS = 30_000


def require_browser(name: str) -> None:
    """Skip (or fail under DJANGO_EXPECT_REQUIRE_ALL=1) when ``name`` cannot be driven here."""
    if name == "chromium":
        require("chromium", "chromium")
        require_module("playwright", "playwright")
    else:
        require("firefox-esr", "firefox-esr")
        require("node", "nodejs")
        if not (NODE_MODULES / "puppeteer-core").is_dir():
            missing(
                "puppeteer-core",
                "cd tests/browsers && PUPPETEER_SKIP_DOWNLOAD=1 npm ci",
            )


def require_vendored(*packages: str) -> None:
    for package in packages:
        if not (NODE_MODULES / package).is_dir():
            missing(f"the npm package {package}", "cd tests/browsers && npm ci")


def run_steps(browser: str, steps: list[dict[str, Any]], *, javascript: bool = True) -> list[Any]:
    """Run ``steps`` in a fresh headless ``browser``; one result per step."""
    require_browser(browser)
    if browser == "chromium":
        return _run_chromium(steps, javascript)
    if not javascript:
        raise ValueError("scripts-off runs use Chromium (Playwright's java_script_enabled)")
    return _run_firefox(steps)


def _run_chromium(steps: list[dict[str, Any]], javascript: bool) -> list[Any]:
    from playwright.sync_api import sync_playwright

    results: list[Any] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find("chromium"), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(java_script_enabled=javascript)
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            for step in steps:
                result: Any = None
                if "goto" in step:
                    page.goto(step["goto"], wait_until="load")
                elif "setFiles" in step:
                    selector, *paths = step["setFiles"]
                    page.set_input_files(selector, paths)
                elif "click" in step:
                    page.click(step["click"], no_wait_after=True)
                elif "waitFor" in step:
                    page.wait_for_selector(step["waitFor"], state="visible")
                elif "text" in step:
                    result = page.text_content(step["text"])
                elif "eval" in step:
                    result = page.evaluate(f"({step['eval']})()")
                elif "url" in step:
                    result = page.url
                elif "screenshot" in step:
                    page.screenshot(path=step["screenshot"], full_page=True)
                else:
                    raise ValueError(f"unknown step {step!r}")
                results.append(result)
        finally:
            browser.close()
    return results


def _run_firefox(steps: list[dict[str, Any]]) -> list[Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as plan:
        json.dump({"steps": steps, "executable": find("firefox-esr")}, plan)
    try:
        completed = run_node_driver(
            [require("node", "nodejs"), str(NODE_DIR / "drive.mjs"), plan.name],
            cwd=NODE_DIR,
            timeout=240,
        )
    finally:
        Path(plan.name).unlink()
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"drive.mjs printed no result:\n{completed.stdout}{completed.stderr}")
    outcome = json.loads(lines[-1])
    if "error" in outcome:
        raise RuntimeError(f"Firefox step {outcome['step']!r} failed: {outcome['error']}")
    results: list[Any] = outcome["results"]
    return results
