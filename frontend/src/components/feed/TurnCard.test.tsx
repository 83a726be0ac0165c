import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventFactory } from '../../test/events';
import { useRunStore } from '../../state/runStore';
import { useSettings } from '../../state/settings';
import { MAX_HOLD_MS } from '../../run/smooth';
import { TurnCard } from './TurnCard';

function stream(...pieces: string[]): void {
  const f = new EventFactory('run-smooth');
  const { dispatch } = useRunStore.getState();
  dispatch({ type: 'reset', runId: 'run-smooth' });
  dispatch({ type: 'events', events: [f.started(), f.turn('w', 1, 'started'), ...pieces.map((p) => f.chunk('w', 1, p))] });
}

// jsdom has no layout: the card's stick-to-bottom observer has nothing to watch.
class NoResizeObserver {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}

const shown = () => screen.getByTestId('turn-text').textContent ?? '';

describe('smoothing in the turn card', () => {
  beforeEach(() => {
    vi.stubGlobal('ResizeObserver', NoResizeObserver);
    vi.useFakeTimers();
  });
  afterEach(() => {
    cleanup();
    vi.useRealTimers();
    vi.unstubAllGlobals();
    act(() => useSettings.getState().setSmoothing('off'));
  });

  it('shows live text up to its last word, and the rest once its time is up', () => {
    act(() => useSettings.getState().setSmoothing('word'));
    stream('Hello wo');
    render(<TurnCard id="w#1" />);
    expect(shown()).toContain('Hello');
    expect(shown()).not.toContain('wo');
    act(() => {
      vi.advanceTimersByTime(MAX_HOLD_MS + 1);
    });
    expect(shown()).toContain('Hello wo');
    // The store keeps the chunks as they came.
    expect(useRunStore.getState().feed.turns['w#1']?.text).toBe('Hello wo');
  });

  it('off shows every piece at once', () => {
    stream('Hello wo');
    render(<TurnCard id="w#1" />);
    expect(shown()).toContain('Hello wo');
  });
});
