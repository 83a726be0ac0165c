#!/usr/bin/env node
// Builds the benchmark page, opens it in headless Chromium and streams a long synthetic answer
// through the real feed. Prints JSON figures; exits 1 if a long task (> 50 ms) happened while
// streaming or the text came out wrong.
//
//   BENCH_TOKENS (50000)  BENCH_RATE tokens/s (200)  BENCH_TICK_MS (25)  CHROMIUM (/usr/bin/chromium)
import { createServer } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import react from '@vitejs/plugin-react';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const tokens = Number(process.env.BENCH_TOKENS ?? 50000);
const rate = Number(process.env.BENCH_RATE ?? 200);
const tickMs = Number(process.env.BENCH_TICK_MS ?? 25);

await build({ root: here, base: './', plugins: [react()], logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
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
let code = 0;

/** One streamed answer in a fresh page; heap measured after a full GC before and after. */
async function measure(options) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(url);
  await page.waitForFunction(() => window.benchReady === true);
  const heap = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    return { usedMB: +(usedSize / 1048576).toFixed(2), domNodes: m.Nodes };
  };
  const before = await heap();
  const result = await page.evaluate((o) => window.runBench(o), options);
  const after = await heap();
  await page.close();
  return { result, before, after };
}

try {
  console.error(`streaming ${tokens} tokens at ${rate} tokens/s, one token per event (~${Math.round(tokens / rate)} s)…`);
  const { result, before, after } = await measure({ tokens, tokensPerSecond: rate, tickMs });
  // The same answer in 25-token events, fast: memory held should not depend on the event count.
  console.error('the same answer again in 25-token events, to compare memory…');
  const coarse = await measure({ tokens, tokensPerSecond: Math.max(rate, 5000), tickMs, tokensPerChunk: 25 });
  const report = {
    ...result,
    heap: {
      beforeMB: before.usedMB,
      afterMB: after.usedMB,
      growthMB: +(after.usedMB - before.usedMB).toFixed(2),
      // The text itself, held once in the store (UTF-16), for scale.
      textMB: +((result.textChars * 2) / 1048576).toFixed(2),
      growthPerChunkEventBytes: Math.round(((after.usedMB - before.usedMB) * 1048576) / Math.max(1, result.chunkEvents)),
      domNodesAfter: after.domNodes,
      sameTextIn25TokenEvents: {
        chunkEvents: coarse.result.chunkEvents,
        afterMB: coarse.after.usedMB,
        growthMB: +(coarse.after.usedMB - coarse.before.usedMB).toFixed(2),
        textMatches: coarse.result.textMatches,
      },
    },
  };
  console.log(JSON.stringify(report, null, 2));
  await mkdir(join(here, 'results'), { recursive: true });
  await writeFile(join(here, 'results', 'latest.json'), JSON.stringify(report, null, 2));
  if (report.longTasks.count > 0 || !report.textMatches || !coarse.result.textMatches) code = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
