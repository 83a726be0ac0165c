// Shared by the benchmark scripts: builds the benchmark page, serves it, and opens it in headless
// Chromium with a CDP session, so each script only says what it measures.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import react from '@vitejs/plugin-react';
import { chromium } from 'playwright-core';

export const here = dirname(fileURLToPath(import.meta.url));

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Builds the page and serves it; returns the browser and its URL, and a function to close both. */
export async function openBench() {
  const out = join(here, 'dist');
  await build({ root: here, base: './', plugins: [react()], logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = resolve(out, '.' + (path === '/' ? '/index.html' : path));
    if (!file.startsWith(out) || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' }).end(await readFile(file));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic', '--enable-precise-memory-info', '--js-flags=--expose-gc'],
  });
  return {
    browser,
    url,
    close: async () => {
      await browser.close();
      server.close();
    },
  };
}

/** A fresh benchmark page, ready to run, with a CDP session on it. */
export async function openPage({ browser, url }) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(url);
  await page.waitForFunction(() => window.benchReady === true);
  return { page, cdp };
}

/**
 * JS heap in use once it has settled, and the page's DOM node count. Right after a run, tasks
 * still finishing (the stream's last reads, the final frames) hold garbage that one collection
 * cannot free, up to a megabyte here: collect until two readings a moment apart agree.
 */
export async function heapAfterGc(cdp) {
  let used = -1;
  for (let attempt = 0; attempt < 6; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 250));
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    if (usedSize === used) break;
    used = usedSize;
  }
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  return { usedBytes: used, domNodes: m.Nodes };
}
