import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../generated/events';
import { LogGroup } from './FeedItems';

function log(seq: number, source: string | null, level: LogEvent['level'] = 'warn'): LogEvent {
  return { type: 'log', run_id: 'r', seq, ts: '2026-01-05T12:00:00Z', level, message: `line ${seq}`, fields: {}, source };
}

describe('log lines', () => {
  it('marks alerts and counts them', () => {
    render(<LogGroup lines={[log(1, 'alert'), log(2, null, 'info'), log(3, 'alert')]} />);
    expect(screen.getByTestId('alert-badge').textContent).toContain('2 alerts');
    expect(screen.getAllByTestId('alert-line')).toHaveLength(2);
  });
});
