#!/usr/bin/env node
// The IDE served by an app mounted below the root of another (create_app at /tide): opens it
// in headless Chromium, opens a procedure, runs it and waits for the run to complete, so that
// every request the page makes (files, validation, runs, the event stream) went through the
// prefix. Prints JSON; tests/ide_backend/test_mount.py starts the server and judges it.
//
//   node e2e/mounted.mjs http://127.0.0.1:8765/tide/ essay.tac
import { chromium } from 'playwright-core';

// As run.mjs launches it.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];

const [url, path] = process.argv.slice(2);
const T = (id) => `[data-testid="${id}"]`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
const out = { requests: [], errors: [] };
try {
  const page = await browser.newPage();
  page.on('pageerror', (err) => out.errors.push(err.message));
  page.on('request', (request) => out.requests.push(new URL(request.url()).pathname));
  await page.goto(url);
  await page.locator(`${T('file-row')}[data-path="${path}"] button.name`).click({ timeout: 15000 });
  // Mocked, so that the run needs no model client.
  const mock = page.locator(T('mock-toggle'));
  if (!(await mock.isChecked({ timeout: 15000 }))) await mock.check();
  await page.locator(T('run-button')).click({ timeout: 15000 });
  await page.waitForFunction(
    (sel) => ['completed', 'failed', 'cancelled'].includes(document.querySelector(sel)?.getAttribute('data-status') ?? ''),
    T('run-status'),
    { timeout: 60000 },
  );
  out.status = await page.locator(T('run-status')).getAttribute('data-status');
} catch (err) {
  out.errors.push(String(err.message ?? err));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
