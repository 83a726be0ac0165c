import { describe, expect, it } from 'vitest';
import { formatCost, formatDuration, formatRate, formatTokens, tokensPerSecond } from './format';

describe('metric formatting', () => {
  it('computes tokens per second over generation time', () => {
    // 100 tokens in 2.5 s, of which 0.5 s waiting for the first token → 50 tok/s.
    expect(tokensPerSecond(100, 2500, 500)).toBe(50);
    expect(tokensPerSecond(100, 2000, null)).toBe(50);
    // A TTFT as long as the whole call leaves no generation time to divide by: use the duration.
    expect(tokensPerSecond(100, 2000, 2000)).toBe(50);
    expect(tokensPerSecond(0, 2000, 100)).toBeNull();
    expect(tokensPerSecond(10, 0, null)).toBeNull();
    expect(tokensPerSecond(null, 1000)).toBeNull();
    expect(formatRate(50)).toBe('50.0 tok/s');
    expect(formatRate(212.4)).toBe('212 tok/s');
    expect(formatRate(null)).toBe('—');
  });

  it('formats cost by magnitude', () => {
    expect(formatCost(0)).toBe('$0');
    expect(formatCost(0.00001234)).toBe('$1.2e-5');
    expect(formatCost(0.0012)).toBe('$0.0012');
    expect(formatCost(0.125)).toBe('$0.125');
    expect(formatCost(12.3456)).toBe('$12.35');
    expect(formatCost(undefined)).toBe('—');
  });

  it('formats durations', () => {
    expect(formatDuration(0.5)).toBe('0.50 ms');
    expect(formatDuration(450)).toBe('450 ms');
    expect(formatDuration(1234)).toBe('1.23 s');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(125_000)).toBe('2m 5s');
    expect(formatDuration(3_725_000)).toBe('1h 2m');
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(Number.NaN)).toBe('—');
  });

  it('formats token counts', () => {
    expect(formatTokens(999)).toBe('999');
    expect(formatTokens(1234)).toBe('1.2k');
    expect(formatTokens(50_000)).toBe('50k');
    expect(formatTokens(2_500_000)).toBe('2.50M');
  });
});
