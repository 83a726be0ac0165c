import { memo } from 'react';
import type { FeedItem } from '../../run/feed';
import type {
  LogEvent,
  ModelPredictionEvent,
  OutputValidationEvent,
  RunTotals,
  SystemAlertEvent,
} from '../../generated/events';
import { formatCost, formatDuration, formatTime, formatTokens } from '../../lib/format';
import { JsonTree, jsonPreview } from '../common/JsonTree';
import { StreamingMarkdown } from '../../markdown/Markdown';
import { ErrorBox } from './ErrorBox';

export const StartedLine = memo(function StartedLine({ item }: { item: Extract<FeedItem, { kind: 'started' }> }) {
  const inputs = Object.keys(item.inputs).length > 0 ? jsonPreview(item.inputs, 140) : null;
  return (
    <div className="feed-line" data-testid="run-started" data-resumed={item.resumed}>
      <span>{item.resumed ? '▶ resumed' : '▶ started'}</span>
      <span className="mono">{item.procedure}</span>
      {inputs ? <span className="mono faint">{inputs}</span> : null}
      <span className="faint">{formatTime(item.ts)}</span>
    </div>
  );
});

export const ValidationItem = memo(function ValidationItem({ event }: { event: OutputValidationEvent }) {
  const errors = event.errors ?? [];
  const retried = event.retried === true;
  return (
    <div
      className={`card validation ${event.ok ? 'ok' : retried ? 'retried' : 'failed'}`}
      data-testid="output-validation"
      data-ok={event.ok}
      data-retried={retried}
      role={event.ok || retried ? undefined : 'alert'}
    >
      {event.ok ? (
        <span>✓ {event.target} matches its schema</span>
      ) : (
        <>
          {retried ? (
            <span className="sev-warning">
              ↻ {event.target} did not match its schema (attempt {event.attempt ?? 1}); asked again
            </span>
          ) : (
            <span className="sev-error">✗ {event.target} does not match its schema</span>
          )}
          <ul>
            {errors.map((e, i) => (
              <li key={i}>
                <span className="vpath" data-testid="validation-path">
                  {e.path || '(root)'}
                </span>
                <span>{e.message}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
});

export const PredictionItem = memo(function PredictionItem({ event }: { event: ModelPredictionEvent }) {
  const failed = event.stage === 'failed';
  return (
    <div className="feed-line" data-testid="model-prediction" data-stage={event.stage}>
      <span className={failed ? 'sev-error' : undefined}>◆ {event.model}</span>
      <span className="mono faint">{jsonPreview(event.input ?? null, 80)}</span>
      {failed ? (
        <span className="sev-error">{event.error ?? 'failed'}</span>
      ) : (
        <span className="mono">→ {jsonPreview(event.output ?? null, 140)}</span>
      )}
      <span className="faint">
        {event.mocked ? 'mocked' : event.backend} · {formatDuration(event.duration_ms ?? 0)}
      </span>
    </div>
  );
});

export const LogGroup = memo(function LogGroup({ lines }: { lines: LogEvent[] }) {
  const worst = lines.some((l) => l.level === 'error') ? 'error' : lines.some((l) => l.level === 'warn') ? 'warn' : null;
  const alerts = lines.filter((l) => l.source === 'alert').length;
  return (
    <details className="logs" data-testid="log-group" open={lines.length <= 3 || worst !== null}>
      <summary>
        {lines.length} log line{lines.length === 1 ? '' : 's'}
        {worst ? <span className={`badge ${worst}`} style={{ marginLeft: 6 }}>{worst}</span> : null}
        {alerts ? (
          <span className="badge warn alert-badge" style={{ marginLeft: 6 }} data-testid="alert-badge">
            ⚠ {alerts} alert{alerts === 1 ? '' : 's'}
          </span>
        ) : null}
      </summary>
      {lines.map((l) => (
        <div className={l.source === 'alert' ? 'log-line alert' : 'log-line'} key={l.seq} data-testid={l.source === 'alert' ? 'alert-line' : undefined}>
          <span className={`lvl-${l.level}`}>{l.level}</span>
          <span>
            {l.source ? <span className="faint">[{l.source}] </span> : null}
            {l.message}
            {l.fields && Object.keys(l.fields).length > 0 ? <span className="faint"> {jsonPreview(l.fields, 160)}</span> : null}
          </span>
        </div>
      ))}
    </details>
  );
});

export function Totals({ totals }: { totals: RunTotals | null | undefined }) {
  if (!totals) return null;
  return (
    <div className="totals" data-testid="run-totals">
      <span>
        time <b>{formatDuration(totals.duration_ms)}</b>
      </span>
      <span>
        cost <b>{formatCost(totals.cost_usd)}</b>
      </span>
      <span>
        tokens <b>{formatTokens(totals.prompt_tokens)}</b> in / <b>{formatTokens(totals.completion_tokens)}</b> out
      </span>
      <span>
        turns <b>{totals.agent_turns ?? 0}</b>
      </span>
      <span>
        llm calls <b>{totals.llm_calls ?? 0}</b>
      </span>
      <span>
        tool calls <b>{totals.tool_calls ?? 0}</b>
      </span>
    </div>
  );
}

export const TerminalCard = memo(function TerminalCard({ item }: { item: Extract<FeedItem, { kind: 'terminal' }> }) {
  const e = item.event;
  const status = e.type === 'run_completed' ? 'completed' : e.type === 'run_failed' ? 'failed' : 'cancelled';
  return (
    <section className={`card terminal-card ${status}`} data-testid="run-terminal" data-status={status}>
      <h3>
        <span className={`badge ${status}`}>{status === 'cancelled' ? 'stopped' : status}</span>
        {e.type === 'run_completed'
          ? 'Run completed'
          : e.type !== 'run_failed'
            ? 'Run stopped'
            : e.error.kind === 'interrupted'
              ? 'Run interrupted'
              : 'Run failed'}
        {e.type === 'run_cancelled' && e.reason && e.reason !== 'cancelled' ? <span className="muted">({e.reason})</span> : null}
      </h3>
      {e.type === 'run_failed' ? <ErrorBox error={e.error} /> : null}
      <Totals totals={e.totals} />
      {item.partialText ? (
        <details open>
          <summary className="muted">partial text</summary>
          <StreamingMarkdown text={item.partialText} streaming={false} />
        </details>
      ) : null}
      {e.type === 'run_completed' || (e.type === 'run_failed' && e.output != null) ? (
        <div data-testid="run-output">
          <div className="muted" style={{ fontSize: 12, margin: '4px 0' }}>
            output
          </div>
          <JsonTree value={e.output ?? null} label="Run output" />
        </div>
      ) : null}
    </section>
  );
});

export const Notice = memo(function Notice({ tone, text }: { tone: 'warn' | 'ok' | 'error'; text: string }) {
  return (
    <div className={`notice ${tone}`} data-testid="feed-notice" data-tone={tone} role="status">
      {text}
    </div>
  );
});

const ALERT_TONES: Record<SystemAlertEvent['level'], 'ok' | 'warn' | 'error'> = {
  info: 'ok',
  warning: 'warn',
  error: 'error',
  critical: 'error',
};

/** `System.alert{...}` from the procedure: its level, message and where it came from. */
export const AlertItem = memo(function AlertItem({ event }: { event: SystemAlertEvent }) {
  const tone = ALERT_TONES[event.level];
  return (
    <div className={`notice ${tone}`} data-testid="feed-alert" data-level={event.level} role="alert">
      <strong>{event.level}</strong> {event.message}
      {event.source ? <span className="faint"> · {event.source}</span> : null}
    </div>
  );
});
