// The benchmark page: the real feed (store, event pump, stream parser, reducer, components)
// fed by a synthetic server-sent event stream, no server involved.
import { flushSync } from 'react-dom';
import { createRoot } from 'react-dom/client';
import '../src/styles/theme.css';
import '../src/styles/app.css';
import '../src/styles/views.css';
import { Feed } from '../src/components/feed/Feed';
import { clearFeed, followRun, stopFollowing, useRunStore } from '../src/state/runStore';
import type { TideEvent } from '../src/generated/events';
import { syntheticTokens } from './text';

interface Options {
  tokens: number;
  tokensPerSecond: number;
  /** How often the synthetic server writes (it batches tokens written in one tick). */
  tickMs: number;
  /** Tokens per chunk event: 1 is a model streaming token by token. */
  tokensPerChunk?: number;
  /**
   * false streams with the feed not on screen (the person is on another view): the store alone
   * must then keep memory flat, with no card reading the text.
   */
  renderFeed?: boolean;
}

export interface BenchResult {
  tokens: number;
  tokensPerSecond: number;
  seconds: number;
  chunkEvents: number;
  chunksApplied: number;
  textChars: number;
  longTasks: { count: number; maxMs: number; totalMs: number; atMs: number[] };
  frames: { count: number; fps: number; maxGapMs: number; over50ms: number };
  renders: { storeUpdates: number };
}

declare global {
  interface Window {
    runBench: (o: Options) => Promise<BenchResult>;
    textMatches: (tokens: number) => boolean;
    warmUp: (tokens: number) => Promise<void>;
    benchReady: boolean;
  }
}

function Page({ feed }: { feed: boolean }) {
  return (
    <div className="app" style={{ height: '100vh' }}>
      <div className="topbar">Tide feed benchmark</div>
      <main className="main" style={{ display: 'grid', gridTemplateColumns: '1fr 640px' }}>
        <div />
        <section className="pane">{feed ? <Feed /> : null}</section>
      </main>
    </div>
  );
}

const root = createRoot(document.getElementById('root')!);
root.render(<Page feed />);

const encoder = new TextEncoder();
const sse = (e: TideEvent): Uint8Array => encoder.encode(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);

const answerText = (): string => useRunStore.getState().feed.turns['writer#1']?.text ?? '';

window.runBench = async ({ tokens, tokensPerSecond, tickMs, tokensPerChunk = 1, renderFeed = true }: Options): Promise<BenchResult> => {
  flushSync(() => root.render(<Page feed={renderFeed} />));
  const words = syntheticTokens(tokens);
  const pieces: string[] = [];
  for (let k = 0; k < words.length; k += tokensPerChunk) pieces.push(words.slice(k, k + tokensPerChunk).join(''));
  const chunksPerSecond = tokensPerSecond / tokensPerChunk;
  const runId = 'bench-run';
  let seq = 0;
  const base = () => ({ run_id: runId, seq: ++seq, ts: new Date().toISOString() });
  // Collect the garbage of generating the answer now, so it is not counted against the feed.
  (window as unknown as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 200));

  const longTasks: number[] = [];
  const longTaskAt: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      longTasks.push(e.duration);
      longTaskAt.push(Math.round(e.startTime - t0));
    }
  });
  observer.observe({ type: 'longtask', buffered: false });

  const t0 = performance.now();
  let storeUpdates = 0;
  const unsub = useRunStore.subscribe(() => {
    storeUpdates += 1;
  });

  let chunkEvents = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(sse({ ...base(), type: 'run_started', procedure: 'bench.tac', inputs: {} }));
      controller.enqueue(sse({ ...base(), type: 'agent_turn', agent: 'writer', turn: 1, stage: 'started', model: 'bench/model' }));
      let i = 0;
      let offset = 0;
      const started = performance.now();
      const tick = () => {
        // Emit what is due by now, so timer jitter does not slow the stream down.
        const due = Math.min(pieces.length, Math.floor(((performance.now() - started) / 1000) * chunksPerSecond));
        for (; i < due; i++) {
          const text = pieces[i]!;
          controller.enqueue(sse({ ...base(), type: 'agent_stream_chunk', agent: 'writer', turn: 1, chunk_text: text, offset }));
          offset += text.length;
          chunkEvents += 1;
        }
        if (i < pieces.length) {
          setTimeout(tick, tickMs);
          return;
        }
        // The turn ends a few frames after its last chunk, as it does from the runtime. Ending it
        // in the same frame would leave React's previous render holding the text one frame older,
        // a second full copy, in some runs and not others, which is noise for the memory figures.
        setTimeout(finish, 100);
      };
      const finish = () => {
        const ms = performance.now() - started;
        controller.enqueue(sse({ ...base(), type: 'cost', agent: 'writer', turn: 1, model: 'bench/model', provider: 'bench', prompt_tokens: 50, completion_tokens: tokens, total_tokens: tokens + 50, cost_usd: 0, duration_ms: ms, time_to_first_token_ms: 0 }));
        controller.enqueue(sse({ ...base(), type: 'agent_turn', agent: 'writer', turn: 1, stage: 'completed', model: 'bench/model', duration_ms: ms }));
        controller.enqueue(sse({ ...base(), type: 'run_completed', output: { chars: offset }, totals: { duration_ms: ms } }));
        controller.close();
        done();
      };
      setTimeout(tick, tickMs);
    },
  });

  let frames = 0;
  let maxGap = 0;
  let over50 = 0;
  let last = performance.now();
  let measuring = true;
  const frame = (now: number) => {
    frames += 1;
    const gap = now - last;
    if (gap > maxGap) maxGap = gap;
    if (gap > 50) over50 += 1;
    last = now;
    if (measuring) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);

  followRun(runId, { status: 'running', procedure: 'bench.tac' }, {
    fetchImpl: async () => new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } }),
  });
  await finished;
  // Let the last frames land.
  await new Promise((r) => setTimeout(r, 500));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  observer.disconnect();
  unsub();
  stopFollowing();
  const feed = useRunStore.getState().feed;
  return {
    tokens,
    tokensPerSecond,
    seconds: Math.round(seconds * 10) / 10,
    chunkEvents,
    chunksApplied: feed.chunksApplied,
    textChars: answerText().length,
    longTasks: {
      count: longTasks.length,
      maxMs: Math.round(Math.max(0, ...longTasks)),
      totalMs: Math.round(longTasks.reduce((a, b) => a + b, 0)),
      atMs: longTaskAt,
    },
    frames: { count: frames, fps: Math.round((frames / seconds) * 10) / 10, maxGapMs: Math.round(maxGap), over50ms: over50 },
    renders: { storeUpdates },
  };
};

/**
 * Whether the feed holds exactly the answer streamed. Asked after the heap is measured: comparing
 * a string makes V8 flatten it, which would hide text held as a rope of chunk-sized pieces.
 */
window.textMatches = (tokens: number): boolean => answerText() === syntheticTokens(tokens).join('');

/**
 * Streams a short answer through the whole feed and clears it, so the code the benchmark runs is
 * compiled and V8's caches are sized before the heap is first measured: otherwise a run that
 * calls the feed more often would look like it holds more memory when it only has more hot code.
 */
window.warmUp = async (tokens: number): Promise<void> => {
  await window.runBench({ tokens, tokensPerSecond: tokens * 4, tickMs: 25 });
  clearFeed();
};

window.benchReady = true;
