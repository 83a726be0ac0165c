// The run form's logic, kept apart from its markup so it can be tested on its own: what control
// each declared input gets, its starting value, and how typed text becomes the inputs object.
import type { Field } from '../api/types';

/** What the person typed or picked: text for most controls, a flag for checkboxes. */
export type RawValue = string | boolean;
export type RawValues = Record<string, RawValue>;

export type Control = 'select' | 'checkbox' | 'number' | 'text' | 'json';

export function controlFor(field: Field): Control {
  if (field.enum && field.enum.length > 0) return 'select';
  switch (field.type) {
    case 'boolean':
      return 'checkbox';
    case 'number':
    case 'integer':
      return 'number';
    case 'array':
    case 'object':
      return 'json';
    default:
      return 'text';
  }
}

/** Enum options are keyed by their JSON so that non-string values survive the round trip. */
export const enumKey = (value: unknown): string => JSON.stringify(value) ?? 'null';

export const enumLabel = (value: unknown): string => (typeof value === 'string' ? value : enumKey(value));

export function initialValue(field: Field): RawValue {
  const d = field.default;
  const control = controlFor(field);
  if (control === 'checkbox') return d === true;
  if (d === undefined || d === null) {
    // A required enum starts on its first option; an optional one on "not set".
    if (control === 'select' && field.required && field.enum) return enumKey(field.enum[0]);
    return '';
  }
  switch (control) {
    case 'select':
      return enumKey(d);
    case 'json':
      return JSON.stringify(d, null, 2);
    default:
      return typeof d === 'string' ? d : String(d);
  }
}

export function initialValues(fields: Field[]): RawValues {
  return Object.fromEntries(fields.map((f) => [f.name, initialValue(f)]));
}

/** Keep what was typed for fields that still exist with the same type; start new ones fresh. */
export function carryOver(prevFields: Field[], prev: RawValues, next: Field[]): RawValues {
  const before = new Map(prevFields.map((f) => [f.name, f]));
  const out: RawValues = {};
  for (const f of next) {
    const old = before.get(f.name);
    const value = prev[f.name];
    out[f.name] =
      old && value !== undefined && controlFor(old) === controlFor(f) && old.type === f.type
        ? value
        : initialValue(f);
  }
  return out;
}

export interface BuiltInputs {
  inputs: Record<string, unknown>;
  errors: Record<string, string>;
}

function parseOne(field: Field, raw: RawValue | undefined): { value?: unknown; error?: string } {
  const control = controlFor(field);
  if (control === 'checkbox') return { value: raw === true };
  const text = typeof raw === 'string' ? raw : '';
  if (text.trim() === '') return field.required ? { error: 'Required' } : {};
  switch (control) {
    case 'select': {
      const match = field.enum?.find((v) => enumKey(v) === text);
      return match === undefined ? { error: 'Pick one of the options' } : { value: match };
    }
    case 'number': {
      const n = Number(text.trim());
      if (!Number.isFinite(n)) return { error: 'Not a number' };
      if (field.type === 'integer' && !Number.isInteger(n)) return { error: 'Must be a whole number' };
      return { value: n };
    }
    case 'json': {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        return { error: `Not valid JSON (${field.type === 'array' ? 'e.g. ["a", "b"]' : 'e.g. {"key": "value"}'})` };
      }
      if (field.type === 'array' && !Array.isArray(v)) return { error: 'Must be a JSON array' };
      if (field.type === 'object' && (typeof v !== 'object' || v === null || Array.isArray(v)))
        return { error: 'Must be a JSON object' };
      return { value: v };
    }
    default:
      return { value: text };
  }
}

/** The inputs object to send, or the errors to show beside each field. */
export function buildInputs(fields: Field[], raw: RawValues): BuiltInputs {
  const inputs: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const { value, error } = parseOne(field, raw[field.name]);
    if (error) errors[field.name] = error;
    else if (value !== undefined) inputs[field.name] = value;
  }
  return { inputs, errors };
}
