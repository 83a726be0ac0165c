// Shapes of the IDE server's JSON API (ide_backend/). Event payloads come from
// src/generated/events.ts, generated from the runtime's schema.
import type { ErrorInfo, HumanField, HumanRequestEvent } from '../generated/events';

export type { ErrorInfo };

export interface ApiErrorBody {
  error: { code: string; message: string };
}

export interface Health {
  ok: boolean;
  version: string;
}

export interface FileEntry {
  path: string;
  size: number;
  modified: string | number;
  valid: boolean | null;
  errors: number;
}

export interface FileContent {
  path: string;
  content: string;
  modified: string | number;
}

export interface Saved {
  path: string;
  modified: string | number;
}

export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object';

export interface Field {
  name: string;
  type: FieldType;
  required: boolean;
  default?: unknown;
  description?: string;
  enum?: unknown[];
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  message: string;
  line: number;
  column: number;
  end_line?: number;
  end_column?: number;
  hint?: string;
}

export interface ProcedureInfo {
  inputs: Field[];
  outputs: Field[];
  agents: { name: string; model: string | null }[];
}

export interface ValidateResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  procedure: ProcedureInfo | null;
}

export interface Models {
  models: string[];
  default: string | null;
}

export const RUN_STATUSES = ['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled'] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

/**
 * The error kinds of a failed run that may be resumed (the runtime's `RESUMABLE_ERRORS`): a
 * `run_failed` of one of them ends an attempt, which the run's resumed events may follow.
 * Whether a stored run can be resumed now is its own `resumable`.
 */
export const RESUMABLE_ERROR_KINDS: readonly string[] = ['diverged', 'executor', 'interrupted'];

/** A `run_failed` that may be followed by the same run's resumed events. */
export const endsAnAttempt = (error: ErrorInfo): boolean => RESUMABLE_ERROR_KINDS.includes(error.kind);

export interface RunSummary {
  id: string;
  procedure: string;
  status: RunStatus;
  inputs: Record<string, unknown>;
  model: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  cost_usd: number | null;
  total_tokens: number | null;
  agent_turns: number | null;
  /** Labels given when the run started (`--tag k=v`, `tags` in POST /api/runs). */
  tags?: Record<string, string>;
  error: ErrorInfo | null;
  /** The questions to a person a `waiting` run waits for. */
  pending?: PendingRequest[];
  /** Whether the run can be resumed (`POST /api/runs/{id}/resume`): it stopped without
   * finishing, its journal whole (see `RESUMABLE_ERROR_KINDS`). */
  resumable: boolean;
}

export interface PendingRequest {
  request_id: string;
  kind: HumanRequestEvent['kind'];
  message: string;
  options: unknown[];
  default: unknown;
  timeout_s: number | null;
  /** A `multiple` request's fields (empty for the others). */
  fields: HumanField[];
  created_at: string;
}

export interface RunDetail extends RunSummary {
  output: unknown;
}

export interface StartRunRequest {
  path?: string;
  source?: string;
  inputs: Record<string, unknown>;
  model?: string;
  mock?: boolean;
  tags?: Record<string, string>;
}

export interface StartRunResponse {
  run_id: string;
  status: RunStatus;
}

export type StatsBy = 'model' | 'agent' | 'procedure';
export type StatsSince = '1h' | '24h' | '7d' | '30d' | 'all';

export interface Stat {
  avg: number | null;
  p50: number | null;
  p95: number | null;
}

export interface StatsRow {
  key: string;
  count: number;
  ttft_ms: Stat;
  duration_ms: Stat;
  total_tokens: Stat;
  cost_usd: Stat & { sum: number | null };
  /** Alerts raised (thresholds crossed) in the window. */
  alerts?: number;
}

/** Bucket widths the server accepts for `?every=`. */
export type StatsEvery = '1m' | '5m' | '1h' | '6h' | '1d';

/** One key's turns (or runs) in the time bucket starting at `start`. */
export interface SeriesPoint {
  key: string;
  start: string;
  count: number;
  ttft_ms: { p50: number | null; p95: number | null };
  cost_usd: { p50: number | null; p95: number | null; sum: number | null };
}

export interface StatsResult {
  by: StatsBy;
  since: StatsSince;
  rows: StatsRow[];
  every?: StatsEvery;
  series?: SeriesPoint[];
}
