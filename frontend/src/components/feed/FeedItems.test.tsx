import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/react';
import { EventFactory } from '../../test/events';
import { ValidationItem } from './FeedItems';
import { CostFooter } from './TurnCard';

describe('ValidationItem', () => {
  it('shows an attempt that was asked again as a retry, not as the failure', () => {
    const events = new EventFactory();
    const retried = { ...events.validation(false, [{ path: 'title', message: 'Field required' }]), attempt: 1, retried: true };
    const { container } = render(<ValidationItem event={retried} />);
    expect(container.textContent).toContain('attempt 1');
    expect(container.textContent).toContain('asked again');
    expect(container.textContent).toContain('Field required');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('shows the last failed attempt as the failure', () => {
    const events = new EventFactory();
    render(<ValidationItem event={events.validation(false, [{ path: 'title', message: 'Field required' }])} />);
    expect(screen.getByRole('alert').textContent).toContain('does not match its schema');
  });
});

describe('CostFooter', () => {
  const cost = {
    model: 'scripted/default', provider: 'scripted', promptTokens: 10, completionTokens: 300, totalTokens: 310,
    costUsd: 0, durationMs: 1000, ttftMs: 50, firstVisibleMs: 50, cached: false, llmCalls: 1, usageEstimated: false, streamed: true,
  };

  it('says when the tokens are an estimate and when the answer did not stream', () => {
    const { rerender } = render(<CostFooter cost={cost} durationMs={null} />);
    expect(screen.queryByTestId('usage-estimated')).toBeNull();
    expect(screen.queryByTestId('not-streamed')).toBeNull();
    rerender(<CostFooter cost={{ ...cost, usageEstimated: true, streamed: false }} durationMs={null} />);
    expect(screen.getByTestId('usage-estimated').textContent).toBe('estimated');
    expect(screen.getByTestId('not-streamed')).toBeTruthy();
  });

  it('shows when the first text came after tool rounds', () => {
    const { rerender } = render(<CostFooter cost={cost} durationMs={null} />);
    expect(screen.queryByTestId('first-visible')).toBeNull();
    rerender(<CostFooter cost={{ ...cost, firstVisibleMs: 2400 }} durationMs={null} />);
    expect(screen.getByTestId('first-visible').textContent).toContain('first text');
  });
});
