import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, waitFor } from '@testing-library/react';
import { api } from '../../api/client';
import type { RunDetail } from '../../api/types';
import { useRunStore } from '../../state/runStore';
import { emptyFeed } from '../../run/feed';
import { ResumeButton } from './Feed';

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function detail(fields: Partial<RunDetail>): RunDetail {
  return {
    id: 'run-1', procedure: 'p.tac', status: 'failed', inputs: {}, model: null, started_at: null,
    finished_at: null, duration_ms: null, cost_usd: 0, total_tokens: 0, agent_turns: 0,
    error: null, pending: [], resumable: false, output: null, partial_text: null, totals: null,
    ...fields,
  } as RunDetail;
}

function showFailed(run: RunDetail) {
  const getRun = vi.spyOn(api, 'getRun').mockResolvedValue(run);
  useRunStore.setState({ feed: { ...emptyFeed('run-1'), status: 'failed' } });
  render(<ResumeButton />);
  return getRun;
}

describe('ResumeButton', () => {
  it('offers Resume for a run whose executor died, as the API says', async () => {
    const error = { kind: 'executor', message: "the run's process ended before the run did" };
    const getRun = showFailed(detail({ error, resumable: true }));
    await screen.findByTestId('resume-button');
    expect(getRun).toHaveBeenCalledWith('run-1');
    expect(screen.getByTestId('resumable-kind').textContent).toBe('executor');
  });

  it('offers nothing for a failure the API says cannot be resumed, whatever its kind', async () => {
    // An interrupted-looking record the runtime refuses (it stopped before it started).
    const error = { kind: 'interrupted', message: 'the process running this run stopped' };
    const getRun = showFailed(detail({ error, resumable: false }));
    await waitFor(() => expect(getRun).toHaveBeenCalled());
    await Promise.resolve();
    expect(screen.queryByTestId('resume-button')).toBeNull();
  });
});
