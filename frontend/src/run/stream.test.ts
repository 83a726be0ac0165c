import { describe, expect, it } from 'vitest';
import type { TideEvent } from '../generated/events';
import { EventFactory } from '../test/events';
import { emptyFeed, feedReducer, type RunFeed } from './feed';
import { eventsUrl } from '../api/client';
import { COALESCE_MS, RunStream, type ConnectionState } from './stream';

const sse = (events: TideEvent[]): string =>
  events.map((e) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');

function streamResponse(body: string, { close = true } = {}): Response {
  const bytes = new TextEncoder().encode(body);
  return new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        // Split mid-message to exercise the parser's buffering.
        const cut = Math.floor(bytes.length / 2);
        controller.enqueue(bytes.slice(0, cut));
        controller.enqueue(bytes.slice(cut));
        if (close) controller.close();
      },
    }),
    { status: 200, headers: { 'Content-Type': 'text/event-stream' } },
  );
}

function harness(responses: ((url: string) => Response)[]) {
  let feed: RunFeed = emptyFeed('run-1');
  const urls: string[] = [];
  const notes: string[] = [];
  const states: ConnectionState[] = [];
  const stream = new RunStream(
    'run-1',
    {
      lastSeq: () => feed.lastSeq,
      deliver: (e) => {
        feed = feedReducer(feed, { type: 'events', events: [e] });
      },
      state: (s) => states.push(s),
      lost: (t) => notes.push(`lost: ${t}`),
      restored: (after) => notes.push(`restored after ${after}`),
      finished: () => feed.status === 'completed' || feed.status === 'failed' || feed.status === 'cancelled',
    },
    {
      fetchImpl: async (input) => {
        const url = String(input);
        urls.push(url);
        const next = responses.shift();
        if (!next) throw new Error('no more responses');
        return next(url);
      },
      sleep: () => new Promise<void>((r) => setTimeout(r, 0)),
    },
  );
  return { stream, urls, notes, states, feed: () => feed };
}

describe('run stream', () => {
  it('reconnects after a drop from the last applied event, without duplicating text', async () => {
    const f = new EventFactory();
    const events = [f.started(), f.turn('w', 1, 'started'), f.chunk('w', 1, 'Hel'), f.chunk('w', 1, 'lo '), f.chunk('w', 1, 'there'), f.completed()];
    const h = harness([
      () => streamResponse(sse(events.slice(0, 4))),
      // The server resends from `after`; an overlapping event is tolerated too.
      () => streamResponse(sse(events.slice(3))),
    ]);
    await h.stream.run();
    expect(h.urls).toEqual(['api/runs/run-1/events?coalesce_ms=50', 'api/runs/run-1/events?after=4&coalesce_ms=50']);
    expect(h.feed().turns['w#1']?.text).toBe('Hello there');
    expect(h.feed().status).toBe('completed');
    expect(h.notes).toEqual(['lost: Connection lost (stream ended early); reconnecting…', 'restored after 4']);
    expect(h.states.at(-1)?.phase).toBe('ended');
  });

  it.each(['interrupted', 'executor'] as const)('reads on after a run\'s end of kind %s: a resumed run goes on in the same stream', async (kind) => {
    const f = new EventFactory();
    const first = [f.started(), f.log('a'), f.interrupted(null, kind)];
    const rest = [f.started('demo.tac', {}, true), f.log('b'), f.completed()];
    const h = harness([() => streamResponse(sse([...first, ...rest]))]);
    await h.stream.run();
    expect(h.urls).toHaveLength(1);
    expect(h.feed().status).toBe('completed');
    expect(h.feed().lastSeq).toBe(6);
    expect(h.states.at(-1)?.phase).toBe('ended');
  });

  it('ends with an interrupted run when the server ends its stream there', async () => {
    const f = new EventFactory();
    const h = harness([() => streamResponse(sse([f.started(), f.interrupted('half')]))]);
    await h.stream.run();
    expect(h.urls).toHaveLength(1);
    expect(h.feed().status).toBe('failed');
    expect(h.notes).toEqual([]);
    expect(h.states.at(-1)?.phase).toBe('ended');
  });

  it('follows a lagged notice to the resume point', async () => {
    const f = new EventFactory();
    const events = [f.started(), f.log('a'), f.log('b'), f.completed()];
    const h = harness([
      () => streamResponse(sse(events.slice(0, 2)) + 'event: lagged\ndata: {"resume_after": 2}\n\n'),
      () => streamResponse(': keep-alive\n\n' + sse(events.slice(2))),
    ]);
    await h.stream.run();
    expect(h.urls[1]).toBe('api/runs/run-1/events?after=2&coalesce_ms=50');
    expect(h.feed().status).toBe('completed');
  });

  it('asks the server to gather live text for a few frames', () => {
    expect(COALESCE_MS).toBe(50);
    expect(eventsUrl('run 1', 0)).toBe('api/runs/run%201/events');
    expect(eventsUrl('run 1', 7)).toBe('api/runs/run%201/events?after=7');
    expect(eventsUrl('run 1', 0, COALESCE_MS)).toBe('api/runs/run%201/events?coalesce_ms=50');
    expect(eventsUrl('run 1', 7, COALESCE_MS)).toBe('api/runs/run%201/events?after=7&coalesce_ms=50');
  });

  it('stops on a missing run', async () => {
    const h = harness([() => new Response('{"error":{"code":"not_found","message":"no"}}', { status: 404 })]);
    await h.stream.run();
    expect(h.states.at(-1)).toMatchObject({ phase: 'failed', message: 'run not found' });
  });
});
