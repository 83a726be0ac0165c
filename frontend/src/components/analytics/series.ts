// Time series from `GET /api/stats?every=`: points per key and bucket, pivoted into rows per
// bucket with one column per key and statistic, which is the shape a line chart draws.
import type { SeriesPoint, StatsEvery, StatsSince } from '../../api/types';

/** The bucket width the view asks for in each window: a few dozen points at most. */
export const EVERY_FOR: Record<StatsSince, StatsEvery> = { '1h': '5m', '24h': '1h', '7d': '6h', '30d': '1d', all: '1d' };

export type SeriesStat = 'p50' | 'p95';
export const SERIES_STATS: readonly SeriesStat[] = ['p50', 'p95'];

export interface SeriesRow {
  /** The bucket's start, in ms since the epoch. */
  t: number;
  [column: string]: number | null;
}

export interface PivotedSeries {
  keys: string[];
  rows: SeriesRow[];
}

export function column(key: string, stat: SeriesStat): string {
  return `${key} ${stat}`;
}

/** One row per bucket (in time order), with `column(key, stat)` for every key seen; a key with
 * no point in a bucket has null there, so its line has a gap rather than a made-up value. */
export function pivotSeries(points: SeriesPoint[], pick: (p: SeriesPoint) => Record<SeriesStat, number | null>): PivotedSeries {
  const keys = [...new Set(points.map((p) => p.key))].sort();
  const byTime = new Map<number, SeriesRow>();
  for (const point of points) {
    const t = Date.parse(point.start);
    if (Number.isNaN(t)) continue;
    let row = byTime.get(t);
    if (!row) {
      row = { t };
      for (const key of keys) for (const stat of SERIES_STATS) row[column(key, stat)] = null;
      byTime.set(t, row);
    }
    const values = pick(point);
    for (const stat of SERIES_STATS) row[column(point.key, stat)] = values[stat];
  }
  return { keys, rows: [...byTime.values()].sort((a, b) => a.t - b.t) };
}

/** A bucket's start as the axis shows it: the time within a day, the date beyond. */
export function formatBucket(t: number, every: StatsEvery): string {
  const d = new Date(t);
  const pad = (n: number) => String(n).padStart(2, '0');
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  switch (every) {
    case '1m':
    case '5m':
    case '1h':
      return time;
    case '6h':
      return `${day.slice(5)} ${time}`;
    case '1d':
      return day;
  }
}
