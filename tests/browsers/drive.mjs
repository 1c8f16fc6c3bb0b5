// Drive Firefox (puppeteer-core over WebDriver BiDi) through a list of steps, for
// tests/browsers/test_browser_precheck.py. Usage: node drive.mjs steps.json  -> prints one JSON line:
// {"results": [...]} (one entry per step), or {"error": "..."} with the step that failed.
// The same steps run in Chromium through Playwright (harness/browsers.py).
import { readFileSync } from "node:fs";
import puppeteer from "puppeteer-core";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const timeout = plan.timeout_ms || 30000;
const browser = await puppeteer.launch({
  browser: "firefox",
  protocol: "webDriverBiDi",
  executablePath: plan.executable || "/usr/bin/firefox-esr",
  headless: true,
  extraPrefsFirefox: {
    "network.proxy.type": 0,
    "app.update.enabled": false,
    "browser.shell.checkDefaultBrowser": false,
    "datareporting.policy.dataSubmissionEnabled": false,
    "toolkit.telemetry.enabled": false,
  },
});
const results = [];
let current = null;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(timeout);
  if (plan.viewport) await page.setViewport(plan.viewport);
  for (const step of plan.steps) {
    current = step;
    let result = null;
    if (step.goto) {
      await page.goto(step.goto, { waitUntil: "load" });
    } else if (step.setFiles) {
      const [selector, ...paths] = step.setFiles;
      const input = await page.waitForSelector(selector);
      await input.uploadFile(...paths);
    } else if (step.click) {
      await page.click(step.click);
    } else if (step.waitFor) {
      await page.waitForSelector(step.waitFor, { visible: true });
    } else if (step.text) {
      result = await page.$eval(step.text, (el) => el.textContent);
    } else if (step.eval) {
      result = await page.evaluate(`(${step.eval})()`);
    } else if (step.url) {
      result = page.url();
    } else if (step.screenshot) {
      await page.screenshot({ path: step.screenshot, fullPage: true });
    } else {
      throw new Error("unknown step " + JSON.stringify(step));
    }
    results.push(result);
  }
  console.log(JSON.stringify({ results }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error && error.stack || error), step: current, results }));
} finally {
  await browser.close();
}
