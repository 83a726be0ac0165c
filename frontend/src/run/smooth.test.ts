import { describe, expect, it } from 'vitest';
import { boundary, MAX_HOLD_MS, SmoothedView } from './smooth';

describe('display smoothing', () => {
  it('shows text up to the last word or line boundary', () => {
    expect(boundary('Hello wor', 'word')).toBe(6);
    expect(boundary('one\ntwo three', 'line')).toBe(4);
    expect(boundary('nothing', 'line')).toBe(0);
    const view = new SmoothedView('word');
    expect(view.shown('Hel', 0)).toBe(0);
    expect(view.shown('Hello wo', 10)).toBe(6);
    expect(view.shown('Hello world, ', 20)).toBe(13);
    expect(view.deadline()).toBeNull();
  });

  it('never holds text back longer than its time', () => {
    const view = new SmoothedView('line');
    expect(view.shown('no newline', 0)).toBe(0);
    expect(view.deadline()).toBe(MAX_HOLD_MS);
    expect(view.shown('no newline yet', 50)).toBe(0);
    // The clock runs from when the held text began, not from the latest piece.
    expect(view.deadline()).toBe(MAX_HOLD_MS);
    expect(view.shown('no newline yet', MAX_HOLD_MS)).toBe(14);
    expect(view.deadline()).toBeNull();
    // What was released stays shown; text after it is held afresh.
    expect(view.shown('no newline yet, more', MAX_HOLD_MS + 10)).toBe(14);
    expect(view.deadline()).toBe(MAX_HOLD_MS * 2 + 10);
  });

  it('off shows everything at once', () => {
    expect(new SmoothedView('off').shown('Hel', 0)).toBe(3);
  });
});
