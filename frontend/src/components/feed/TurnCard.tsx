import { memo, useEffect, useRef, useState } from 'react';
import { useRunStore } from '../../state/runStore';
import { useSettings } from '../../state/settings';
import { SmoothedView } from '../../run/smooth';
import type { TurnCost, TurnState } from '../../run/feed';
import { StreamingMarkdown } from '../../markdown/Markdown';
import { formatCost, formatDuration, formatRate, formatTokens, tokensPerSecond } from '../../lib/format';
import { useStickToBottom } from '../../lib/hooks';
import { ToolCall } from './ToolCall';
import { ErrorBox } from './ErrorBox';

const STATUS_LABEL: Record<TurnState['status'], string> = {
  waiting: 'waiting',
  streaming: 'streaming',
  completed: 'done',
  failed: 'failed',
  stopped: 'stopped',
  interrupted: 'interrupted',
};

export function CostFooter({ cost, durationMs }: { cost: TurnCost; durationMs: number | null }) {
  const total = durationMs ?? cost.durationMs;
  const tps = tokensPerSecond(cost.completionTokens, cost.durationMs || total, cost.ttftMs);
  return (
    <div className="card-foot" data-testid="cost-footer">
      <span title="Prompt tokens in / completion tokens out">
        tokens <b>{formatTokens(cost.promptTokens)}</b> in / <b>{formatTokens(cost.completionTokens)}</b> out
      </span>
      <span>
        cost <b>{formatCost(cost.costUsd)}</b>
      </span>
      <span title="Time to first token">
        ttft <b>{formatDuration(cost.ttftMs)}</b>
      </span>
      {cost.firstVisibleMs !== null && cost.ttftMs !== null && cost.firstVisibleMs - cost.ttftMs >= 1 ? (
        <span title="From the turn's start to its first text, tool rounds included" data-testid="first-visible">
          first text <b>{formatDuration(cost.firstVisibleMs)}</b>
        </span>
      ) : null}
      <span>
        time <b>{formatDuration(total)}</b>
      </span>
      <span>
        <b>{formatRate(tps)}</b>
      </span>
      {cost.cached ? <span className="badge">cached</span> : null}
      {cost.usageEstimated ? (
        <span className="badge warn" data-testid="usage-estimated" title="The provider reported no usage: tokens and cost are Tide's count from the text">
          estimated
        </span>
      ) : null}
      {cost.streamed ? null : (
        <span className="badge" data-testid="not-streamed" title="The answer came in one piece">
          not streamed
        </span>
      )}
      {cost.llmCalls > 1 ? <span>{cost.llmCalls} calls</span> : null}
    </div>
  );
}

/** The turn's text with its tool calls placed where they happened in it. */
function TurnBody({ turn }: { turn: TurnState }) {
  const streaming = turn.status === 'streaming' || turn.status === 'waiting';
  const parts: React.ReactNode[] = [];
  let from = 0;
  turn.tools.forEach((t, i) => {
    if (t.offset > from) {
      parts.push(<StreamingMarkdown key={`t${i}`} text={turn.text.slice(from, t.offset)} streaming={false} />);
      from = t.offset;
    }
    parts.push(<ToolCall key={t.callId} callId={t.callId} />);
  });
  const rest = turn.text.slice(from);
  if (rest || parts.length === 0) {
    parts.push(<StreamingMarkdown key="tail" text={rest} streaming={streaming && rest.length > 0} />);
  }
  return <>{parts}</>;
}

/** A live turn's text as the display setting shows it (see run/smooth.ts); a finished turn's
 * text in full. */
function useSmoothedText(text: string, live: boolean): string {
  const mode = useSettings((s) => s.smoothing);
  const view = useRef<SmoothedView | null>(null);
  if (view.current === null || view.current.mode !== mode) view.current = new SmoothedView(mode);
  const [, wake] = useState(0);
  const length = live ? view.current.shown(text, performance.now()) : text.length;
  const deadline = live ? view.current.deadline() : null;
  useEffect(() => {
    if (deadline === null) return;
    const timer = setTimeout(() => wake((n) => n + 1), Math.max(0, deadline - performance.now()));
    return () => clearTimeout(timer);
  }, [deadline]);
  return length >= text.length ? text : text.slice(0, length);
}

export const TurnCard = memo(function TurnCard({ id }: { id: string }) {
  const turn = useRunStore((s) => s.feed.turns[id]);
  const shownText = useSmoothedText(turn?.text ?? '', turn?.status === 'streaming' || turn?.status === 'waiting');
  const [raw, setRaw] = useState(false);
  const [expanded, setExpanded] = useState(false);
  const body = useRef<HTMLDivElement>(null);
  const inner = useRef<HTMLDivElement>(null);
  const { following, follow } = useStickToBottom(body, inner);
  if (!turn) return null;
  const live = turn.status === 'streaming' || turn.status === 'waiting';
  return (
    <article
      className={`card turn-card ${turn.status}`}
      data-testid="turn-card"
      data-agent={turn.agent}
      data-turn={turn.turn}
      data-status={turn.status}
      aria-label={`${turn.agent} turn ${turn.turn}`}
    >
      <header className="card-head">
        <span className="agent">{turn.agent}</span>
        <span className="faint">turn {turn.turn}</span>
        {turn.model ? <span className="muted mono">{turn.model}</span> : null}
        <span className="spacer" />
        {live ? <span className="spinner" aria-hidden="true" style={{ color: 'var(--running)' }} /> : null}
        <span className={`badge ${turn.status}`} data-testid="turn-status">
          {STATUS_LABEL[turn.status]}
        </span>
        <button
          type="button"
          className="btn small ghost"
          aria-pressed={raw}
          onClick={() => setRaw((r) => !r)}
          title="Show the text exactly as the model sent it"
          data-testid="raw-toggle"
        >
          raw
        </button>
        <button
          type="button"
          className="btn small ghost"
          onClick={() => void navigator.clipboard?.writeText(turn.text)}
          title="Copy the text"
        >
          copy
        </button>
        <button
          type="button"
          className="btn small ghost"
          aria-pressed={expanded}
          onClick={() => setExpanded((e) => !e)}
          title={expanded ? 'Limit the height' : 'Show in full'}
        >
          {expanded ? 'collapse' : 'expand'}
        </button>
      </header>
      <div className={expanded ? 'turn-body expanded' : 'turn-body'} ref={body} aria-busy={live}>
        <div ref={inner} data-testid="turn-text">
          {turn.status === 'waiting' && !turn.text && turn.tools.length === 0 ? (
            <div className="waiting" data-testid="turn-waiting">
              <span>waiting for the model</span>
              <span className="dots" aria-hidden="true">
                <span>.</span>
                <span>.</span>
                <span>.</span>
              </span>
            </div>
          ) : raw ? (
            <pre className="raw-text" data-testid="turn-raw">
              {turn.text}
            </pre>
          ) : (
            <TurnBody turn={shownText === turn.text ? turn : { ...turn, text: shownText }} />
          )}
        </div>
        {live && !following && !expanded ? (
          <button type="button" className="btn small follow-btn" onClick={follow}>
            ↓ follow
          </button>
        ) : null}
      </div>
      {turn.error ? (
        <div className="turn-error">
          <ErrorBox error={turn.error} />
        </div>
      ) : null}
      {turn.cost ? <CostFooter cost={turn.cost} durationMs={turn.durationMs} /> : null}
    </article>
  );
});
