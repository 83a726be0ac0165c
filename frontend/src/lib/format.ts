// Number formatting for metrics. Every formatter takes null/undefined and prints an em dash,
// because missing figures (no TTFT for a non-streamed call, no cost for a local model) are common.

const DASH = '—';

type Num = number | null | undefined;

const isNum = (n: Num): n is number => typeof n === 'number' && Number.isFinite(n);

export function formatDuration(ms: Num): string {
  if (!isNum(ms)) return DASH;
  if (ms < 0) return DASH;
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  if (m < 60) return rest === 60 ? `${m + 1}m 0s` : `${m}m ${rest}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m - h * 60}m`;
}

export function formatCost(usd: Num): string {
  if (!isNum(usd)) return DASH;
  if (usd === 0) return '$0';
  const abs = Math.abs(usd);
  if (abs < 0.0001) return `$${usd.toExponential(1)}`;
  if (abs < 0.01) return `$${usd.toFixed(4)}`;
  if (abs < 1) return `$${usd.toFixed(3)}`;
  return `$${usd.toFixed(2)}`;
}

export function formatTokens(n: Num): string {
  if (!isNum(n)) return DASH;
  if (Math.abs(n) < 1000) return String(Math.round(n));
  if (Math.abs(n) < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(2)}M`;
}

/**
 * Generation speed: completion tokens over the time spent producing them. The wait before the
 * first token is queueing and prompt processing, not generation, so it is left out when known.
 */
export function tokensPerSecond(completionTokens: Num, durationMs: Num, ttftMs?: Num): number | null {
  if (!isNum(completionTokens) || !isNum(durationMs) || completionTokens <= 0) return null;
  const generating = isNum(ttftMs) && ttftMs > 0 && ttftMs < durationMs ? durationMs - ttftMs : durationMs;
  if (generating <= 0) return null;
  return completionTokens / (generating / 1000);
}

export function formatRate(tps: Num): string {
  if (!isNum(tps)) return DASH;
  return tps >= 100 ? `${Math.round(tps)} tok/s` : `${tps.toFixed(1)} tok/s`;
}

// Building an Intl formatter loads locale data and costs tens of milliseconds the first time:
// build each once, and early (see warmFormatters), never per call.
let timeFormat: Intl.DateTimeFormat | null = null;
let dateTimeFormat: Intl.DateTimeFormat | null = null;

export function warmFormatters(): void {
  timeFormat ??= new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  dateTimeFormat ??= new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return DASH;
  const d = typeof value === 'number' ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  warmFormatters();
  const now = new Date();
  const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return (sameDay ? timeFormat : dateTimeFormat)!.format(d);
}

if (typeof window !== 'undefined' && 'requestIdleCallback' in window) window.requestIdleCallback(warmFormatters);

export function formatBytes(n: Num): string {
  if (!isNum(n)) return DASH;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
