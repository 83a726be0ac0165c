import { memo, useEffect, useRef, useState } from 'react';
import { api } from '../../api/client';
import { followRun, useRunStore } from '../../state/runStore';
import type { FeedItem } from '../../run/feed';
import type { ErrorInfo } from '../../api/types';
import { useStickToBottom } from '../../lib/hooks';
import { TurnCard } from './TurnCard';
import { ToolCall } from './ToolCall';
import { AlertItem, LogGroup, Notice, PredictionItem, StartedLine, TerminalCard, ValidationItem } from './FeedItems';
import { RequestCard } from './RequestCard';

const Item = memo(function Item({ item }: { item: FeedItem }) {
  switch (item.kind) {
    case 'started':
      return <StartedLine item={item} />;
    case 'turn':
      return <TurnCard id={item.id} />;
    case 'tool':
      return <ToolCall callId={item.id} />;
    case 'validation':
      return <ValidationItem event={item.event} />;
    case 'prediction':
      return <PredictionItem event={item.event} />;
    case 'logs':
      return <LogGroup lines={item.lines} />;
    case 'alert':
      return <AlertItem event={item.event} />;
    case 'terminal':
      return <TerminalCard item={item} />;
    case 'notice':
      return <Notice tone={item.tone} text={item.text} />;
    case 'request':
      return <RequestCard item={item} />;
  }
});

/** A run that stopped without finishing (the API's `resumable`) can be resumed, never without
 * being asked: resuming calls models again. */
export function ResumeButton() {
  const runId = useRunStore((s) => s.feed.runId);
  const status = useRunStore((s) => s.feed.status);
  const procedure = useRunStore((s) => s.feed.procedure);
  const [stopped, setStopped] = useState<ErrorInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setStopped(null);
    if (!runId || status === 'completed' || status === 'cancelled' || status === 'waiting') return;
    let left = false;
    const check = () =>
      api.getRun(runId).then(
        (run) => {
          if (!left) setStopped(run.resumable ? run.error : null);
        },
        () => undefined,
      );
    void check();
    const timer = setInterval(() => void check(), 3000);
    return () => {
      left = true;
      clearInterval(timer);
    };
  }, [runId, status]);
  if (!runId || !stopped) return null;
  const resume = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.resumeRun(runId);
      setStopped(null);
      followRun(runId, { status: 'running', procedure, resuming: true });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <span className="badge failed" title={stopped.message} data-testid="resumable-kind">
        {stopped.kind}
      </span>
      <button type="button" className="btn small primary" disabled={busy} onClick={() => void resume()} data-testid="resume-button">
        Resume
      </button>
      {error ? (
        <span className="sev-error" role="alert" data-testid="resume-error">
          {error}
        </span>
      ) : null}
    </>
  );
}

function ConnectionBadge() {
  const connection = useRunStore((s) => s.connection);
  switch (connection.phase) {
    case 'connecting':
      return <span className="badge running">connecting</span>;
    case 'live':
      return (
        <span className="badge ok" data-testid="connection-live">
          live
        </span>
      );
    case 'reconnecting':
      return (
        <span className="badge warn" data-testid="connection-reconnecting" title={connection.message ?? undefined}>
          reconnecting{connection.attempt > 1 ? ` (${connection.attempt})` : ''}
        </span>
      );
    case 'failed':
      return <span className="badge error">{connection.message ?? 'disconnected'}</span>;
    default:
      return null;
  }
}

function RunStatusBadge() {
  const status = useRunStore((s) => s.feed.status);
  if (!status) return null;
  return (
    <span className={`badge ${status}`} data-testid="run-status" data-status={status}>
      {status === 'cancelled' ? 'stopped' : status}
    </span>
  );
}

export function Feed({ empty }: { empty?: React.ReactNode }) {
  const items = useRunStore((s) => s.feed.items);
  const runId = useRunStore((s) => s.feed.runId);
  const procedure = useRunStore((s) => s.feed.procedure);
  const scroller = useRef<HTMLDivElement>(null);
  const inner = useRef<HTMLDivElement>(null);
  const { following, follow } = useStickToBottom(scroller, inner);
  return (
    <div className="feed-pane">
      <div className="feed-header">
        <strong>Run</strong>
        {runId ? (
          <span className="run-id" data-testid="feed-run-id">
            {runId}
          </span>
        ) : null}
        {procedure ? <span className="mono muted">{procedure}</span> : null}
        <span style={{ flex: 1 }} />
        <ConnectionBadge />
        <RunStatusBadge />
        <ResumeButton />
        {!following ? (
          <button type="button" className="btn small" onClick={follow}>
            ↓ latest
          </button>
        ) : null}
      </div>
      <div className="feed" ref={scroller} data-testid="feed" role="log" aria-live="off" aria-label="Run events">
        <div ref={inner} style={{ display: 'flex', flexDirection: 'column', gap: 8 }}>
          {items.length === 0 ? (runId ? <div className="empty">Waiting for events…</div> : (empty ?? <div className="empty">No run yet.</div>)) : null}
          {items.map((item) => (
            <Item key={item.id} item={item} />
          ))}
        </div>
      </div>
      <RunAnnouncer />
    </div>
  );
}

/** Screen readers hear status changes, not every streamed token. */
function RunAnnouncer() {
  const status = useRunStore((s) => s.feed.status);
  const phase = useRunStore((s) => s.connection.phase);
  const text =
    phase === 'reconnecting'
      ? 'Connection lost, reconnecting'
      : status === 'completed'
        ? 'Run completed'
        : status === 'failed'
          ? 'Run failed'
          : status === 'cancelled'
            ? 'Run stopped'
            : status === 'running'
              ? 'Run started'
              : '';
  return (
    <div className="visually-hidden" role="status" aria-live="polite">
      {text}
    </div>
  );
}
