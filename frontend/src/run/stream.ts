// Follows one run's event stream (SSE over fetch), reconnecting after drops.
//
// fetch rather than EventSource: the client decides where to resume (`?after=` the last event it
// applied, which may be earlier than the last it received when a gap forces a resync), reacts to
// the server's `lagged` message, and stops for good after the terminal event instead of letting
// EventSource reopen a finished stream.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { eventsUrl } from '../api/client';
import { TERMINAL_STATUSES, endsAnAttempt } from '../api/types';
import type { TideEvent } from '../generated/events';

export type ConnectionPhase = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

export interface ConnectionState {
  phase: ConnectionPhase;
  attempt: number;
  message: string | null;
}

export interface StreamHooks {
  /** The last seq applied to the feed; pending events are flushed first. */
  lastSeq(): number;
  deliver(event: TideEvent): void;
  state(s: ConnectionState): void;
  /** The connection dropped; the feed should say so. */
  lost(message: string): void;
  /** The connection is back, resuming after `after`. */
  restored(after: number, downMs: number): void;
  /** True once the feed holds the run's terminal event. */
  finished(): boolean;
}

export interface StreamOptions {
  fetchImpl?: typeof fetch;
  backoffMs?: (attempt: number) => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

// A run ends with the event named after its final status (`run_completed`, ...).
const TERMINAL = new Set<string>(TERMINAL_STATUSES.map((status) => `run_${status}`));

/**
 * A run whose process stopped ends with `run_failed` of a kind such as `interrupted`, and may be
 * resumed under the same id: its events then go on after that one. So the stream reads on until
 * the server ends it (it does at once when nothing follows), and the feed's status decides.
 */
const endedAnAttempt = (event: TideEvent): boolean => event.type === 'run_failed' && endsAnAttempt(event.error);

/**
 * How long the server may gather a run's live text before sending it (`?coalesce_ms=`). The
 * feed draws at most once per animation frame, so text arriving within a frame is drawn at
 * once anyway; 50 ms is three frames at 60 Hz, still well under the ~100 ms at which a delay
 * reads as lag. At usual model speeds (50–200 tokens/s) a message then carries 2–10 tokens
 * instead of one, whose framing would cost several times its text. Only text waits: turn ends,
 * tool calls, costs and the end of the run come at once.
 */
export const COALESCE_MS = 50;

export const defaultBackoff = (attempt: number): number =>
  Math.min(8000, 250 * 2 ** Math.max(0, attempt - 1)) + Math.floor(Math.random() * 150);

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

type Outcome =
  | { kind: 'terminal' }
  | { kind: 'dropped'; reason: string }
  | { kind: 'lagged'; resumeAfter: number }
  | { kind: 'resync' }
  | { kind: 'fatal'; reason: string };

export class RunStream {
  private closed = false;
  private readonly stop = new AbortController();
  private current: AbortController | null = null;
  private resyncRequested = false;
  private readonly fetchImpl: typeof fetch;
  private readonly backoff: (attempt: number) => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(
    readonly runId: string,
    private readonly hooks: StreamHooks,
    options: StreamOptions = {},
  ) {
    this.fetchImpl = options.fetchImpl ?? ((input, init) => fetch(input, init));
    this.backoff = options.backoffMs ?? defaultBackoff;
    this.sleep = options.sleep ?? abortableSleep;
  }

  /** Runs until the terminal event, a fatal error, or close(). */
  async run(): Promise<void> {
    let attempt = 0;
    let downSince: number | null = null;
    let resumeCap = Number.POSITIVE_INFINITY;
    this.hooks.state({ phase: 'connecting', attempt: 0, message: null });
    while (!this.closed) {
      const after = Math.min(this.hooks.lastSeq(), resumeCap);
      resumeCap = Number.POSITIVE_INFINITY;
      const outcome = await this.connectOnce(after, () => {
        if (downSince !== null) {
          this.hooks.restored(after, Date.now() - downSince);
          downSince = null;
        }
        attempt = 0;
        this.hooks.state({ phase: 'live', attempt: 0, message: null });
      });
      if (this.closed) return;
      if (this.hooks.finished()) {
        this.hooks.state({ phase: 'ended', attempt: 0, message: null });
        return;
      }
      if (outcome.kind === 'fatal') {
        this.hooks.state({ phase: 'failed', attempt, message: outcome.reason });
        return;
      }
      // A terminal event that the feed did not take came after missing events: fetch them.
      if (outcome.kind === 'resync' || outcome.kind === 'terminal') {
        // Missed events: reopen at once from the last applied seq.
        attempt += 1;
        if (attempt > 1) await this.sleep(this.backoff(attempt - 1), this.stop.signal);
        continue;
      }
      if (outcome.kind === 'lagged') resumeCap = outcome.resumeAfter;
      attempt += 1;
      const reason = outcome.kind === 'lagged' ? 'the server dropped a slow reader' : outcome.reason;
      if (downSince === null) {
        downSince = Date.now();
        this.hooks.lost(`Connection lost (${reason}); reconnecting…`);
      }
      this.hooks.state({ phase: 'reconnecting', attempt, message: reason });
      if (outcome.kind !== 'lagged') await this.sleep(this.backoff(attempt), this.stop.signal);
    }
  }

  /** Reopen the stream after the last applied event (the feed detected a gap). */
  resync(): void {
    this.resyncRequested = true;
    this.current?.abort();
  }

  close(): void {
    this.closed = true;
    this.stop.abort();
    this.current?.abort();
  }

  private async connectOnce(after: number, onOpen: () => void): Promise<Outcome> {
    const controller = new AbortController();
    this.current = controller;
    this.resyncRequested = false;
    let outcome: Outcome | null = null;
    try {
      const res = await this.fetchImpl(eventsUrl(this.runId, after, COALESCE_MS), {
        headers: { Accept: 'text/event-stream' },
        credentials: 'same-origin',
        cache: 'no-store',
        signal: controller.signal,
      });
      if (res.status === 404) return { kind: 'fatal', reason: 'run not found' };
      if (res.status === 401 || res.status === 403) return { kind: 'fatal', reason: 'not authorized' };
      if (!res.ok || !res.body) return { kind: 'dropped', reason: `HTTP ${res.status}` };
      onOpen();
      const parser = createParser({
        onEvent: (msg: EventSourceMessage) => {
          if (outcome) return;
          if (msg.event === 'lagged') {
            const resumeAfter = Number((JSON.parse(msg.data) as { resume_after?: unknown }).resume_after);
            outcome = { kind: 'lagged', resumeAfter: Number.isFinite(resumeAfter) ? resumeAfter : after };
            controller.abort();
            return;
          }
          let event: TideEvent;
          try {
            event = JSON.parse(msg.data) as TideEvent;
          } catch {
            return;
          }
          if (typeof event !== 'object' || event === null || typeof event.type !== 'string') return;
          this.hooks.deliver(event);
          if (TERMINAL.has(event.type) && !endedAnAttempt(event)) outcome = { kind: 'terminal' };
        },
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(value);
          if (outcome) break;
        }
      } finally {
        reader.cancel().catch(() => undefined);
      }
      if (outcome) return outcome;
      return { kind: 'dropped', reason: 'stream ended early' };
    } catch (err) {
      if (outcome) return outcome;
      if (this.resyncRequested) return { kind: 'resync' };
      if (this.closed) return { kind: 'dropped', reason: 'closed' };
      return { kind: 'dropped', reason: err instanceof Error && err.message ? err.message : 'network error' };
    } finally {
      if (this.current === controller) this.current = null;
    }
  }
}
