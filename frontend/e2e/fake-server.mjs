#!/usr/bin/env node
// A stand-in for `tide ide`: the IDE API contract over a real workspace folder, with scripted
// runs whose events stream slowly over SSE. Useful for developing the frontend and for the e2e
// scenarios before (and besides) the real server.
//
//   node e2e/fake-server.mjs --workspace DIR [--port 8765] [--static dist] [--chunk-delay 25]
import { createServer } from 'node:http';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeProcedure } from './fake-procedure.mjs';
import { scriptFor } from './fake-scripts.mjs';

const TERMINAL = new Set(['run_completed', 'run_failed', 'run_cancelled']);
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json', '.map': 'application/json', '.png': 'image/png', '.ico': 'image/x-icon' };

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function send(res, status, body) {
  if (status === 204) {
    res.writeHead(204).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(text);
}

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  if (chunks.length === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_json', 'The body is not valid JSON.');
  }
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null);

function stat3(values) {
  const v = values.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!v.length) return { avg: null, p50: null, p95: null };
  return { avg: v.reduce((a, b) => a + b, 0) / v.length, p50: percentile(v, 50), p95: percentile(v, 95) };
}

export async function startFakeServer({ workspace, port = 0, host = '127.0.0.1', staticDir = null, chunkDelayMs = 25 } = {}) {
  const root = resolve(workspace);
  await mkdir(root, { recursive: true });
  const runs = new Map();
  let nextRun = 1;
  const sockets = new Set();

  const inside = (path) => {
    if (typeof path !== 'string' || !path || path.includes('\0')) throw new HttpError(400, 'bad_path', 'A path is required.');
    const full = resolve(root, path);
    if (full !== root && !full.startsWith(root + sep)) throw new HttpError(400, 'bad_path', 'The path leaves the workspace.');
    if (!/\.(tac|lua)$/.test(full)) throw new HttpError(400, 'bad_path', 'Only .tac and .lua files are procedures.');
    return full;
  };

  async function listFiles(dir = root) {
    const out = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await listFiles(full)));
      else if (/\.(tac|lua)$/.test(entry.name)) {
        const s = await stat(full);
        const rel = relative(root, full).split(sep).join('/');
        const analysis = rel.endsWith('.tac') ? analyzeProcedure(await readFile(full, 'utf8')) : null;
        out.push({
          path: rel,
          size: s.size,
          modified: s.mtime.toISOString(),
          valid: analysis ? analysis.ok : null,
          errors: analysis ? analysis.diagnostics.filter((d) => d.severity === 'error').length : 0,
        });
      }
    }
    return out;
  }

  function summary(run) {
    const { events, ...rest } = run;
    const t = run.totals;
    return {
      id: rest.id,
      procedure: rest.procedure,
      status: rest.status,
      inputs: rest.inputs,
      model: rest.model,
      started_at: new Date(rest.startedAt).toISOString(),
      finished_at: rest.finishedAt ? new Date(rest.finishedAt).toISOString() : null,
      duration_ms: rest.finishedAt ? rest.finishedAt - rest.startedAt : null,
      cost_usd: t ? t.cost_usd : null,
      total_tokens: t ? t.total_tokens : null,
      agent_turns: t ? t.agent_turns : events.filter((e) => e.type === 'agent_turn' && e.stage === 'started').length,
      error: rest.error,
    };
  }

  function emit(run, event) {
    const full = { run_id: run.id, seq: run.events.length + 1, ts: new Date().toISOString(), ...event };
    run.events.push(full);
    for (const listener of run.listeners) listener(full);
    return full;
  }

  async function execute(run, script) {
    const emitted = [];
    run.status = 'running';
    emit(run, { type: 'run_started', procedure: run.procedure, inputs: run.inputs });
    let partial = '';
    for (const step of script.steps) {
      if (step.delay) await new Promise((r) => setTimeout(r, step.delay));
      if (run.cancelled) break;
      emit(run, step.event);
      emitted.push(step);
      if (step.event.type === 'agent_turn' && step.event.stage === 'started') partial = '';
      if (step.event.type === 'agent_stream_chunk') partial += step.event.chunk_text;
    }
    const totals = script.totals(emitted, run.startedAt);
    run.totals = totals;
    run.finishedAt = Date.now();
    if (run.cancelled) {
      run.status = 'cancelled';
      emit(run, { type: 'run_cancelled', reason: 'cancelled', partial_text: partial || null, totals });
    } else if (script.failure) {
      run.status = 'failed';
      run.error = script.failure;
      emit(run, { type: 'run_failed', error: script.failure, partial_text: null, output: script.output, totals });
    } else {
      run.status = 'completed';
      run.output = script.output;
      emit(run, { type: 'run_completed', output: script.output, totals });
    }
  }

  /** Stored events after `after`, with consecutive chunks of one turn merged (a late joiner needs the text, not each token). */
  function catchUp(run, after) {
    const out = [];
    for (const e of run.events) {
      if (e.seq <= after) continue;
      const last = out[out.length - 1];
      if (e.type === 'agent_stream_chunk' && last && last.type === 'agent_stream_chunk' && last.agent === e.agent && last.turn === e.turn && last.offset + last.chunk_text.length === e.offset) {
        out[out.length - 1] = { ...last, seq: e.seq, ts: e.ts, chunk_text: last.chunk_text + e.chunk_text };
      } else out.push(e);
    }
    return out;
  }

  function streamEvents(req, res, run, after) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders?.();
    const write = (e) => res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      run.listeners.delete(listener);
      clearInterval(keepAlive);
      res.end();
    };
    const listener = (e) => {
      write(e);
      if (TERMINAL.has(e.type)) end();
    };
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15000);
    for (const e of catchUp(run, after)) {
      write(e);
      if (TERMINAL.has(e.type)) {
        end();
        return;
      }
    }
    run.listeners.add(listener);
    req.on('close', end);
  }

  async function handleApi(req, res, url) {
    const path = url.pathname.slice('/api'.length);
    const method = req.method;
    if (path === '/health' && method === 'GET') return send(res, 200, { ok: true, version: 'fake-0.1' });
    if (path === '/files' && method === 'GET') return send(res, 200, { files: (await listFiles()).sort((a, b) => a.path.localeCompare(b.path)) });
    if (path === '/files' && method === 'POST') {
      const body = await readJson(req);
      const full = inside(body.path);
      if (existsSync(full)) throw new HttpError(409, 'exists', `${body.path} exists.`);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, body.content ?? '');
      return send(res, 201, { path: body.path, modified: new Date().toISOString() });
    }
    if (path === '/files/rename' && method === 'POST') {
      const body = await readJson(req);
      const from = inside(body.from);
      const to = inside(body.to);
      if (!existsSync(from)) throw new HttpError(404, 'not_found', `${body.from} does not exist.`);
      if (existsSync(to)) throw new HttpError(409, 'exists', `${body.to} exists.`);
      await mkdir(dirname(to), { recursive: true });
      await rename(from, to);
      return send(res, 200, { path: body.to });
    }
    if (path.startsWith('/files/')) {
      const rel = decodeURIComponent(path.slice('/files/'.length));
      const full = inside(rel);
      if (method === 'GET') {
        if (!existsSync(full)) throw new HttpError(404, 'not_found', `${rel} does not exist.`);
        const s = await stat(full);
        return send(res, 200, { path: rel, content: await readFile(full, 'utf8'), modified: s.mtime.toISOString() });
      }
      if (method === 'PUT') {
        const body = await readJson(req);
        if (typeof body.content !== 'string') throw new HttpError(400, 'bad_request', 'content is required.');
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, body.content);
        return send(res, 200, { path: rel, modified: new Date().toISOString() });
      }
      if (method === 'DELETE') {
        if (!existsSync(full)) throw new HttpError(404, 'not_found', `${rel} does not exist.`);
        await rm(full);
        return send(res, 204);
      }
    }
    if (path === '/validate' && method === 'POST') {
      const body = await readJson(req);
      if (typeof body.source !== 'string') throw new HttpError(400, 'bad_request', 'source is required.');
      return send(res, 200, analyzeProcedure(body.source));
    }
    if (path === '/models' && method === 'GET') return send(res, 200, { models: ['scripted/default', 'local/smollm2'], default: 'scripted/default' });
    if (path === '/runs' && method === 'POST') {
      const body = await readJson(req);
      let source = body.source;
      if (typeof source !== 'string') {
        if (!body.path) throw new HttpError(400, 'bad_request', 'path or source is required.');
        const full = inside(body.path);
        if (!existsSync(full)) throw new HttpError(404, 'not_found', `${body.path} does not exist.`);
        source = await readFile(full, 'utf8');
      }
      const analysis = analyzeProcedure(source);
      if (!analysis.ok) {
        const d = analysis.diagnostics.find((x) => x.severity === 'error');
        throw new HttpError(422, 'invalid_procedure', `${body.path ?? 'source'}:${d.line}:${d.column}: ${d.message}`);
      }
      const procedurePath = body.path ?? 'inline.tac';
      const inputs = body.inputs ?? {};
      const run = {
        id: `run-${String(nextRun++).padStart(4, '0')}`,
        procedure: procedurePath,
        status: 'queued',
        inputs,
        model: body.model || analysis.procedure?.agents?.[0]?.model || 'scripted/default',
        startedAt: Date.now(),
        finishedAt: null,
        totals: null,
        error: null,
        output: null,
        events: [],
        listeners: new Set(),
        cancelled: false,
      };
      runs.set(run.id, run);
      const script = scriptFor(procedurePath, inputs, analysis.procedure, { model: body.model, chunkDelayMs });
      setTimeout(() => void execute(run, script), 150);
      return send(res, 201, { run_id: run.id, status: run.status });
    }
    if (path === '/runs' && method === 'GET') {
      const procedure = url.searchParams.get('procedure');
      const status = url.searchParams.get('status');
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const list = [...runs.values()]
        .filter((r) => (!procedure || r.procedure === procedure) && (!status || r.status === status))
        .sort((a, b) => b.startedAt - a.startedAt)
        .slice(0, limit)
        .map(summary);
      return send(res, 200, { runs: list });
    }
    const m = /^\/runs\/([^/]+)(\/events|\/cancel)?$/.exec(path);
    if (m) {
      const run = runs.get(decodeURIComponent(m[1]));
      if (!run) throw new HttpError(404, 'not_found', 'No such run.');
      if (!m[2] && method === 'GET') return send(res, 200, { ...summary(run), output: run.output });
      if (m[2] === '/cancel' && method === 'POST') {
        if (run.status === 'running' || run.status === 'queued') run.cancelled = true;
        return send(res, 200, { run_id: run.id, status: run.status });
      }
      if (m[2] === '/events' && method === 'GET') {
        const after = Number(url.searchParams.get('after') ?? req.headers['last-event-id'] ?? 0) || 0;
        return streamEvents(req, res, run, after);
      }
    }
    if (path === '/stats' && method === 'GET') {
      const by = url.searchParams.get('by') ?? 'model';
      const since = url.searchParams.get('since') ?? '24h';
      const windowMs = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 }[since];
      const from = windowMs ? Date.now() - windowMs : 0;
      const groups = new Map();
      for (const run of runs.values()) {
        if (run.startedAt < from) continue;
        for (const e of run.events) {
          if (e.type !== 'cost') continue;
          const key = by === 'agent' ? e.agent : by === 'procedure' ? run.procedure : e.model;
          const list = groups.get(key) ?? [];
          list.push(e);
          groups.set(key, list);
        }
      }
      const rows = [...groups.entries()].map(([key, list]) => {
        const cost = stat3(list.map((e) => e.cost_usd));
        return {
          key,
          count: list.length,
          ttft_ms: stat3(list.map((e) => e.time_to_first_token_ms)),
          duration_ms: stat3(list.map((e) => e.duration_ms)),
          total_tokens: stat3(list.map((e) => e.total_tokens)),
          cost_usd: { ...cost, sum: list.reduce((a, e) => a + e.cost_usd, 0) },
        };
      });
      return send(res, 200, { by, since, rows });
    }
    throw new HttpError(404, 'not_found', `No route for ${method} ${url.pathname}.`);
  }

  async function handleStatic(req, res, url) {
    if (!staticDir) throw new HttpError(404, 'not_found', 'No static files are served.');
    const dir = resolve(staticDir);
    let file = resolve(dir, '.' + decodeURIComponent(url.pathname));
    if (!file.startsWith(dir) || !existsSync(file) || (await stat(file)).isDirectory()) file = join(dir, 'index.html');
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' }).end(body);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handler = url.pathname.startsWith('/api/') || url.pathname === '/api' ? handleApi : handleStatic;
    handler(req, res, url).catch((err) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!(err instanceof HttpError)) console.error(err);
      if (!res.headersSent) send(res, status, { error: { code: err.code ?? 'internal', message: err.message } });
      else res.end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(port, host, r));
  const actual = server.address().port;
  return {
    port: actual,
    url: `http://${host}:${actual}`,
    runs,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const workspace = arg('workspace', resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures/workspace'));
  const server = await startFakeServer({
    workspace,
    port: Number(arg('port', 8765)),
    staticDir: arg('static', null),
    chunkDelayMs: Number(arg('chunk-delay', 25)),
  });
  console.log(`fake tide ide on ${server.url} (workspace ${workspace})`);
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
