#!/usr/bin/env node
// Runs the e2e scenarios in headless Chromium against a `tide ide` server.
//
// Environment:
//   TIDE_IDE_CMD       server command; {workspace}, {port} and {script} (the scripted model's
//                      replies, from fixtures/scripted.mjs, also in TIDE_SCRIPTED_SCRIPT) are filled in. Default:
//                      ../.venv/bin/tide ide --workspace {workspace} --port {port}
//   TIDE_E2E_FIXTURES  folder with workspace/ and manifest.mjs (default e2e/fixtures)
//   TIDE_E2E_STATIC    "proxy" (default): the harness serves this build of dist/ and sends /api to
//                      the server; "server": the page is loaded from the server itself.
//   TIDE_E2E_ONLY      run only scenarios whose name contains this text
//   CHROMIUM           browser binary (default /usr/bin/chromium)
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { freePort, killExecutors, startProxy, startServer, waitForHealth } from './lib.mjs';
import { scenarios } from './scenarios.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const results = resolve(root, 'test-results');
const fixtures = resolve(process.env.TIDE_E2E_FIXTURES ?? join(here, 'fixtures'));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const staticMode = process.env.TIDE_E2E_STATIC ?? 'proxy';
const only = process.env.TIDE_E2E_ONLY ?? '';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];

function serverCommand() {
  return process.env.TIDE_IDE_CMD ?? '../.venv/bin/tide ide --workspace {workspace} --port {port}';
}

async function main() {
  if (staticMode === 'proxy' && !existsSync(join(root, 'dist/index.html'))) {
    console.error('dist/ is missing: run `npm run build` first (npm run e2e does).');
    return 2;
  }
  await mkdir(results, { recursive: true });
  const manifest = (await import(pathToFileURL(join(fixtures, 'manifest.mjs')).href)).default;
  const workspace = await mkdtemp(join(tmpdir(), 'tide-e2e-'));
  await cp(join(fixtures, 'workspace'), workspace, { recursive: true });
  const port = await freePort();
  const scriptPath = join(dirname(workspace), `${workspace.split('/').pop()}-scripted.json`);
  const scriptModule = join(fixtures, 'scripted.mjs');
  if (existsSync(scriptModule)) await writeFile(scriptPath, JSON.stringify((await import(pathToFileURL(scriptModule).href)).default, null, 2));
  const command = serverCommand().replaceAll('{workspace}', workspace).replaceAll('{port}', String(port)).replaceAll('{script}', scriptPath);
  console.log(`server: ${command}`);
  let server = startServer(command, { TIDE_SCRIPTED_SCRIPT: scriptPath }, null);
  let proxy = null;
  let browser = null;
  const outcomes = [];
  try {
    const api = `http://127.0.0.1:${port}`;
    const health = await waitForHealth(api, 60000, server.proc);
    console.log(`server up: ${JSON.stringify(health)}`);
    proxy = await startProxy(new URL(api), { staticDir: staticMode === 'proxy' ? join(root, 'dist') : null });
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
    const ctx = { runs: [] };
    // Kill the server with SIGKILL (no chance to finish anything) and start it again.
    const restartServer = async () => {
      const old = server;
      try {
        process.kill(-old.proc.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      for (let i = 0; i < 50 && old.proc.exitCode === null && old.proc.signalCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      server = startServer(command, { TIDE_SCRIPTED_SCRIPT: scriptPath }, null);
      await waitForHealth(api, 60000, server.proc);
    };
    for (const scenario of scenarios) {
      if (only && !scenario.name.includes(only)) continue;
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (err) => errors.push(err.message));
      const shot = (name) => page.screenshot({ path: join(results, `${name}.png`) });
      const started = Date.now();
      try {
        await page.goto(`${proxy.url}/#/editor`);
        await page.locator('[data-testid="file-row"]').first().waitFor({ timeout: 15000 });
        const detail = await scenario.run({
          page, api, proxy, manifest, shot, ctx, restartServer,
          killExecutors: async () => killExecutors(server.proc.pid),
          tide: resolve(root, '../.venv/bin/tide'),
        });
        if (errors.length) throw new Error(`uncaught page errors: ${errors.join('; ')}`);
        outcomes.push({ name: scenario.name, ok: true, ms: Date.now() - started, detail });
        console.log(`✓ ${scenario.name} (${Date.now() - started} ms)`);
      } catch (err) {
        outcomes.push({ name: scenario.name, ok: false, ms: Date.now() - started, error: err.stack ?? String(err) });
        console.log(`✗ ${scenario.name}\n  ${String(err.message ?? err).split('\n').join('\n  ')}`);
        await page.screenshot({ path: join(results, `FAILED-${scenario.name.split(':')[0]}.png`) }).catch(() => undefined);
      } finally {
        await context.close();
      }
    }
    if (outcomes.length > 0 && outcomes.every((o) => o.ok) && !only) await themeShots(browser, proxy.url, ctx);
  } catch (err) {
    console.error(`harness error: ${err.stack ?? err}`);
    outcomes.push({ name: 'harness', ok: false, error: String(err) });
  } finally {
    await browser?.close();
    await proxy?.close();
    await server.stop();
    const log = server.output();
    await writeFile(join(results, 'server.log'), log);
    if (outcomes.some((o) => !o.ok)) console.log(`server output (last lines):\n${log.split('\n').slice(-30).join('\n')}`);
    await rm(workspace, { recursive: true, force: true });
    await rm(scriptPath, { force: true });
  }
  await writeFile(join(results, 'e2e-results.json'), JSON.stringify(outcomes, null, 2));
  const passed = outcomes.filter((o) => o.ok).length;
  const failed = outcomes.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

/** Screenshots of each view in both themes at the two target sizes. */
async function themeShots(browser, base, ctx) {
  const run = ctx.runs[0];
  for (const [w, h] of [
    [1280, 800],
    [1920, 1080],
  ]) {
    for (const scheme of ['light', 'dark']) {
      const context = await browser.newContext({ viewport: { width: w, height: h }, colorScheme: scheme });
      const page = await context.newPage();
      await page.goto(`${base}/#/history/${encodeURIComponent(run)}`);
      await page.locator('[data-testid="run-terminal"]').waitFor({ timeout: 15000 });
      await page.screenshot({ path: join(results, `view-history-${scheme}-${w}x${h}.png`) });
      await page.locator('[data-testid="tab-editor"]').click();
      await page.locator('[data-testid="file-row"]').first().locator('button.name').click();
      await page.locator('[data-testid="inputs-form"]').waitFor({ timeout: 10000 }).catch(() => undefined);
      await page.screenshot({ path: join(results, `view-editor-${scheme}-${w}x${h}.png`) });
      await page.locator('[data-testid="tab-analytics"]').click();
      await page.locator('[data-testid="window-1h"]').click();
      await page.locator('[data-testid="analytics-table"]').waitFor({ timeout: 10000 }).catch(() => undefined);
      await page.screenshot({ path: join(results, `view-analytics-${scheme}-${w}x${h}.png`) });
      await context.close();
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
