import { describe, expect, it } from 'vitest';
import type { Field } from '../api/types';
import { buildInputs, carryOver, controlFor, enumKey, initialValues } from './schema';

const fields: Field[] = [
  { name: 'topic', type: 'string', required: true, description: 'What to write about' },
  { name: 'tone', type: 'string', required: false, enum: ['formal', 'casual'], default: 'casual' },
  { name: 'level', type: 'integer', required: false, enum: [1, 2, 3] },
  { name: 'words', type: 'integer', required: false, default: 300 },
  { name: 'temperature', type: 'number', required: false },
  { name: 'draft', type: 'boolean', required: false, default: true },
  { name: 'tags', type: 'array', required: false, default: ['a'] },
  { name: 'meta', type: 'object', required: true },
];

describe('inputs form schema', () => {
  it('picks a control per type, with enums as selects', () => {
    expect(fields.map(controlFor)).toEqual(['text', 'select', 'select', 'number', 'number', 'checkbox', 'json', 'json']);
  });

  it('starts from the declared defaults', () => {
    expect(initialValues(fields)).toEqual({
      topic: '',
      tone: enumKey('casual'),
      level: '',
      words: '300',
      temperature: '',
      draft: true,
      tags: '[\n  "a"\n]',
      meta: '',
    });
  });

  it('requires required fields and omits empty optional ones', () => {
    const { inputs, errors } = buildInputs(fields, initialValues(fields));
    expect(errors).toEqual({ topic: 'Required', meta: 'Required' });
    expect(inputs).toEqual({ tone: 'casual', words: 300, draft: true, tags: ['a'] });
  });

  it('converts and checks typed values', () => {
    const raw = {
      ...initialValues(fields),
      topic: 'tides',
      level: enumKey(2),
      words: '12.5',
      temperature: '0.7',
      tags: '{"not": "an array"}',
      meta: '{"k": 1}',
    };
    const { inputs, errors } = buildInputs(fields, raw);
    expect(errors).toEqual({ words: 'Must be a whole number', tags: 'Must be a JSON array' });
    expect(inputs).toMatchObject({ topic: 'tides', level: 2, temperature: 0.7, meta: { k: 1 } });
    expect(buildInputs(fields, { ...raw, temperature: 'warm' }).errors.temperature).toBe('Not a number');
    expect(buildInputs(fields, { ...raw, meta: '{oops' }).errors.meta).toMatch(/Not valid JSON/);
  });

  it('starts a required enum without default on its first option', () => {
    const f: Field[] = [{ name: 'mode', type: 'string', required: true, enum: ['fast', 'slow'] }];
    expect(buildInputs(f, initialValues(f)).inputs).toEqual({ mode: 'fast' });
  });

  it('keeps typed values across re-validation when the field is unchanged', () => {
    const next: Field[] = [
      { name: 'topic', type: 'string', required: true },
      { name: 'words', type: 'number', required: false, default: 5 },
    ];
    expect(carryOver(fields, { ...initialValues(fields), topic: 'kept', words: '42' }, next)).toEqual({ topic: 'kept', words: '5' });
  });
});
