// The feed store. Events are queued as they arrive and folded into the feed at most once per
// animation frame, so rendering cost follows the frame rate, not the event rate.
import { create } from 'zustand';
import type { TideEvent } from '../generated/events';
import type { RunStatus } from '../api/types';
import { emptyFeed, feedReducer, type FeedAction, type RunFeed } from '../run/feed';
import { RunStream, type ConnectionState, type StreamOptions } from '../run/stream';
import { formatDuration } from '../lib/format';

export interface RunStoreState {
  feed: RunFeed;
  connection: ConnectionState;
  dispatch: (action: FeedAction) => void;
}

export const useRunStore = create<RunStoreState>()((set) => ({
  feed: emptyFeed(),
  connection: { phase: 'idle', attempt: 0, message: null },
  dispatch: (action) => set((s) => ({ feed: feedReducer(s.feed, action) })),
}));

type Schedule = (flush: () => void) => () => void;

const frameSchedule: Schedule = (flush) => {
  // Hidden tabs get no animation frames; a timer keeps the queue from growing unbounded there.
  if (typeof document !== 'undefined' && document.visibilityState === 'hidden') {
    const t = setTimeout(flush, 100);
    return () => clearTimeout(t);
  }
  const id = requestAnimationFrame(flush);
  return () => cancelAnimationFrame(id);
};

/** Queues events and applies them in one store update per frame. */
export class EventPump {
  private pending: TideEvent[] = [];
  private cancel: (() => void) | null = null;

  constructor(
    private readonly apply: (events: TideEvent[]) => void,
    private readonly schedule: Schedule = frameSchedule,
  ) {}

  push(event: TideEvent): void {
    this.pending.push(event);
    this.cancel ??= this.schedule(() => {
      this.cancel = null;
      this.flush();
    });
  }

  flush(): void {
    if (this.cancel) {
      this.cancel();
      this.cancel = null;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.apply(batch);
  }

  /** Forget queued events (they will be sent again after a resync). */
  drop(): void {
    this.cancel?.();
    this.cancel = null;
    this.pending = [];
  }

  get size(): number {
    return this.pending.length;
  }
}

let active: { stream: RunStream; pump: EventPump } | null = null;

function applyBatch(events: TideEvent[]): void {
  const store = useRunStore.getState();
  store.dispatch({ type: 'events', events });
  const feed = useRunStore.getState().feed;
  if (feed.gap && active) {
    active.pump.drop();
    store.dispatch({ type: 'resynced' });
    active.stream.resync();
  }
}

/** Point the feed at a run and follow its events (live, or replayed from the start). */
export function followRun(
  runId: string,
  initial: { status?: RunStatus | null; procedure?: string | null; resuming?: boolean } = {},
  options: StreamOptions = {},
): void {
  stopFollowing();
  const store = useRunStore.getState();
  store.dispatch({
    type: 'reset',
    runId,
    status: initial.status ?? 'queued',
    procedure: initial.procedure ?? null,
    resuming: initial.resuming ?? false,
  });
  const pump = new EventPump(applyBatch);
  const stream = new RunStream(
    runId,
    {
      lastSeq: () => {
        pump.flush();
        return useRunStore.getState().feed.lastSeq;
      },
      deliver: (event) => pump.push(event),
      state: (connection) => useRunStore.setState({ connection }),
      lost: (text) => {
        pump.flush();
        useRunStore.getState().dispatch({ type: 'connection-lost', text });
      },
      restored: (after, downMs) =>
        useRunStore.getState().dispatch({
          type: 'connection-restored',
          text: `Reconnected after ${formatDuration(downMs)}; resumed after event ${after}.`,
        }),
      finished: () => {
        pump.flush();
        const status = useRunStore.getState().feed.status;
        return status === 'completed' || status === 'failed' || status === 'cancelled';
      },
    },
    options,
  );
  active = { stream, pump };
  void stream.run().finally(() => {
    if (active?.stream === stream) pump.flush();
  });
}

export function stopFollowing(): void {
  if (!active) return;
  active.stream.close();
  active.pump.flush();
  active = null;
}

export function clearFeed(): void {
  stopFollowing();
  useRunStore.getState().dispatch({ type: 'reset', runId: null, status: null });
  useRunStore.setState({ connection: { phase: 'idle', attempt: 0, message: null } });
}
