#!/usr/bin/env node
// Finds what the feed keeps per streamed event: takes a heap snapshot before and after streaming
// the same answer in one-token events and in 25-token events, and prints what survived each run
// by kind and constructor, who holds it, and the largest survivors with their holders. What
// differs between the two runs is memory held per event rather than per character.
//
// Both runs stream at the same token rate by default, so they last as long and run the same
// frames; a faster coarse run (HEAPDIFF_COARSE_RATE) shows what a longer run costs on its own
// (mostly code V8 compiled meanwhile).
//
//   HEAPDIFF_TOKENS (20000)  HEAPDIFF_RATE tokens/s (5000)  HEAPDIFF_COARSE_RATE tokens/s (= RATE)
//   HEAPDIFF_RENDER (1; 0 streams with the feed off screen)  HEAPDIFF_TOP rows (15)
import { heapAfterGc, openBench, openPage } from './harness.mjs';

const tokens = Number(process.env.HEAPDIFF_TOKENS ?? 20000);
const rate = Number(process.env.HEAPDIFF_RATE ?? 5000);
const coarseRate = Number(process.env.HEAPDIFF_COARSE_RATE ?? rate);
const renderFeed = process.env.HEAPDIFF_RENDER !== '0';
const top = Number(process.env.HEAPDIFF_TOP ?? 15);

async function snapshot(cdp) {
  const parts = [];
  const onChunk = ({ chunk }) => parts.push(chunk);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
  return parseSnapshot(JSON.parse(parts.join('')));
}

/** Flattens V8's heap snapshot format into node records with their retainers. */
function parseSnapshot(raw) {
  const { node_fields: nf, edge_fields: ef, node_types: nt, edge_types: et } = raw.snapshot.meta;
  const nodeTypes = nt[0];
  const edgeTypes = et[0];
  const N = nf.length;
  const E = ef.length;
  const [fType, fName, fId, fSize, fEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => nf.indexOf(f));
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f));
  const nodes = [];
  for (let i = 0; i < raw.nodes.length; i += N) {
    nodes.push({
      type: nodeTypes[raw.nodes[i + fType]],
      name: raw.strings[raw.nodes[i + fName]],
      id: raw.nodes[i + fId],
      size: raw.nodes[i + fSize],
      edges: raw.nodes[i + fEdges],
      retainers: [],
    });
  }
  let e = 0;
  for (const from of nodes) {
    for (let k = 0; k < from.edges; k++, e += E) {
      const type = edgeTypes[raw.edges[e + eType]];
      if (type === 'weak') continue;
      const nameOrIndex = raw.edges[e + eName];
      const name = type === 'element' || type === 'hidden' ? `[${nameOrIndex}]` : raw.strings[nameOrIndex];
      nodes[raw.edges[e + eTo] / N].retainers.push({ from, edge: name });
    }
  }
  return nodes;
}

const isString = (n) => n.type === 'string' || n.type === 'concatenated string' || n.type === 'sliced string';
const label = (n) => (isString(n) ? n.type : `${n.type} ${n.name.slice(0, 60)}`);

function tally(nodes, key) {
  const rows = new Map();
  for (const n of nodes) {
    const k = key(n);
    const row = rows.get(k) ?? { key: k, count: 0, bytes: 0 };
    row.count += 1;
    row.bytes += n.size;
    rows.set(k, row);
  }
  return [...rows.values()].sort((a, b) => b.bytes - a.bytes);
}

/** The objects a run left behind, by kind, with who holds them. */
async function run(bench, tokensPerChunk, tokensPerSecond) {
  const { page, cdp } = await openPage(bench);
  await cdp.send('HeapProfiler.enable');
  await page.evaluate(() => window.warmUp(2000));
  const before = await snapshot(cdp);
  const seen = new Set(before.map((n) => n.id));
  const result = await page.evaluate((o) => window.runBench(o), { tokens, tokensPerSecond, tickMs: 25, tokensPerChunk, renderFeed });
  const { usedBytes } = await heapAfterGc(cdp);
  const after = await snapshot(cdp);
  await page.close();
  const added = after.filter((n) => !seen.has(n.id));
  return { chunkEvents: result.chunkEvents, textChars: result.textChars, heapBytesAfter: usedBytes, added };
}

const retainersOf = (nodes) =>
  tally(nodes.flatMap((n) => n.retainers), (r) => `${label(r.from)} .${r.edge}`)
    .slice(0, 3)
    .map((r) => `${r.count}× ${r.key}`);

/** Kinds of object whose survivors differ most between the two runs, fine minus coarse. */
function difference(fine, coarse) {
  const counts = new Map(tally(coarse.added, label).map((r) => [r.key, r]));
  const rows = tally(fine.added, label).map((r) => {
    const c = counts.get(r.key) ?? { count: 0, bytes: 0 };
    counts.delete(r.key);
    return { key: r.key, count: r.count - c.count, bytes: r.bytes - c.bytes };
  });
  for (const c of counts.values()) rows.push({ key: c.key, count: -c.count, bytes: -c.bytes });
  return rows
    .sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes))
    .slice(0, top)
    .map((r) => ({ ...r, heldBy: retainersOf(fine.added.filter((n) => label(n) === r.key)) }));
}

/** A short chain of holders, nearest first, to tell what keeps a large survivor alive. */
function holders(node, depth = 4) {
  const path = [];
  for (let n = node, i = 0; i < depth && n.retainers.length > 0; i++) {
    const r = n.retainers.find((x) => x.from.type !== 'code') ?? n.retainers[0];
    path.push(`${label(r.from)} .${r.edge}`);
    n = r.from;
  }
  return path;
}

const largest = (r) =>
  r.added
    .filter((n) => n.type !== 'code')
    .sort((a, b) => b.size - a.size)
    .slice(0, 6)
    .map((n) => ({ kind: label(n), bytes: n.size, heldBy: holders(n) }));

const summary = (r) => ({
  chunkEvents: r.chunkEvents,
  textChars: r.textChars,
  heapBytesAfter: r.heapBytesAfter,
  survivingBytes: r.added.reduce((s, n) => s + n.size, 0),
  survivingConsStrings: r.added.filter((n) => n.type === 'concatenated string').length,
  largest: largest(r),
});

const bench = await openBench();
try {
  console.error(`${tokens} tokens, one per event at ${rate} tokens/s, then 25 per event at ${coarseRate} tokens/s…`);
  const fine = await run(bench, 1, rate);
  const coarse = await run(bench, 25, coarseRate);
  const [a, b] = [summary(fine), summary(coarse)];
  const perEvent = (x, y) => +((x - y) / (a.chunkEvents - b.chunkEvents)).toFixed(1);
  console.log(
    JSON.stringify(
      {
        fine: a,
        coarse: b,
        heapBytesPerExtraEvent: perEvent(a.heapBytesAfter, b.heapBytesAfter),
        survivingBytesPerExtraEvent: perEvent(a.survivingBytes, b.survivingBytes),
        difference: difference(fine, coarse),
      },
      null,
      2,
    ),
  );
} finally {
  await bench.close();
}
