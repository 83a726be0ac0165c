import { describe, expect, it } from 'vitest';
import type { TideEvent } from '../generated/events';
import { EventFactory } from '../test/events';
import { followRun, stopFollowing, useRunStore } from './runStore';

const sse = (events: TideEvent[]): string =>
  events.map((e) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');

const body = (text: string) =>
  new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text));
        controller.close();
      },
    }),
    { status: 200, headers: { 'Content-Type': 'text/event-stream' } },
  );

// Yield to timers so that animation-frame flushes can run between reconnects.
const sleep = () => new Promise<void>((r) => setTimeout(r, 0));

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('run store', () => {
  it('reopens the stream after the last applied event when a chunk is missing', async () => {
    const f = new EventFactory('run-gap');
    const all = [f.started(), f.turn('w', 1, 'started'), f.chunk('w', 1, 'one '), f.chunk('w', 1, 'two '), f.chunk('w', 1, 'three'), f.completed()];
    const urls: string[] = [];
    followRun('run-gap', {}, {
      sleep,
      fetchImpl: async (input) => {
        const url = String(input);
        urls.push(url);
        // First answer skips chunk "two " (seq 4); the reopened stream has everything after 3.
        return urls.length === 1 ? body(sse(all.filter((e) => e.seq !== 4))) : body(sse(all.filter((e) => e.seq > 3)));
      },
    });
    await until(() => useRunStore.getState().feed.status === 'completed');
    expect(urls).toEqual(['api/runs/run-gap/events?coalesce_ms=50', 'api/runs/run-gap/events?after=3&coalesce_ms=50']);
    expect(useRunStore.getState().feed.turns['w#1']?.text).toBe('one two three');
    stopFollowing();
  });

  it('applies a burst of events in one store update', async () => {
    const f = new EventFactory('run-burst');
    const events: TideEvent[] = [f.started(), f.turn('w', 1, 'started')];
    for (let i = 0; i < 200; i++) events.push(f.chunk('w', 1, `t${i} `));
    events.push(f.completed());
    let updates = 0;
    const unsub = useRunStore.subscribe(() => {
      updates += 1;
    });
    followRun('run-burst', {}, { fetchImpl: async () => body(sse(events)) });
    await until(() => useRunStore.getState().feed.status === 'completed');
    unsub();
    expect(useRunStore.getState().feed.chunksApplied).toBe(200);
    // reset + connection states + a handful of frames, never one update per event.
    expect(updates).toBeLessThan(20);
    stopFollowing();
  });
});
