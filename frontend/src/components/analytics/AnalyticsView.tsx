import { useEffect, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api } from '../../api/client';
import type { SeriesPoint, StatsBy, StatsEvery, StatsResult, StatsRow, StatsSince } from '../../api/types';
import { column, EVERY_FOR, formatBucket, pivotSeries, SERIES_STATS, type SeriesStat } from './series';
import { formatCost, formatDuration, formatTokens } from '../../lib/format';
import { errorText } from '../../state/toasts';
import { useResolvedTheme } from '../../lib/theme';

const WINDOWS: StatsSince[] = ['1h', '24h', '7d', '30d', 'all'];
const GROUPS: StatsBy[] = ['model', 'agent', 'procedure'];

function readColors(): Record<string, string> {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string) => css.getPropertyValue(name).trim();
  return { c1: v('--chart-1'), c2: v('--chart-2'), c3: v('--chart-3'), c4: v('--chart-4'), grid: v('--border'), text: v('--text-muted'), panel: v('--bg-panel'), fg: v('--text') };
}

interface ChartSpec {
  title: string;
  series: { key: string; name: string; color: keyof ReturnType<typeof readColors> }[];
  format: (n: number) => string;
  pick: (r: StatsRow) => Record<string, number | null>;
}

const CHARTS: ChartSpec[] = [
  { title: 'Time to first token', series: [{ key: 'p50', name: 'p50', color: 'c1' }, { key: 'p95', name: 'p95', color: 'c2' }], format: formatDuration, pick: (r) => ({ p50: r.ttft_ms.p50, p95: r.ttft_ms.p95 }) },
  { title: 'Duration', series: [{ key: 'p50', name: 'p50', color: 'c1' }, { key: 'p95', name: 'p95', color: 'c2' }], format: formatDuration, pick: (r) => ({ p50: r.duration_ms.p50, p95: r.duration_ms.p95 }) },
  { title: 'Tokens per call', series: [{ key: 'avg', name: 'avg', color: 'c3' }, { key: 'p95', name: 'p95', color: 'c4' }], format: formatTokens, pick: (r) => ({ avg: r.total_tokens.avg, p95: r.total_tokens.p95 }) },
  { title: 'Cost', series: [{ key: 'sum', name: 'total', color: 'c4' }, { key: 'avg', name: 'avg', color: 'c3' }], format: formatCost, pick: (r) => ({ sum: r.cost_usd.sum, avg: r.cost_usd.avg }) },
];

function Chart({ spec, rows, colors }: { spec: ChartSpec; rows: StatsRow[]; colors: Record<string, string> }) {
  const data = rows.map((r) => ({ key: r.key, ...spec.pick(r) }));
  return (
    <figure className="card chart-card" style={{ margin: 0 }} data-testid="analytics-chart">
      <h3>{spec.title}</h3>
      <div className="chart-box" role="img" aria-label={`${spec.title} by key; the same figures are in the table`}>
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={data} margin={{ top: 4, right: 8, bottom: 4, left: 4 }}>
            <CartesianGrid strokeDasharray="3 3" stroke={colors.grid} vertical={false} />
            <XAxis dataKey="key" tick={{ fill: colors.text, fontSize: 11 }} stroke={colors.grid} interval={0} tickFormatter={(k: string) => (k.length > 16 ? `${k.slice(0, 15)}…` : k)} />
            <YAxis tick={{ fill: colors.text, fontSize: 11 }} stroke={colors.grid} tickFormatter={(n: number) => spec.format(n)} width={64} />
            <Tooltip
              formatter={(v) => (typeof v === 'number' ? spec.format(v) : String(v ?? '—'))}
              contentStyle={{ background: colors.panel, border: `1px solid ${colors.grid}`, color: colors.fg, fontSize: 12 }}
              cursor={{ fill: colors.grid, opacity: 0.3 }}
            />
            <Legend wrapperStyle={{ fontSize: 11 }} />
            {spec.series.map((s) => (
              <Bar key={s.key} dataKey={s.key} name={s.name} fill={colors[s.color]} isAnimationActive={false} radius={[3, 3, 0, 0]} maxBarSize={36} />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}

interface SeriesSpec {
  title: string;
  format: (n: number) => string;
  pick: (p: SeriesPoint) => Record<SeriesStat, number | null>;
}

const SERIES_CHARTS: SeriesSpec[] = [
  { title: 'Time to first token over time', format: formatDuration, pick: (p) => ({ p50: p.ttft_ms.p50, p95: p.ttft_ms.p95 }) },
  { title: 'Cost per call over time', format: formatCost, pick: (p) => ({ p50: p.cost_usd.p50, p95: p.cost_usd.p95 }) },
];

const KEY_COLORS = ['c1', 'c2', 'c3', 'c4'] as const;

/** p50 (solid) and p95 (dashed) per key, one line each, over the window's buckets. */
function SeriesChart({ spec, points, every, colors }: { spec: SeriesSpec; points: SeriesPoint[]; every: StatsEvery; colors: Record<string, string> }) {
  const { keys, rows } = useMemo(() => pivotSeries(points, spec.pick), [points, spec]);
  return (
    <figure className="card chart-card" style={{ margin: 0 }} data-testid="analytics-series" data-points={rows.length}>
      <h3>{spec.title}</h3>
      <div className="chart-box" role="img" aria-label={`${spec.title}, p50 and p95 per key every ${every}`}>
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={rows} margin={{ top: 4, right: 8, bottom: 4, left: 4 }}>
            <CartesianGrid strokeDasharray="3 3" stroke={colors.grid} vertical={false} />
            <XAxis dataKey="t" type="number" scale="time" domain={['dataMin', 'dataMax']} tick={{ fill: colors.text, fontSize: 11 }} stroke={colors.grid} tickFormatter={(t: number) => formatBucket(t, every)} />
            <YAxis tick={{ fill: colors.text, fontSize: 11 }} stroke={colors.grid} tickFormatter={(n: number) => spec.format(n)} width={64} />
            <Tooltip
              labelFormatter={(t) => (typeof t === 'number' ? new Date(t).toLocaleString() : String(t))}
              formatter={(v) => (typeof v === 'number' ? spec.format(v) : String(v ?? '—'))}
              contentStyle={{ background: colors.panel, border: `1px solid ${colors.grid}`, color: colors.fg, fontSize: 12 }}
            />
            <Legend wrapperStyle={{ fontSize: 11 }} />
            {keys.flatMap((key, i) =>
              SERIES_STATS.map((stat) => (
                <Line
                  key={column(key, stat)}
                  dataKey={column(key, stat)}
                  name={column(key, stat)}
                  stroke={colors[KEY_COLORS[i % KEY_COLORS.length] ?? 'c1']}
                  strokeDasharray={stat === 'p95' ? '5 3' : undefined}
                  dot={rows.length < 2}
                  connectNulls={false}
                  isAnimationActive={false}
                />
              )),
            )}
          </LineChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}

function StatsTable({ rows, by }: { rows: StatsRow[]; by: StatsBy }) {
  return (
    <div className="card" style={{ overflow: 'auto' }}>
      <table className="data" data-testid="analytics-table">
        <thead>
          <tr>
            <th>{by}</th>
            <th className="num">calls</th>
            <th className="num">ttft p50</th>
            <th className="num">ttft p95</th>
            <th className="num">duration p50</th>
            <th className="num">duration p95</th>
            <th className="num">tokens avg</th>
            <th className="num">cost total</th>
            <th className="num" title="Thresholds crossed (alerts)">alerts</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key} data-testid="analytics-row" data-key={r.key}>
              <td className="mono">{r.key}</td>
              <td className="num">{r.count}</td>
              <td className="num">{formatDuration(r.ttft_ms.p50)}</td>
              <td className="num">{formatDuration(r.ttft_ms.p95)}</td>
              <td className="num">{formatDuration(r.duration_ms.p50)}</td>
              <td className="num">{formatDuration(r.duration_ms.p95)}</td>
              <td className="num">{formatTokens(r.total_tokens.avg)}</td>
              <td className="num">{formatCost(r.cost_usd.sum)}</td>
              <td className={r.alerts ? 'num alert-count' : 'num'} data-testid="analytics-alerts">
                {r.alerts ?? 0}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function AnalyticsView() {
  const [since, setSince] = useState<StatsSince>('24h');
  const [by, setBy] = useState<StatsBy>('model');
  const [result, setResult] = useState<StatsResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const theme = useResolvedTheme();
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const colors = useMemo(readColors, [theme]);

  useEffect(() => {
    let live = true;
    api
      .stats(by, since, EVERY_FOR[since])
      .then((r) => {
        if (!live) return;
        setResult(r);
        setError(null);
      })
      .catch((err: unknown) => live && setError(errorText(err)));
    return () => {
      live = false;
    };
  }, [by, since]);

  const rows = result && result.by === by ? result.rows : [];
  const series = result && result.by === by && result.every ? result.series ?? [] : [];
  return (
    <div className="analytics-view" data-testid="analytics">
      <div className="analytics-controls">
        <div className="segmented" role="group" aria-label="Time window">
          {WINDOWS.map((w) => (
            <button key={w} type="button" aria-pressed={since === w} onClick={() => setSince(w)} data-testid={`window-${w}`}>
              {w}
            </button>
          ))}
        </div>
        <div className="segmented" role="group" aria-label="Group by">
          {GROUPS.map((g) => (
            <button key={g} type="button" aria-pressed={by === g} onClick={() => setBy(g)} data-testid={`by-${g}`}>
              by {g}
            </button>
          ))}
        </div>
      </div>
      {error ? <div className="note error">{error}</div> : null}
      {result && rows.length === 0 ? <div className="empty">No model calls in this window.</div> : null}
      {rows.length > 0 ? (
        <div className="analytics-grid">
          <div className="charts">
            {CHARTS.map((c) => (
              <Chart key={c.title} spec={c} rows={rows} colors={colors} />
            ))}
          </div>
          {result?.every && series.length > 0 ? (
            <div className="charts" data-testid="analytics-over-time">
              {SERIES_CHARTS.map((c) => (
                <SeriesChart key={c.title} spec={c} points={series} every={result.every ?? EVERY_FOR[since]} colors={colors} />
              ))}
            </div>
          ) : null}
          <StatsTable rows={rows} by={by} />
        </div>
      ) : null}
    </div>
  );
}
