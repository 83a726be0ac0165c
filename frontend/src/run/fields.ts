// The fields of a `multiple` request (Human.multiple / Human.inputs): what the form starts
// with, what it lacks before it may be sent, and the one answer it sends (an object keyed by
// field id). The server checks the answer the same way and names the fields it refuses.
import type { HumanField } from '../generated/events';

export type FieldKind = NonNullable<HumanField['type']>;
export type FieldValues = Record<string, unknown>;
export type FieldProblems = Record<string, string>;

export const REVIEW_DECISIONS = ['Approve', 'Edit', 'Reject'] as const;

export function fieldKind(field: HumanField): FieldKind {
  return field.type ?? 'input';
}

export function isSeveral(field: HumanField): boolean {
  return fieldKind(field) === 'select' && field.mode === 'multiple';
}

/** What choosing an option answers: the option itself, or a table's `value` (else its `label`). */
export function optionValue(option: unknown): unknown {
  if (option !== null && typeof option === 'object' && !Array.isArray(option)) {
    const table = option as Record<string, unknown>;
    return 'value' in table ? table.value : table.label;
  }
  return option;
}

export function optionLabel(option: unknown): string {
  if (option !== null && typeof option === 'object' && !Array.isArray(option)) {
    const table = option as Record<string, unknown>;
    const shown = table.label ?? table.value;
    return typeof shown === 'string' ? shown : JSON.stringify(shown);
  }
  return typeof option === 'string' ? option : JSON.stringify(option);
}

function empty(field: HumanField): unknown {
  const kind = fieldKind(field);
  switch (kind) {
    case 'input':
      return '';
    case 'select':
      return isSeveral(field) ? [] : undefined;
    case 'approve':
    case 'review':
      return undefined;
    default:
      return assertNever(kind);
  }
}

/** The form's first values: each field's default, else nothing chosen yet. */
export function initialValues(fields: HumanField[]): FieldValues {
  const values: FieldValues = {};
  for (const field of fields) values[field.id] = field.default ?? empty(field);
  return values;
}

function isBlank(field: HumanField, value: unknown): boolean {
  if (fieldKind(field) === 'review') {
    const decision = value !== null && typeof value === 'object' ? (value as Record<string, unknown>).decision : undefined;
    return typeof decision !== 'string' || decision === '';
  }
  return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

/** Fields the form cannot send yet: required ones left blank. */
export function fieldProblems(fields: HumanField[], values: FieldValues): FieldProblems {
  const problems: FieldProblems = {};
  for (const field of fields) {
    if (field.required !== false && isBlank(field, values[field.id])) problems[field.id] = 'is required';
  }
  return problems;
}

/** The one answer: every field that has a value (blank optional fields are left out). */
export function answerOf(fields: HumanField[], values: FieldValues): FieldValues {
  const answer: FieldValues = {};
  for (const field of fields) {
    const value = values[field.id];
    if (!isBlank(field, value)) answer[field.id] = value;
  }
  return answer;
}

/** A compile-time check that a switch over field types handles every one. */
export function assertNever(value: never): never {
  throw new Error(`unhandled field type: ${JSON.stringify(value)}`);
}
