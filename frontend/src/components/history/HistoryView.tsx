import { useCallback, useEffect, useMemo, useState } from 'react';
import { api } from '../../api/client';
import { RUN_STATUSES, type RunStatus, type RunSummary } from '../../api/types';
import { followRun, useRunStore } from '../../state/runStore';
import { formatCost, formatDuration, formatTime, formatTokens } from '../../lib/format';
import { useInterval } from '../../lib/hooks';
import { errorText } from '../../state/toasts';
import { useWorkspace } from '../../state/workspace';
import { Feed } from '../feed/Feed';

/** `team=search env=prod` as the API's `tag` filters; words without `=` are left out. */
export function parseTagFilter(text: string): string[] {
  return text
    .split(/\s+/)
    .filter((word) => word.indexOf('=') > 0);
}

export function HistoryView({ selected, onSelect }: { selected: string | null; onSelect: (id: string) => void }) {
  const [procedure, setProcedure] = useState('');
  const [status, setStatus] = useState<RunStatus | ''>('');
  const [tagText, setTagText] = useState('');
  const tagKey = parseTagFilter(tagText).join(' ');
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const files = useWorkspace((s) => s.files);
  const feedRun = useRunStore((s) => s.feed.runId);
  const feedStatus = useRunStore((s) => s.feed.status);

  const load = useCallback(async () => {
    try {
      const tag = tagKey ? tagKey.split(' ') : undefined;
      const res = await api.listRuns({ procedure: procedure || undefined, status, limit: 200, tag });
      setRuns(res.runs);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  }, [procedure, status, tagKey]);

  useEffect(() => {
    void load();
  }, [load]);
  // Refresh while something is in flight, and when the followed run ends.
  const anyActive = runs?.some((r) => r.status === 'running' || r.status === 'queued') ?? false;
  useInterval(() => void load(), anyActive ? 2000 : 10000);
  useEffect(() => {
    if (feedStatus === 'completed' || feedStatus === 'failed' || feedStatus === 'cancelled') void load();
  }, [feedStatus, load]);

  // Opening a run replays its events into the feed, unless the feed already shows it.
  useEffect(() => {
    if (!selected || selected === useRunStore.getState().feed.runId) return;
    const summary = runs?.find((r) => r.id === selected);
    followRun(selected, { status: summary?.status ?? null, procedure: summary?.procedure ?? null });
    // Only a change of selection replays; list refreshes must not restart the feed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selected]);

  const procedures = useMemo(() => {
    const set = new Set<string>(files.map((f) => f.path));
    for (const r of runs ?? []) set.add(r.procedure);
    return [...set].sort();
  }, [files, runs]);

  return (
    <div className="history-view">
      <section className="pane" aria-label="Run history">
        <div className="filters">
          <label>
            procedure
            <select value={procedure} onChange={(e) => setProcedure(e.target.value)} data-testid="history-procedure">
              <option value="">all</option>
              {procedures.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            status
            <select value={status} onChange={(e) => setStatus(e.target.value as RunStatus | '')} data-testid="history-status">
              <option value="">all</option>
              {RUN_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label title="Only runs with these tags: key=value, separated by spaces">
            tags
            <input
              type="search"
              value={tagText}
              placeholder="key=value"
              onChange={(e) => setTagText(e.target.value)}
              data-testid="history-tags"
              size={14}
            />
          </label>
          <span style={{ flex: 1 }} />
          <button type="button" className="btn small" onClick={() => void load()}>
            Refresh
          </button>
        </div>
        {error ? <div className="note error" style={{ margin: 8 }}>{error}</div> : null}
        <div className="table-wrap">
          <table className="data" data-testid="history-table">
            <thead>
              <tr>
                <th>status</th>
                <th>procedure</th>
                <th>model</th>
                <th className="num">duration</th>
                <th className="num">cost</th>
                <th className="num">tokens</th>
                <th>started</th>
                <th>tags</th>
              </tr>
            </thead>
            <tbody>
              {(runs ?? []).map((r) => (
                <tr
                  key={r.id}
                  className="clickable"
                  aria-selected={r.id === (selected ?? feedRun)}
                  tabIndex={0}
                  onClick={() => onSelect(r.id)}
                  onKeyDown={(e) => {
                    if (e.key === 'Enter' || e.key === ' ') {
                      e.preventDefault();
                      onSelect(r.id);
                    }
                  }}
                  data-testid="history-row"
                  data-run-id={r.id}
                  data-status={r.status}
                  title={r.error ? `${r.error.kind}: ${r.error.message}` : r.id}
                >
                  <td>
                    <span className={`badge ${r.status}`}>{r.status === 'cancelled' ? 'stopped' : r.status}</span>
                  </td>
                  <td className="proc">{r.procedure}</td>
                  <td className="mono muted">{r.model ?? '—'}</td>
                  <td className="num">{formatDuration(r.duration_ms)}</td>
                  <td className="num">{formatCost(r.cost_usd)}</td>
                  <td className="num">{formatTokens(r.total_tokens)}</td>
                  <td className="muted">{formatTime(r.started_at)}</td>
                  <td className="tags" data-testid="history-row-tags">
                    {Object.entries(r.tags ?? {}).map(([k, v]) => (
                      <button
                        type="button"
                        key={k}
                        className="badge tag"
                        title="Show only runs with this tag"
                        onClick={(e) => {
                          e.stopPropagation();
                          setTagText(`${k}=${v}`);
                        }}
                      >
                        {k}={v}
                      </button>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {runs && runs.length === 0 ? <div className="empty">No runs match.</div> : null}
          {runs === null && !error ? <div className="empty">Loading…</div> : null}
        </div>
      </section>
      <section className="pane" aria-label="Run replay">
        <Feed empty={<div className="empty">Pick a run to replay its events.</div>} />
      </section>
    </div>
  );
}
