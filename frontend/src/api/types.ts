// Shapes of the IDE server's JSON API (see the API contract). Event payloads come from
// src/generated/events.ts, generated from the runtime's schema.
import type { ErrorInfo } from '../generated/events';

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

export type RunStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

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
  error: ErrorInfo | null;
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
}

export interface StatsResult {
  by: StatsBy;
  since: StatsSince;
  rows: StatsRow[];
}
