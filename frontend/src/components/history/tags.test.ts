import { describe, expect, it } from 'vitest';
import { parseTagFilter } from './HistoryView';

describe('the history tag filter', () => {
  it('keeps key=value words and drops the rest', () => {
    expect(parseTagFilter(' team=search  env=prod ')).toEqual(['team=search', 'env=prod']);
    expect(parseTagFilter('half =x note=a=b')).toEqual(['note=a=b']);
    expect(parseTagFilter('')).toEqual([]);
  });
});
