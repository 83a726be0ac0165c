// Shared pieces of the e2e harness: free ports, a server process, a dropping proxy, and the
// "what did the model really send" reference built from the API's own event stream.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createServer as netServer } from 'node:net';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = netServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitForHealth(base, timeoutMs, proc) {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (proc && proc.exitCode !== null) throw new Error(`server exited with code ${proc.exitCode} before /api/health answered`);
    try {
      const res = await fetch(`${base}/api/health`);
      if (res.ok) return await res.json();
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(250);
  }
  throw new Error(`/api/health did not answer within ${timeoutMs} ms (${last})`);
}

/** Start the server command in its own process group so that it and its children can be stopped. */
export function startServer(command, env, logFile) {
  const proc = spawn('sh', ['-c', command], { env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const keep = (b) => {
    for (const line of b.toString().split('\n')) if (line) lines.push(line);
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  return {
    proc,
    output: () => lines.join('\n'),
    stop: async () => {
      if (proc.exitCode !== null) return;
      try {
        process.kill(-proc.pid, 'SIGTERM');
      } catch {
        return;
      }
      for (let i = 0; i < 40 && proc.exitCode === null; i++) await sleep(100);
      if (proc.exitCode === null) {
        try {
          process.kill(-proc.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    },
    logFile,
  };
}

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json', '.map': 'application/json' };

/**
 * A proxy in front of the server. The browser talks to it, so a scenario can cut the event
 * streams from the server side of the browser's connection. With `staticDir` it also serves the
 * built frontend, so the build under test is this one, whatever the server bundles.
 */
export async function startProxy(target, { staticDir = null } = {}) {
  const streams = new Set();
  const eventRequests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (staticDir && !url.pathname.startsWith('/api')) {
      let file = resolve(staticDir, '.' + decodeURIComponent(url.pathname));
      if (!file.startsWith(resolve(staticDir)) || !existsSync(file) || (await stat(file)).isDirectory()) file = join(staticDir, 'index.html');
      res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' });
      res.end(await readFile(file));
      return;
    }
    const isEvents = /\/api\/runs\/[^/]+\/events$/.test(url.pathname);
    if (isEvents) eventRequests.push({ url: req.url, lastEventId: req.headers['last-event-id'] ?? null, at: Date.now() });
    const upstream = httpRequest(
      // Headers go through unchanged: the server compares Origin with Host, which both name
      // the proxy, as they would name the server without it.
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        if (isEvents) {
          const entry = { req, res, up, upstream };
          streams.add(entry);
          const done = () => streams.delete(entry);
          res.on('close', done);
          up.on('end', done);
        }
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}`,
    eventRequests,
    openStreams: () => streams.size,
    /** Kill every open event stream mid-flight, as a server crash or network cut would. */
    dropStreams() {
      let n = 0;
      for (const s of streams) {
        s.res.socket?.destroy();
        s.upstream.destroy();
        n++;
      }
      streams.clear();
      return n;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

/** Read a run's whole event stream from the API (as a late joiner) and rebuild each turn's text. */
export async function referenceRun(base, runId) {
  const res = await fetch(`${base}/api/runs/${encodeURIComponent(runId)}/events`);
  if (!res.ok) throw new Error(`events for ${runId}: HTTP ${res.status}`);
  const text = await res.text();
  const events = [];
  for (const block of text.split(/\n\n/)) {
    const data = block
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data) events.push(JSON.parse(data));
  }
  const turns = new Map();
  for (const e of events) {
    const key = e.agent !== undefined && e.turn !== undefined ? `${e.agent}#${e.turn}` : null;
    if (e.type === 'agent_stream_chunk') {
      const cur = turns.get(key) ?? '';
      if (e.offset === cur.length) turns.set(key, cur + e.chunk_text);
      else if (e.offset < cur.length && e.offset + e.chunk_text.length > cur.length) turns.set(key, cur + e.chunk_text.slice(cur.length - e.offset));
    } else if (e.type === 'agent_turn' && e.stage !== 'started' && typeof e.text === 'string') {
      const cur = turns.get(key) ?? '';
      if (e.text.startsWith(cur)) turns.set(key, e.text);
    } else if (e.type === 'agent_turn' && !turns.has(key)) turns.set(key, '');
  }
  const terminal = events.find((e) => ['run_completed', 'run_failed', 'run_cancelled'].includes(e.type)) ?? null;
  return { events, turns, terminal };
}

/**
 * SIGKILL the executor processes of the server whose process group is `group`, as the kernel
 * does at their memory limit: processes of `python -m runtime.executor` forked by a fork server
 * (whose command line is the same). The server itself and its fork servers live on. Returns how
 * many were killed.
 */
export function killExecutors(group) {
  const read = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return { parent: Number(fields[1]), group: Number(fields[2]), executor: cmdline.includes('runtime.executor') };
    } catch {
      return null;
    }
  };
  let killed = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const proc = read(name);
    if (!proc || proc.group !== group || !proc.executor || !read(proc.parent)?.executor) continue;
    try {
      process.kill(Number(name), 'SIGKILL');
      killed += 1;
    } catch {
      /* already gone */
    }
  }
  return killed;
}
