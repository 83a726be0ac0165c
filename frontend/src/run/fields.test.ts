import { describe, expect, it } from 'vitest';
import type { HumanField } from '../generated/events';
import { answerOf, fieldProblems, initialValues, optionLabel, optionValue } from './fields';

const FIELDS: HumanField[] = [
  { id: 'target', type: 'select', options: ['staging', { label: 'Production', value: 'prod' }] },
  { id: 'tags', type: 'select', mode: 'multiple', options: ['a', 'b'], required: false },
  { id: 'confirm', type: 'approve' },
  { id: 'tone', type: 'input', default: 'calm' },
  { id: 'notes', required: false },
  { id: 'verdict', type: 'review' },
];

describe('fields of a multiple request', () => {
  it('start from their defaults, with nothing chosen otherwise', () => {
    expect(initialValues(FIELDS)).toEqual({ target: undefined, tags: [], confirm: undefined, tone: 'calm', notes: '', verdict: undefined });
  });

  it('name the required fields left blank, a review without a decision included', () => {
    const values = { ...initialValues(FIELDS), verdict: { decision: '', feedback: 'meh' } };
    expect(fieldProblems(FIELDS, values)).toEqual({ target: 'is required', confirm: 'is required', verdict: 'is required' });
    const filled = { ...values, target: 'prod', confirm: false, verdict: { decision: 'Edit', feedback: 'shorter' } };
    expect(fieldProblems(FIELDS, filled)).toEqual({});
  });

  it('answer once, leaving blank optional fields out and keeping false', () => {
    const values = { ...initialValues(FIELDS), target: 'prod', confirm: false, verdict: { decision: 'Approve', feedback: '' } };
    expect(answerOf(FIELDS, values)).toEqual({ target: 'prod', confirm: false, tone: 'calm', verdict: { decision: 'Approve', feedback: '' } });
  });

  it('read options as values and labels', () => {
    expect(optionValue({ label: 'Production', value: 'prod' })).toBe('prod');
    expect(optionValue({ label: 'Only a label' })).toBe('Only a label');
    expect(optionValue(3)).toBe(3);
    expect(optionLabel({ label: 'Production', value: 'prod' })).toBe('Production');
    expect(optionLabel({ value: 7 })).toBe('7');
    expect(optionLabel('staging')).toBe('staging');
  });
});
