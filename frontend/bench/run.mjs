#!/usr/bin/env node
// Streams a long synthetic answer through the real feed in headless Chromium and prints JSON
// figures. Exits 1 if a long task (> 50 ms) happened while streaming, the text came out wrong, or
// the feed held memory per chunk event.
//
// Smoothness: the answer one token per event at BENCH_RATE. Memory: the same answer streamed in
// one-token and in 25-token events at one rate (BENCH_MEMORY_RATE), so the two runs differ only in
// their event count; the heap they grow by may differ by at most MEMORY_TOLERANCE bytes per extra
// event. Measured with the feed on screen and with it off screen (the store alone).
//
//   BENCH_TOKENS (50000)  BENCH_RATE tokens/s (200)  BENCH_TICK_MS (25)
//   BENCH_MEMORY_RATE tokens/s (5000)  CHROMIUM (/usr/bin/chromium)
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { heapAfterGc, here, openBench, openPage } from './harness.mjs';

const tokens = Number(process.env.BENCH_TOKENS ?? 50000);
const rate = Number(process.env.BENCH_RATE ?? 200);
const tickMs = Number(process.env.BENCH_TICK_MS ?? 25);
const memoryRate = Number(process.env.BENCH_MEMORY_RATE ?? 5000);
/** Bytes per chunk event: well below a rope node or an event object (20+ bytes), above GC noise. */
const MEMORY_TOLERANCE = 3;
const WARM_UP_TOKENS = 2000;
const MB = 1048576;
const mb = (bytes) => +(bytes / MB).toFixed(2);

/** One streamed answer in a fresh, warmed-up page; heap measured after a full GC before and after. */
async function measure(bench, options) {
  const { page, cdp } = await openPage(bench);
  await page.evaluate((n) => window.warmUp(n), WARM_UP_TOKENS);
  const before = await heapAfterGc(cdp);
  const result = await page.evaluate((o) => window.runBench(o), { tickMs, ...options });
  const after = await heapAfterGc(cdp);
  const textMatches = await page.evaluate((n) => window.textMatches(n), options.tokens);
  await page.close();
  return { result, before, after, growth: after.usedBytes - before.usedBytes, textMatches };
}

/** The same answer at the same rate in one-token and in 25-token events: what differs is per event. */
async function heldPerEvent(bench, renderFeed) {
  const options = { tokens, tokensPerSecond: memoryRate, renderFeed };
  const fine = await measure(bench, options);
  const coarse = await measure(bench, { ...options, tokensPerChunk: 25 });
  const run = (m) => ({ chunkEvents: m.result.chunkEvents, growthMB: mb(m.growth), textMatches: m.textMatches });
  const bytesPerChunkEvent = (fine.growth - coarse.growth) / (fine.result.chunkEvents - coarse.result.chunkEvents);
  return {
    oneTokenEvents: run(fine),
    twentyFiveTokenEvents: run(coarse),
    bytesPerChunkEvent: +bytesPerChunkEvent.toFixed(1),
    pass: bytesPerChunkEvent < MEMORY_TOLERANCE,
  };
}

const bench = await openBench();
let code = 0;
try {
  console.error(`streaming ${tokens} tokens at ${rate} tokens/s, one token per event (~${Math.round(tokens / rate)} s)…`);
  const main = await measure(bench, { tokens, tokensPerSecond: rate });
  console.error(`memory: the same answer at ${memoryRate} tokens/s in 1- and 25-token events, feed on and off screen…`);
  const onScreen = await heldPerEvent(bench, true);
  const offScreen = await heldPerEvent(bench, false);
  const report = {
    ...main.result,
    textMatches: main.textMatches,
    heap: {
      beforeMB: mb(main.before.usedBytes),
      afterMB: mb(main.after.usedBytes),
      growthMB: mb(main.growth),
      // The text itself at two bytes a character, for scale (V8 stores ASCII at one).
      textMB: mb(main.result.textChars * 2),
      domNodesAfter: main.after.domNodes,
    },
    memory: {
      criterion: 'heap growth with 1-token events minus with 25-token events, per extra chunk event; same answer and rate',
      toleranceBytesPerChunkEvent: MEMORY_TOLERANCE,
      tokensPerSecond: memoryRate,
      feedOnScreen: onScreen,
      feedOffScreen: offScreen,
      pass: onScreen.pass && offScreen.pass,
    },
  };
  console.log(JSON.stringify(report, null, 2));
  await mkdir(join(here, 'results'), { recursive: true });
  await writeFile(join(here, 'results', 'latest.json'), JSON.stringify(report, null, 2));
  const texts = [main.textMatches, ...[onScreen, offScreen].flatMap((m) => [m.oneTokenEvents.textMatches, m.twentyFiveTokenEvents.textMatches])];
  if (report.longTasks.count > 0 || texts.includes(false) || !report.memory.pass) code = 1;
} finally {
  await bench.close();
}
process.exit(code);
