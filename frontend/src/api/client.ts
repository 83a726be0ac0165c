import type {
  FileContent,
  FileEntry,
  Health,
  Models,
  RunDetail,
  RunStatus,
  RunSummary,
  Saved,
  StartRunRequest,
  StartRunResponse,
  StatsBy,
  StatsEvery,
  StatsResult,
  StatsSince,
  ValidateResult,
} from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** An answer's refused fields, by id (`invalid_answer`). */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Encode a workspace path for a URL while keeping its `/` separators. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

// Every URL is relative to the page, so that the IDE works wherever its server is mounted.
async function request<T>(method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' },
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (signal) init.signal = signal;
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The IDE server cannot be reached.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: unknown; message?: unknown; fields?: unknown } } | null)?.error;
    const code = typeof err?.code === 'string' ? err.code : `http_${res.status}`;
    const message = typeof err?.message === 'string' ? err.message : `${res.status} ${res.statusText}`.trim();
    throw new ApiError(res.status, code, message, fieldsOf(err?.fields));
  }
  return data as T;
}

function fieldsOf(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function query(params: Record<string, string | number | string[] | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) for (const item of v) q.append(k, item);
    else if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const api = {
  health: () => request<Health>('GET', 'api/health'),
  listFiles: () => request<{ files: FileEntry[] }>('GET', 'api/files'),
  readFile: (path: string) => request<FileContent>('GET', `api/files/${encodePath(path)}`),
  saveFile: (path: string, content: string) =>
    request<Saved>('PUT', `api/files/${encodePath(path)}`, { content }),
  createFile: (path: string, content = '') => request<Saved>('POST', 'api/files', { path, content }),
  renameFile: (from: string, to: string) => request<{ path: string }>('POST', 'api/files/rename', { from, to }),
  deleteFile: (path: string) => request<void>('DELETE', `api/files/${encodePath(path)}`),
  validate: (source: string, path: string | undefined, signal?: AbortSignal) =>
    request<ValidateResult>('POST', 'api/validate', path ? { source, path } : { source }, signal),
  models: () => request<Models>('GET', 'api/models'),
  startRun: (body: StartRunRequest) => request<StartRunResponse>('POST', 'api/runs', body),
  /** `tag` holds `key=value` filters, all of which must match. */
  listRuns: (filter: { procedure?: string; status?: RunStatus | ''; limit?: number; tag?: string[] }) =>
    request<{ runs: RunSummary[] }>('GET', `api/runs${query(filter)}`),
  getRun: (id: string) => request<RunDetail>('GET', `api/runs/${encodeURIComponent(id)}`),
  cancelRun: (id: string) =>
    request<{ run_id: string; status: RunStatus }>('POST', `api/runs/${encodeURIComponent(id)}/cancel`),
  answerRun: (id: string, requestId: string, value: unknown) =>
    request<{ run_id: string; status: RunStatus }>('POST', `api/runs/${encodeURIComponent(id)}/answer`, {
      request_id: requestId,
      value,
    }),
  resumeRun: (id: string) =>
    request<{ run_id: string; status: RunStatus }>('POST', `api/runs/${encodeURIComponent(id)}/resume`),
  stats: (by: StatsBy, since: StatsSince, every?: StatsEvery) =>
    request<StatsResult>('GET', `api/stats${query({ by, since, every })}`),
};

/**
 * A run's event stream, resuming after seq `after` (0: from the start). With `coalesceMs` the
 * server gathers live chunks for up to that many ms into one message; other events are not held.
 */
export function eventsUrl(runId: string, after: number, coalesceMs = 0): string {
  const base = `api/runs/${encodeURIComponent(runId)}/events`;
  return base + query({ after: after > 0 ? after : undefined, coalesce_ms: coalesceMs > 0 ? coalesceMs : undefined });
}
