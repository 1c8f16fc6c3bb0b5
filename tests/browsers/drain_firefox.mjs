// Firefox ESR (Debian) driven by puppeteer-core over WebDriver BiDi, for tests/browsers/test_browser_drain.py
// and bench/browsers.py: submit a file through a form, or upload it with fetch()/XHR, and print
// one JSON line with what the browser got.
//
//   node drain_firefox.mjs form  <form-url> <file-path>   -> {"outcome":"page","status":413,"text":..}
//   node drain_firefox.mjs fetch <form-url> <bytes>       -> {"outcome":"response","status":413,..}
//   node drain_firefox.mjs xhr   <form-url> <bytes>
// "outcome":"error" carries the navigation or network error (a reset page).
// Options (env): FIREFOX (default /usr/bin/firefox-esr), DRAIN_TIMEOUT_MS (default 120000),
// IGNORE_CERTS=1 (self-signed TLS in the HTTP/2 tests).
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [mode, url, arg] = process.argv.slice(2);
const timeout = Number(process.env.DRAIN_TIMEOUT_MS || 120000);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'drain-firefox-'));
const browser = await puppeteer.launch({
  browser: 'firefox',
  protocol: 'webDriverBiDi',
  executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
  headless: true,
  userDataDir: profile,
  acceptInsecureCerts: process.env.IGNORE_CERTS === '1',
  extraPrefsFirefox: {
    'network.proxy.type': 0,
    'app.update.enabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
  },
});
let result;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(timeout);
  await page.goto(url, { waitUntil: 'load' });
  const started = Date.now();
  if (mode === 'form') {
    const input = await page.$('input[type=file]');
    await input.uploadFile(arg);
    // A reset shows Firefox's error page (about:neterror), which fires no navigation event
    // over BiDi: watch for it, and for the failed request, alongside the navigation.
    let failure = null;
    let settled = false;
    page.on('requestfailed', (request) => {
      if (request.method() === 'POST') failure = request.failure()?.errorText || 'request failed';
    });
    const errorPage = (async () => {
      while (!settled) {
        await new Promise((r) => setTimeout(r, 250));
        let uri = '';
        try { uri = await page.evaluate(() => document.documentURI); } catch { /* navigating */ }
        if (settled) return [null];
        if (uri.startsWith('about:neterror')) throw new Error(`error page: ${uri}`);
        if (failure) {
          await new Promise((r) => setTimeout(r, 1000));
          try { uri = await page.evaluate(() => document.documentURI); } catch { /* */ }
          throw new Error(`request failed: ${failure} (${uri})`);
        }
      }
    })();
    try {
      const [response] = await Promise.race([
        Promise.all([
          page.waitForNavigation({ waitUntil: 'load', timeout }),
          page.click('[type=submit]'),
        ]),
        errorPage,
      ]).finally(() => { settled = true; });
      const text = await page.evaluate(() => document.body ? document.body.innerText : '');
      const title = await page.title();
      const status = response ? response.status() : null;
      const protocol = await page.evaluate(
        () => (performance.getEntriesByType('navigation')[0] || {}).nextHopProtocol || '');
      result = { outcome: 'page', status, title, text: text.slice(0, 2000), url: page.url(),
                 protocol };
      if (status === null || page.url().startsWith('about:neterror')) {
        result.outcome = 'error';
      }
    } catch (error) {
      result = { outcome: 'error', error: String(error && error.message || error) };
    }
  } else {
    const size = Number(arg);
    result = await page.evaluate(async (mode, size) => {
      const form = new FormData();
      form.append('document', new Blob([new Uint8Array(size)]), 'big.bin');
      const target = location.href;
      try {
        if (mode === 'fetch') {
          const r = await fetch(target, { method: 'POST', body: form,
                                          headers: { Accept: 'application/json' } });
          return { outcome: 'response', status: r.status, text: (await r.text()).slice(0, 2000) };
        }
        return await new Promise((resolve) => {
          const xhr = new XMLHttpRequest();
          xhr.open('POST', target);
          xhr.setRequestHeader('Accept', 'application/json');
          xhr.onload = () => resolve({ outcome: 'response', status: xhr.status,
                                       text: String(xhr.responseText).slice(0, 2000) });
          xhr.onerror = () => resolve({ outcome: 'error', error: 'xhr error', status: xhr.status });
          xhr.send(form);
        });
      } catch (error) {
        return { outcome: 'error', error: String(error) };
      }
    }, mode, size);
  }
  result.seconds = (Date.now() - started) / 1000;
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
