import { describe, expect, it } from 'vitest';
import type { SeriesPoint } from '../../api/types';
import { column, EVERY_FOR, formatBucket, pivotSeries } from './series';

function point(key: string, start: string, ttft: [number | null, number | null]): SeriesPoint {
  return { key, start, count: 1, ttft_ms: { p50: ttft[0], p95: ttft[1] }, cost_usd: { p50: 0.1, p95: 0.2, sum: 0.3 } };
}

describe('pivotSeries', () => {
  it('makes one row per bucket in time order, a column per key and statistic', () => {
    const points = [
      point('m/b', '2026-01-05T13:00:00+00:00', [7, 9]),
      point('m/a', '2026-01-05T12:00:00+00:00', [30, 50]),
      point('m/a', '2026-01-05T13:00:00+00:00', [100, 300]),
    ];
    const { keys, rows } = pivotSeries(points, (p) => ({ p50: p.ttft_ms.p50, p95: p.ttft_ms.p95 }));
    expect(keys).toEqual(['m/a', 'm/b']);
    expect(rows.map((r) => r.t)).toEqual([Date.parse('2026-01-05T12:00:00Z'), Date.parse('2026-01-05T13:00:00Z')]);
    expect(rows[0]).toMatchObject({ [column('m/a', 'p50')]: 30, [column('m/a', 'p95')]: 50 });
    // m/b has no point in the first bucket: a gap, not a zero.
    expect(rows[0]?.[column('m/b', 'p50')]).toBeNull();
    expect(rows[1]).toMatchObject({ [column('m/a', 'p95')]: 300, [column('m/b', 'p50')]: 7 });
  });

  it('picks any statistic and skips points without a time', () => {
    const points = [point('m', 'not a time', [1, 2]), point('m', '2026-01-05T12:00:00Z', [1, 2])];
    const { rows } = pivotSeries(points, (p) => ({ p50: p.cost_usd.p50, p95: p.cost_usd.p95 }));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.[column('m', 'p95')]).toBe(0.2);
  });
});

describe('buckets', () => {
  it('chooses a width per window and labels buckets by it', () => {
    expect(EVERY_FOR['24h']).toBe('1h');
    expect(EVERY_FOR.all).toBe('1d');
    const t = new Date(2026, 0, 5, 14, 30).getTime();
    expect(formatBucket(t, '1h')).toBe('14:30');
    expect(formatBucket(t, '6h')).toBe('01-05 14:30');
    expect(formatBucket(t, '1d')).toBe('2026-01-05');
  });
});
