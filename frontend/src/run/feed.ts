// The run feed: a pure reducer from the runtime's events to what the feed shows.
//
// Memory stays proportional to the answer text: chunk events are folded into their turn's text
// and dropped, and de-duplication needs only the last applied seq. Objects that a batch does not
// touch keep their identity, so memoized cards that select them do not re-render.
import type {
  AgentStreamChunkEvent,
  AgentTurnEvent,
  CostEvent,
  ErrorInfo,
  HumanRequestEvent,
  HumanResponseEvent,
  LogEvent,
  ModelPredictionEvent,
  SystemAlertEvent,
  OutputValidationEvent,
  RunCancelledEvent,
  RunCompletedEvent,
  RunFailedEvent,
  RunTotals,
  TideEvent,
  ToolCallEvent,
} from '../generated/events';
import { endsAnAttempt, type RunStatus } from '../api/types';

export type TurnStatus = 'waiting' | 'streaming' | 'completed' | 'failed' | 'stopped' | 'interrupted';

export interface TurnCost {
  model: string;
  provider: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
  durationMs: number;
  ttftMs: number | null;
  // From the turn's start to its first text, tool rounds included.
  firstVisibleMs: number | null;
  cached: boolean;
  llmCalls: number;
  // Tide's count from the text, the provider having reported none (or an impossible one).
  usageEstimated: boolean;
  // False when the answer came in one piece: the model or provider could not stream.
  streamed: boolean;
}

export interface TurnState {
  key: string;
  agent: string;
  turn: number;
  model: string | null;
  status: TurnStatus;
  text: string;
  /** The text's length in code points: the unit the runtime's chunk offsets count in (a JS
   * string's length counts UTF-16 units, which differ after an emoji). */
  points: number;
  /** Tool calls made during the turn, in order, with the text length at which each started. */
  tools: { callId: string; offset: number }[];
  cost: TurnCost | null;
  error: ErrorInfo | null;
  durationMs: number | null;
  startedAt: string | null;
}

export interface ToolCallState {
  callId: string;
  tool: string;
  agent: string | null;
  turn: number | null;
  stage: ToolCallEvent['stage'];
  args: Record<string, unknown>;
  result: unknown;
  error: string | null;
  durationMs: number | null;
  startedAt: string | null;
}

export type TerminalEvent = RunCompletedEvent | RunFailedEvent | RunCancelledEvent;

export type FeedItem =
  | { kind: 'started'; id: string; procedure: string; inputs: Record<string, unknown>; ts: string | null; resumed: boolean }
  | { kind: 'turn'; id: string }
  | { kind: 'tool'; id: string }
  | { kind: 'validation'; id: string; event: OutputValidationEvent }
  | { kind: 'prediction'; id: string; event: ModelPredictionEvent }
  | { kind: 'logs'; id: string; lines: LogEvent[] }
  | { kind: 'alert'; id: string; event: SystemAlertEvent }
  | { kind: 'terminal'; id: string; event: TerminalEvent; partialText: string | null }
  | { kind: 'request'; id: string; request: HumanRequestEvent; response: HumanResponseEvent | null }
  | { kind: 'notice'; id: string; tone: 'warn' | 'ok' | 'error'; text: string };

export interface RunFeed {
  runId: string | null;
  status: RunStatus | null;
  procedure: string | null;
  /** Highest event seq applied; reconnects resume after it. */
  lastSeq: number;
  items: FeedItem[];
  turns: Record<string, TurnState>;
  tools: Record<string, ToolCallState>;
  totals: RunTotals | null;
  /**
   * Set when a chunk arrived past the end of its turn's text: events after `lastSeq` were missed,
   * so the rest are ignored until the stream is reopened after `lastSeq`.
   */
  gap: boolean;
  /**
   * Set while a resume the person asked for is starting: the stored end of the stopped attempt
   * (`run_failed` of kind `interrupted`) is shown, but the run reads as running, not failed.
   */
  resuming: boolean;
  chunksApplied: number;
  noticeCount: number;
}

export type FeedAction =
  | { type: 'events'; events: TideEvent[] }
  | { type: 'reset'; runId: string | null; status?: RunStatus | null; procedure?: string | null; resuming?: boolean }
  | { type: 'resynced' }
  | { type: 'connection-lost'; text: string }
  | { type: 'connection-restored'; text: string }
  | { type: 'notice'; tone: 'warn' | 'ok' | 'error'; text: string };

export function emptyFeed(runId: string | null = null): RunFeed {
  return {
    runId,
    status: null,
    procedure: null,
    lastSeq: 0,
    items: [],
    turns: {},
    tools: {},
    totals: null,
    gap: false,
    resuming: false,
    chunksApplied: 0,
    noticeCount: 0,
  };
}

export const turnKey = (agent: string, turn: number): string => `${agent}#${turn}`;

export const isTerminal = (e: TideEvent): e is TerminalEvent =>
  e.type === 'run_completed' || e.type === 'run_failed' || e.type === 'run_cancelled';

/** A mutable copy of the feed for one batch: each object is copied at most once. */
class Draft {
  readonly feed: RunFeed;
  private itemsCopied = false;
  private turnsCopied = false;
  private toolsCopied = false;
  private readonly ownTurns = new Set<string>();
  private readonly ownTools = new Set<string>();
  /** Per turn, its text followed by the chunks a batch appended to it, not joined yet. */
  private readonly appended = new Map<TurnState, string[]>();

  constructor(base: RunFeed) {
    this.feed = { ...base };
  }

  items(): FeedItem[] {
    if (!this.itemsCopied) {
      this.feed.items = this.feed.items.slice();
      this.itemsCopied = true;
    }
    return this.feed.items;
  }

  turn(key: string): TurnState | undefined {
    const current = this.feed.turns[key];
    if (!current) return undefined;
    if (this.ownTurns.has(key)) return current;
    if (!this.turnsCopied) {
      this.feed.turns = { ...this.feed.turns };
      this.turnsCopied = true;
    }
    const copy = { ...current };
    this.feed.turns[key] = copy;
    this.ownTurns.add(key);
    return copy;
  }

  addTurn(agent: string, turn: number, startedAt: string | null): TurnState {
    const key = turnKey(agent, turn);
    const existing = this.turn(key);
    if (existing) return existing;
    if (!this.turnsCopied) {
      this.feed.turns = { ...this.feed.turns };
      this.turnsCopied = true;
    }
    const state: TurnState = {
      key,
      agent,
      turn,
      model: null,
      status: 'waiting',
      text: '',
      points: 0,
      tools: [],
      cost: null,
      error: null,
      durationMs: null,
      startedAt,
    };
    this.feed.turns[key] = state;
    this.ownTurns.add(key);
    this.items().push({ kind: 'turn', id: key });
    return state;
  }

  /**
   * Keeps an interrupted turn as it was, under a key of its own, so that the same turn asked
   * again by the resumed run starts afresh instead of being written over it.
   */
  retireTurn(key: string, seq: number): void {
    const old = this.feed.turns[key];
    if (!old) return;
    this.joinText();
    const retired = `${key}@${seq}`;
    if (!this.turnsCopied) {
      this.feed.turns = { ...this.feed.turns };
      this.turnsCopied = true;
    }
    this.feed.turns[retired] = { ...old, key: retired };
    delete this.feed.turns[key];
    this.ownTurns.delete(key);
    this.ownTurns.add(retired);
    const items = this.items();
    const index = items.findIndex((i) => i.kind === 'turn' && i.id === key);
    if (index >= 0) items[index] = { kind: 'turn', id: retired };
  }

  tool(callId: string): ToolCallState | undefined {
    const current = this.feed.tools[callId];
    if (!current) return undefined;
    if (this.ownTools.has(callId)) return current;
    if (!this.toolsCopied) {
      this.feed.tools = { ...this.feed.tools };
      this.toolsCopied = true;
    }
    const copy = { ...current };
    this.feed.tools[callId] = copy;
    this.ownTools.add(callId);
    return copy;
  }

  putTool(state: ToolCallState): void {
    if (!this.toolsCopied) {
      this.feed.tools = { ...this.feed.tools };
      this.toolsCopied = true;
    }
    this.feed.tools[state.callId] = state;
    this.ownTools.add(state.callId);
  }

  /**
   * Appends to a turn's text lazily. `text += chunk` for every chunk makes V8 keep the text as a
   * rope, one 20-byte node per chunk event holding that chunk's string, until something reads the
   * whole text; with no card rendering it (the feed off screen), memory grew with the event count.
   * One join per batch builds a flat string instead.
   */
  appendText(turn: TurnState, chunk: string): void {
    const parts = this.appended.get(turn);
    if (parts) parts.push(chunk);
    else this.appended.set(turn, [turn.text, chunk]);
  }

  /** Joins appended chunks into their turns' text; until then `text` lacks them. */
  joinText(): void {
    for (const [turn, parts] of this.appended) turn.text = parts.join('');
    this.appended.clear();
  }

  notice(tone: 'warn' | 'ok' | 'error', text: string): void {
    this.feed.noticeCount += 1;
    this.items().push({ kind: 'notice', id: `notice-${this.feed.noticeCount}`, tone, text });
  }
}

export function codePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

function setText(turn: TurnState, text: string): void {
  turn.text = text;
  turn.points = codePoints(text);
}

function applyChunk(d: Draft, e: AgentStreamChunkEvent): boolean {
  const key = turnKey(e.agent, e.turn);
  // A resumed run asks again the call its stopped attempt was streaming.
  if (e.offset === 0 && d.feed.turns[key]?.status === 'interrupted') d.retireTurn(key, e.seq);
  const length = d.feed.turns[turnKey(e.agent, e.turn)]?.points ?? 0;
  if (e.offset > length) {
    d.feed.gap = true;
    return false;
  }
  const turn = d.addTurn(e.agent, e.turn, e.ts ?? null);
  const chunkPoints = codePoints(e.chunk_text);
  const end = e.offset + chunkPoints;
  if (end > length) {
    // A merged chunk can overlap text already applied: take only what is new.
    const added =
      e.offset === length ? e.chunk_text : Array.from(e.chunk_text).slice(length - e.offset).join('');
    d.appendText(turn, added);
    turn.points = end;
    d.feed.chunksApplied += 1;
  }
  if (turn.status === 'waiting') turn.status = 'streaming';
  return true;
}

function applyTurn(d: Draft, e: AgentTurnEvent): void {
  const turn = d.addTurn(e.agent, e.turn, e.ts ?? null);
  if (e.model) turn.model = e.model;
  if (e.stage === 'started') return;
  if (e.duration_ms != null) turn.durationMs = e.duration_ms;
  // The completed turn's text is the runtime's final word; take it when it extends what was
  // streamed (or nothing was), never to shorten or rewrite text the person already read.
  if (typeof e.text === 'string' && e.text.length >= turn.text.length && e.text.startsWith(turn.text)) {
    setText(turn, e.text);
  }
  if (e.stage === 'completed') {
    turn.status = 'completed';
  } else if (e.error?.kind === 'cancelled') {
    // Stopped by the person, not broken: the run's own card says it was stopped.
    turn.status = 'stopped';
  } else {
    turn.status = 'failed';
    turn.error = e.error ?? null;
  }
}

function applyTool(d: Draft, e: ToolCallEvent): void {
  const existing = d.tool(e.call_id);
  const state: ToolCallState = existing ?? {
    callId: e.call_id,
    tool: e.tool,
    agent: e.agent ?? null,
    turn: e.turn ?? null,
    stage: e.stage,
    args: e.args ?? {},
    result: null,
    error: null,
    durationMs: null,
    startedAt: e.ts ?? null,
  };
  state.stage = e.stage;
  if (e.args && Object.keys(e.args).length > 0) state.args = e.args;
  if (e.result !== undefined && e.result !== null) state.result = e.result;
  if (e.error) state.error = e.error;
  if (e.duration_ms != null) state.durationMs = e.duration_ms;
  if (existing) return;
  d.putTool(state);
  if (e.agent != null && e.turn != null) {
    const turn = d.addTurn(e.agent, e.turn, e.ts ?? null);
    turn.tools = [...turn.tools, { callId: e.call_id, offset: turn.text.length }];
  } else {
    d.items().push({ kind: 'tool', id: e.call_id });
  }
}

function applyCost(d: Draft, e: CostEvent): void {
  const turn = d.addTurn(e.agent, e.turn, e.ts ?? null);
  const prev = turn.cost;
  const add = (a: number | undefined, b: number | undefined): number => (a ?? 0) + (b ?? 0);
  turn.cost = {
    model: e.model,
    provider: e.provider,
    promptTokens: add(prev?.promptTokens, e.prompt_tokens),
    completionTokens: add(prev?.completionTokens, e.completion_tokens),
    totalTokens: add(prev?.totalTokens, e.total_tokens),
    costUsd: add(prev?.costUsd, e.cost_usd),
    durationMs: add(prev?.durationMs, e.duration_ms),
    ttftMs: prev?.ttftMs ?? e.time_to_first_token_ms ?? null,
    firstVisibleMs: prev?.firstVisibleMs ?? e.first_visible_token_ms ?? null,
    cached: (prev?.cached ?? true) && (e.cached ?? false),
    llmCalls: add(prev?.llmCalls, e.llm_calls ?? 1),
    usageEstimated: (prev?.usageEstimated ?? false) || (e.usage_estimated ?? false),
    streamed: (prev?.streamed ?? true) && (e.streamed ?? true),
  };
  if (!turn.model) turn.model = e.model;
}

function applyLog(d: Draft, e: LogEvent): void {
  const items = d.items();
  const last = items[items.length - 1];
  if (last && last.kind === 'logs') {
    items[items.length - 1] = { ...last, lines: [...last.lines, e] };
  } else {
    items.push({ kind: 'logs', id: `logs-${e.seq}`, lines: [e] });
  }
}

function applyTerminal(d: Draft, e: TerminalEvent): void {
  const status: RunStatus =
    e.type === 'run_completed' ? 'completed' : e.type === 'run_failed' ? 'failed' : 'cancelled';
  const stoppedAttempt = e.type === 'run_failed' && endsAnAttempt(e.error);
  if (!(stoppedAttempt && d.feed.resuming)) d.feed.status = status;
  d.feed.totals = e.totals ?? null;
  let partial = e.type === 'run_completed' ? null : (e.partial_text ?? null);
  for (const key of Object.keys(d.feed.turns)) {
    const seen = d.feed.turns[key];
    if (!seen || (seen.status !== 'waiting' && seen.status !== 'streaming')) continue;
    const turn = d.turn(key);
    if (turn) turn.status = status === 'completed' ? 'completed' : status === 'cancelled' ? 'stopped' : 'interrupted';
  }
  if (partial) {
    // The partial text is the last turn's text, possibly with more than was streamed: extend
    // that turn rather than show the same text twice.
    const lastTurn = [...d.feed.items].reverse().find((i) => i.kind === 'turn');
    const turn = lastTurn ? d.turn(lastTurn.id) : undefined;
    if (turn && partial.startsWith(turn.text)) {
      setText(turn, partial);
      partial = null;
    } else if (turn && turn.text.startsWith(partial)) {
      partial = null;
    }
  }
  d.items().push({ kind: 'terminal', id: `terminal-${e.seq}`, event: e, partialText: partial });
}

function applyHumanResponse(d: Draft, e: HumanResponseEvent): void {
  const items = d.items();
  const index = items.findIndex((i) => i.kind === 'request' && i.id === `request-${e.request_id}`);
  const item = items[index];
  if (item?.kind === 'request') items[index] = { ...item, response: e };
  if (!items.some((i) => i.kind === 'request' && i.response === null)) d.feed.status = 'running';
}

function applyEvent(d: Draft, e: TideEvent): void {
  switch (e.type) {
    case 'run_started':
      d.feed.status = 'running';
      if (e.resumed) d.feed.resuming = false;
      d.feed.procedure = e.procedure;
      d.items().push({
        kind: 'started',
        id: `started-${e.seq}`,
        procedure: e.procedure,
        inputs: e.inputs ?? {},
        ts: e.ts ?? null,
        resumed: e.resumed ?? false,
      });
      return;
    case 'agent_turn':
      applyTurn(d, e);
      return;
    case 'agent_stream_chunk':
      applyChunk(d, e);
      return;
    case 'tool_call':
      applyTool(d, e);
      return;
    case 'cost':
      applyCost(d, e);
      return;
    case 'model_prediction':
      // A prediction is shown once it has an answer (or has failed).
      if (e.stage !== 'started') d.items().push({ kind: 'prediction', id: `prediction-${e.seq}`, event: e });
      return;
    case 'output_validation':
      d.items().push({ kind: 'validation', id: `validation-${e.seq}`, event: e });
      return;
    case 'log':
      applyLog(d, e);
      return;
    case 'human_request':
      d.items().push({ kind: 'request', id: `request-${e.request_id}`, request: e, response: null });
      d.feed.status = 'waiting';
      return;
    case 'human_response':
      applyHumanResponse(d, e);
      return;
    case 'system_alert':
      d.items().push({ kind: 'alert', id: `alert-${e.seq}`, event: e });
      return;
    case 'run_completed':
    case 'run_failed':
    case 'run_cancelled':
      applyTerminal(d, e);
      return;
    default:
      assertNever(e);
  }
}

/** A compile-time check that a switch handles every case: a new event kind in
 * `tide events --schema` (and so in the generated types) fails the type check here. */
function assertNever(value: never): never {
  throw new Error(`unhandled event: ${JSON.stringify(value)}`);
}

function applyEvents(feed: RunFeed, events: TideEvent[]): RunFeed {
  if (feed.gap || events.length === 0) return feed;
  let d: Draft | null = null;
  for (const e of events) {
    if (feed.runId !== null && e.run_id !== feed.runId) continue;
    const lastSeq = d ? d.feed.lastSeq : feed.lastSeq;
    // Events at or below the last applied seq were already seen (reconnect overlap, repeats,
    // or a stray late event): applying them again would duplicate text.
    if (e.seq <= lastSeq) continue;
    d ??= new Draft(feed);
    // Only chunk events leave text unjoined (they count by `points`); other events may read it.
    if (e.type !== 'agent_stream_chunk') d.joinText();
    applyEvent(d, e);
    if (d.feed.gap) break;
    d.feed.lastSeq = e.seq;
    if (d.feed.status === null || d.feed.status === 'queued') d.feed.status = 'running';
    if (d.feed.runId === null) d.feed.runId = e.run_id;
  }
  d?.joinText();
  return d ? d.feed : feed;
}

export function feedReducer(feed: RunFeed, action: FeedAction): RunFeed {
  switch (action.type) {
    case 'events':
      return applyEvents(feed, action.events);
    case 'reset':
      return {
        ...emptyFeed(action.runId),
        status: action.status ?? null,
        procedure: action.procedure ?? null,
        resuming: action.resuming ?? false,
      };
    case 'resynced':
      return feed.gap ? { ...feed, gap: false } : feed;
    case 'notice':
    case 'connection-lost': {
      const d = new Draft(feed);
      d.notice(action.type === 'notice' ? action.tone : 'warn', action.text);
      return d.feed;
    }
    case 'connection-restored': {
      const d = new Draft(feed);
      d.notice('ok', action.text);
      return d.feed;
    }
  }
}

/** The whole answer so far, as the person reads it: every turn's text in feed order. */
export function feedText(feed: RunFeed): string {
  return feed.items
    .filter((i) => i.kind === 'turn')
    .map((i) => feed.turns[i.id]?.text ?? '')
    .join('\n\n');
}
