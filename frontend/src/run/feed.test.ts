import { describe, expect, it } from 'vitest';
import type { AgentStreamChunkEvent, TideEvent } from '../generated/events';
import { EventFactory } from '../test/events';
import { emptyFeed, feedReducer, feedText, type RunFeed } from './feed';

const apply = (feed: RunFeed, ...events: TideEvent[]): RunFeed => feedReducer(feed, { type: 'events', events });

describe('feed reducer', () => {
  it('shows a question to a person, waiting until it is answered', () => {
    const f = new EventFactory();
    let feed = apply(emptyFeed('run-1'), f.started(), f.request('run-1-h2'));
    expect(feed.status).toBe('waiting');
    const card = feed.items.find((i) => i.kind === 'request');
    expect(card?.kind === 'request' && card.request.message).toBe('Publish it?');
    feed = apply(feed, f.response('run-1-h2', true));
    expect(feed.status).toBe('running');
    const answered = feed.items.find((i) => i.kind === 'request');
    expect(answered?.kind === 'request' && answered.response?.value).toBe(true);
    feed = apply(feed, f.completed());
    expect(feed.status).toBe('completed');
  });

  it('rebuilds text from chunks by offset', () => {
    const f = new EventFactory();
    let feed = apply(emptyFeed('run-1'), f.started(), f.turn('writer', 1, 'started'));
    expect(feed.turns['writer#1']?.status).toBe('waiting');
    feed = apply(feed, f.chunk('writer', 1, 'Hello'), f.chunk('writer', 1, ', '));
    feed = apply(feed, f.chunk('writer', 1, 'world'));
    expect(feed.turns['writer#1']?.text).toBe('Hello, world');
    expect(feed.turns['writer#1']?.status).toBe('streaming');
    expect(feed.chunksApplied).toBe(3);
  });

  it('counts offsets in code points, so emoji and other astral characters do not look like gaps', () => {
    const f = new EventFactory();
    let feed = apply(emptyFeed('run-1'), f.turn('w', 1, 'started'));
    feed = apply(feed, f.chunk('w', 1, 'Waves 🌊🌊 '), f.chunk('w', 1, 'and 𝄞 music'), f.chunk('w', 1, '!'));
    expect(feed.gap).toBe(false);
    expect(feed.turns['w#1']?.text).toBe('Waves 🌊🌊 and 𝄞 music!');
    expect(feed.turns['w#1']?.points).toBe(Array.from('Waves 🌊🌊 and 𝄞 music!').length);
    // A merged chunk that overlaps applied text is cut by code points too.
    const more = f.chunk('w', 1, ' 🎵 end');
    const overlap: AgentStreamChunkEvent = { ...more, offset: 15, chunk_text: 'music! 🎵 end' };
    feed = apply(feed, overlap);
    expect(feed.turns['w#1']?.text).toBe('Waves 🌊🌊 and 𝄞 music! 🎵 end');
  });

  it('ignores repeated and out-of-order events', () => {
    const f = new EventFactory();
    const a = f.chunk('writer', 1, 'abc');
    const b = f.chunk('writer', 1, 'def');
    let feed = apply(emptyFeed('run-1'), a, b);
    feed = apply(feed, a, b, a);
    expect(feed.turns['writer#1']?.text).toBe('abcdef');
    const log = f.log('late');
    feed = apply(feed, log);
    const stale = { ...f.log('older'), seq: 1 };
    const before = feed;
    feed = apply(feed, stale);
    expect(feed).toBe(before);
  });

  it('de-duplicates the overlap after a reconnect', () => {
    const f = new EventFactory();
    const events = [f.started(), f.turn('w', 1, 'started'), f.chunk('w', 1, 'one '), f.chunk('w', 1, 'two '), f.chunk('w', 1, 'three')];
    let feed = apply(emptyFeed('run-1'), ...events.slice(0, 4));
    // The server replays from an earlier point: everything up to lastSeq is skipped.
    feed = apply(feed, ...events.slice(2));
    expect(feed.turns['w#1']?.text).toBe('one two three');
    expect(feed.lastSeq).toBe(5);
  });

  it('takes a late joiner merged chunk, including one that overlaps applied text', () => {
    const f = new EventFactory();
    const start = f.turn('w', 1, 'started');
    const c1 = f.chunk('w', 1, 'Hello ');
    f.chunk('w', 1, 'brave ');
    const c3 = f.chunk('w', 1, 'new world');
    // One merged chunk covering c1..c3 carries c3's seq.
    const merged: AgentStreamChunkEvent = { ...c3, offset: 0, chunk_text: 'Hello brave new world' };
    let feed = apply(emptyFeed('run-1'), start, merged);
    expect(feed.turns['w#1']?.text).toBe('Hello brave new world');

    const overlap: AgentStreamChunkEvent = { ...c3, offset: 0, chunk_text: 'Hello brave new world' };
    feed = apply(emptyFeed('run-1'), start, c1, overlap);
    expect(feed.turns['w#1']?.text).toBe('Hello brave new world');
  });

  it('flags a gap and ignores events until resynced', () => {
    const f = new EventFactory();
    const c1 = f.chunk('w', 1, 'aaa');
    f.chunk('w', 1, 'bbb');
    const c3 = f.chunk('w', 1, 'ccc');
    const after = f.log('after');
    let feed = apply(emptyFeed('run-1'), c1, c3, after);
    expect(feed.gap).toBe(true);
    expect(feed.lastSeq).toBe(c1.seq);
    expect(feed.turns['w#1']?.text).toBe('aaa');
    expect(feed.items.some((i) => i.kind === 'logs')).toBe(false);
    feed = feedReducer(feed, { type: 'resynced' });
    expect(feed.gap).toBe(false);
  });

  it('gives a second turn of the same agent its own card', () => {
    const f = new EventFactory();
    const feed = apply(
      emptyFeed('run-1'),
      f.turn('w', 1, 'started'),
      f.chunk('w', 1, 'first'),
      f.turn('w', 1, 'completed'),
      f.turn('w', 2, 'started'),
      f.chunk('w', 2, 'second'),
    );
    const cards = feed.items.filter((i) => i.kind === 'turn').map((i) => i.id);
    expect(cards).toEqual(['w#1', 'w#2']);
    expect(feed.turns['w#1']?.text).toBe('first');
    expect(feed.turns['w#2']?.text).toBe('second');
    expect(feed.turns['w#1']?.status).toBe('completed');
  });

  it('attaches tool calls to their turn and updates them live', () => {
    const f = new EventFactory();
    let feed = apply(emptyFeed('run-1'), f.turn('writer', 1, 'started'), f.turn('writer', 2, 'started'), f.chunk('writer', 1, 'Looking'));
    feed = apply(feed, f.tool('c1', 'started', { args: { q: 'tide' } }));
    expect(feed.turns['writer#1']?.tools).toEqual([{ callId: 'c1', offset: 7 }]);
    expect(feed.turns['writer#2']?.tools).toEqual([]);
    expect(feed.tools.c1?.stage).toBe('started');
    feed = apply(feed, f.tool('c1', 'completed', { result: { hits: 3 }, duration_ms: 42 }));
    expect(feed.tools.c1).toMatchObject({ stage: 'completed', result: { hits: 3 }, durationMs: 42, args: { q: 'tide' } });
    feed = apply(feed, f.tool('c2', 'failed', { turn: 2, error: 'timeout' }));
    expect(feed.turns['writer#2']?.tools.map((t) => t.callId)).toEqual(['c2']);
    expect(feed.tools.c2?.error).toBe('timeout');
  });

  it('places a tool call that arrives between chunks of one batch where it happened in the text', () => {
    const f = new EventFactory();
    const feed = apply(
      emptyFeed('run-1'),
      f.turn('writer', 1, 'started'),
      f.chunk('writer', 1, 'Look'),
      f.chunk('writer', 1, 'ing'),
      f.tool('c1', 'started'),
      f.chunk('writer', 1, ' found'),
    );
    expect(feed.turns['writer#1']?.tools).toEqual([{ callId: 'c1', offset: 7 }]);
    expect(feed.turns['writer#1']?.text).toBe('Looking found');
    expect(feed.turns['writer#1']?.points).toBe(13);
  });

  it('holds nothing per chunk event: the same text in many events, repeated and reordered, ends in the same feed', () => {
    const text = 'Tides 🌊 turn twice a day, and estuaries amplify the swing.';
    const f = new EventFactory();
    const fine = [f.started(), f.turn('w', 1, 'started'), ...Array.from(text, (c) => f.chunk('w', 1, c))];
    const g = new EventFactory();
    const coarse = [g.started(), g.turn('w', 1, 'started'), g.chunk('w', 1, text)];
    let feed = emptyFeed('run-1');
    // Small batches with a reconnect's overlap, stale repeats and a late event out of order.
    for (let i = 0; i < fine.length; i += 5) {
      feed = apply(feed, ...fine.slice(Math.max(0, i - 3), i + 5), fine[2]!, fine[i]!);
    }
    const expected = apply(emptyFeed('run-1'), ...coarse);
    const counters = { lastSeq: 0, chunksApplied: 0 };
    expect({ ...feed, ...counters }).toEqual({ ...expected, ...counters });
    expect(feed.turns['w#1']?.text).toBe(text);
    expect(feed.chunksApplied).toBe(Array.from(text).length);
  });

  it('puts a tool call without a turn in the feed itself', () => {
    const f = new EventFactory();
    const feed = apply(emptyFeed('run-1'), f.tool('x', 'started', { agent: null, turn: null }));
    expect(feed.items).toEqual([{ kind: 'tool', id: 'x' }]);
  });

  it('keeps untouched cards identical across batches', () => {
    const f = new EventFactory();
    let feed = apply(emptyFeed('run-1'), f.turn('a', 1, 'started'), f.chunk('a', 1, 'done'), f.turn('a', 1, 'completed'), f.turn('b', 1, 'started'));
    const first = feed.turns['a#1'];
    const items = feed.items;
    feed = apply(feed, f.chunk('b', 1, 'x'), f.chunk('b', 1, 'y'));
    expect(feed.turns['a#1']).toBe(first);
    expect(feed.items).toBe(items);
    expect(feed.turns['b#1']?.text).toBe('xy');
  });

  it('adds the cost to the turn footer', () => {
    const f = new EventFactory();
    const feed = apply(emptyFeed('run-1'), f.turn('w', 1, 'started'), f.cost('w', 1));
    expect(feed.turns['w#1']?.cost).toMatchObject({ promptTokens: 100, completionTokens: 50, costUsd: 0.0012, ttftMs: 500 });
    expect(feed.turns['w#1']?.cost).toMatchObject({ usageEstimated: false, streamed: true });
  });

  it('marks a turn whose usage was estimated or that did not stream', () => {
    const f = new EventFactory();
    const feed = apply(
      emptyFeed('run-1'),
      f.turn('w', 1, 'started'),
      f.cost('w', 1),
      f.cost('w', 1, { usage_estimated: true, streamed: false }),
    );
    expect(feed.turns['w#1']?.cost).toMatchObject({ usageEstimated: true, streamed: false, completionTokens: 100 });
  });

  it('keeps partial text when the run is cancelled or fails', () => {
    const f = new EventFactory();
    let feed = apply(emptyFeed('run-1'), f.turn('w', 1, 'started'), f.chunk('w', 1, 'partial'), f.cancelled('partial'));
    expect(feed.status).toBe('cancelled');
    expect(feed.turns['w#1']).toMatchObject({ status: 'stopped', text: 'partial' });
    const terminal = feed.items.at(-1);
    expect(terminal?.kind === 'terminal' && terminal.partialText).toBe(null);

    const g = new EventFactory();
    feed = apply(emptyFeed('run-1'), g.turn('w', 1, 'started'), g.chunk('w', 1, 'half'), g.failed('boom', 'half and more'));
    expect(feed.turns['w#1']).toMatchObject({ status: 'interrupted', text: 'half and more' });
    expect(feed.status).toBe('failed');
  });

  it('goes on after an interruption when the run is resumed, keeping the stopped attempt as it was', () => {
    const f = new EventFactory();
    let feed = apply(emptyFeed('run-1'), f.started(), f.turn('writer', 1, 'started'), f.chunk('writer', 1, 'Once upon'));
    feed = apply(feed, f.interrupted('Once upon'));
    expect(feed.status).toBe('failed');
    expect(feed.turns['writer#1']?.status).toBe('interrupted');
    // Resumed: a new start, what the stopped call had cost (estimated), the call asked again.
    f.restartTurn('writer', 1);
    const resumed = [f.started('demo.tac', {}, true), f.cost('writer', 1, { usage_estimated: true, completion_tokens: 3 })];
    const again = [f.chunk('writer', 1, 'Once upon a time'), f.turn('writer', 1, 'completed', { text: 'Once upon a time' })];
    feed = apply(feed, ...resumed, ...again, f.completed());
    expect(feed.status).toBe('completed');
    const kinds = feed.items.map((i) => (i.kind === 'started' ? `started${i.resumed ? ' (resumed)' : ''}` : i.kind));
    expect(kinds).toEqual(['started', 'turn', 'terminal', 'started (resumed)', 'turn', 'terminal']);
    const [stopped, repeated] = feed.items.filter((i) => i.kind === 'turn').map((i) => feed.turns[i.id]);
    expect(stopped).toMatchObject({ status: 'interrupted', text: 'Once upon' });
    expect(stopped?.cost?.usageEstimated).toBe(true);
    expect(repeated).toMatchObject({ key: 'writer#1', status: 'completed', text: 'Once upon a time', cost: null });
    expect(feedText(feed)).toBe('Once upon\n\nOnce upon a time');
  });

  it.each(['interrupted', 'executor'] as const)('reads as running, not failed, while a resume the person asked for replays the attempt stopped (%s)', (kind) => {
    const f = new EventFactory();
    const stored = [f.started(), f.turn('writer', 1, 'started'), f.chunk('writer', 1, 'Once'), f.interrupted('Once', kind)];
    let feed = feedReducer(emptyFeed(), { type: 'reset', runId: 'run-1', status: 'running', resuming: true });
    feed = apply(feed, ...stored);
    expect(feed.status).toBe('running');
    expect(feed.items.at(-1)?.kind).toBe('terminal');
    feed = apply(feed, f.started('demo.tac', {}, true));
    expect(feed.resuming).toBe(false);
    // A second interruption, after the resumed attempt started, is the run's end again.
    feed = apply(feed, f.interrupted(null));
    expect(feed.status).toBe('failed');
  });

  it('marks a turn cancelled by Stop as stopped, and does not repeat its partial text', () => {
    const f = new EventFactory();
    const feed = apply(
      emptyFeed('run-1'),
      f.turn('w', 1, 'started'),
      f.chunk('w', 1, 'so far'),
      f.turn('w', 1, 'failed', { error: { kind: 'cancelled', message: 'the run was cancelled' } }),
      f.cancelled('so far'),
    );
    expect(feed.turns['w#1']).toMatchObject({ status: 'stopped', error: null, text: 'so far' });
    const terminal = feed.items.at(-1);
    expect(terminal?.kind === 'terminal' && terminal.partialText).toBe(null);
  });

  it('groups consecutive logs and records validation results', () => {
    const f = new EventFactory();
    const feed = apply(emptyFeed('run-1'), f.log('a'), f.log('b'), f.validation(false, [{ path: 'output.score', message: 'too big' }]), f.log('c'));
    expect(feed.items.map((i) => i.kind)).toEqual(['logs', 'validation', 'logs']);
    const first = feed.items[0];
    expect(first?.kind === 'logs' && first.lines.map((l) => l.message)).toEqual(['a', 'b']);
  });

  it('shows each model prediction once it is answered', () => {
    const f = new EventFactory();
    const feed = apply(
      emptyFeed('run-1'),
      f.prediction('started'),
      f.prediction('completed', { output: { label: 'up' } }),
      f.prediction('failed', { call: 2, error: 'HTTP 500' }),
    );
    expect(feed.items.map((i) => i.kind)).toEqual(['prediction', 'prediction']);
    const first = feed.items[0];
    expect(first?.kind === 'prediction' && first.event.output).toEqual({ label: 'up' });
  });

  it('shows a procedure\'s alerts between its logs', () => {
    const f = new EventFactory();
    const feed = apply(emptyFeed('run-1'), f.log('a'), f.alert('disk low'), f.log('b'));
    expect(feed.items.map((i) => i.kind)).toEqual(['logs', 'alert', 'logs']);
    const alert = feed.items[1];
    expect(alert?.kind === 'alert' && [alert.event.level, alert.event.message]).toEqual(['warning', 'disk low']);
  });

  it('ignores events of another run', () => {
    const f = new EventFactory('other');
    const feed = emptyFeed('run-1');
    expect(apply(feed, f.log('x'))).toBe(feed);
  });

  it('takes the completed turn text only when it extends the streamed text', () => {
    const f = new EventFactory();
    let feed = apply(emptyFeed('run-1'), f.turn('w', 1, 'started'), f.chunk('w', 1, 'abc'), f.turn('w', 1, 'completed', { text: 'abcdef' }));
    expect(feed.turns['w#1']?.text).toBe('abcdef');
    feed = apply(feed, f.turn('w', 2, 'started'), f.turn('w', 2, 'completed', { text: 'not streamed' }));
    expect(feed.turns['w#2']?.text).toBe('not streamed');
    expect(feedText(feed)).toBe('abcdef\n\nnot streamed');
  });
});
