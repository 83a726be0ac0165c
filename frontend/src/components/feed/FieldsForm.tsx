import { useState } from 'react';
import type { HumanField } from '../../generated/events';
import {
  answerOf,
  assertNever,
  fieldKind,
  fieldProblems,
  initialValues,
  isSeveral,
  optionLabel,
  optionValue,
  REVIEW_DECISIONS,
  type FieldProblems,
  type FieldValues,
} from '../../run/fields';

interface Props {
  fields: HumanField[];
  busy: boolean;
  /** Problems the server found with the last answer, by field id. */
  refused: FieldProblems;
  onAnswer: (value: FieldValues) => void;
}

/** Every field of a `multiple` request in one form, sent as one answer by one Submit. */
export function FieldsForm({ fields, busy, refused, onAnswer }: Props) {
  const [values, setValues] = useState<FieldValues>(() => initialValues(fields));
  const [missing, setMissing] = useState<FieldProblems>({});
  const set = (id: string, value: unknown) => {
    setValues((current) => ({ ...current, [id]: value }));
    setMissing(({ [id]: _, ...rest }) => rest);
  };
  const problems = { ...refused, ...missing };
  return (
    <form
      className="request-fields"
      data-testid="request-fields"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const found = fieldProblems(fields, values);
        setMissing(found);
        if (Object.keys(found).length === 0) onAnswer(answerOf(fields, values));
      }}
    >
      {fields.map((field) => (
        <fieldset key={field.id} className="request-field" data-testid="request-field" data-field={field.id}>
          <legend>
            {field.label || field.id}
            {field.required === false ? <span className="faint"> (optional)</span> : null}
          </legend>
          {field.message && field.message !== field.label ? <div className="faint">{field.message}</div> : null}
          <FieldInput field={field} value={values[field.id]} busy={busy} onChange={(v) => set(field.id, v)} />
          {problems[field.id] ? (
            <div className="sev-error" role="alert" data-testid="field-problem">
              {field.label || field.id} {problems[field.id]}
            </div>
          ) : null}
        </fieldset>
      ))}
      <div className="request-controls">
        <button type="submit" className="btn primary" disabled={busy} data-testid="request-submit">
          Submit
        </button>
      </div>
    </form>
  );
}

function FieldInput({ field, value, busy, onChange }: { field: HumanField; value: unknown; busy: boolean; onChange: (value: unknown) => void }) {
  const kind = fieldKind(field);
  const label = field.message || field.label || field.id;
  switch (kind) {
    case 'approve':
      return (
        <div className="request-controls" role="radiogroup" aria-label={label}>
          {[true, false].map((choice) => (
            <button
              key={String(choice)}
              type="button"
              role="radio"
              aria-checked={value === choice}
              className={value === choice ? 'btn primary' : 'btn'}
              disabled={busy}
              onClick={() => onChange(choice)}
              data-testid={choice ? 'field-approve' : 'field-reject'}
            >
              {choice ? 'Approve' : 'Reject'}
            </button>
          ))}
        </div>
      );
    case 'input':
      return (
        <input
          className="request-input"
          value={typeof value === 'string' ? value : ''}
          onChange={(e) => onChange(e.target.value)}
          disabled={busy}
          aria-label={label}
          data-testid="field-input"
        />
      );
    case 'select': {
      const options = field.options ?? [];
      if (isSeveral(field)) {
        const chosen = Array.isArray(value) ? value : [];
        return (
          <div className="request-controls" role="group" aria-label={label}>
            {options.map((option, i) => {
              const optionVal = optionValue(option);
              const checked = chosen.some((c) => JSON.stringify(c) === JSON.stringify(optionVal));
              return (
                <label key={i} className="request-option">
                  <input
                    type="checkbox"
                    checked={checked}
                    disabled={busy}
                    onChange={() => onChange(checked ? chosen.filter((c) => JSON.stringify(c) !== JSON.stringify(optionVal)) : [...chosen, optionVal])}
                    data-testid="field-option"
                  />
                  {optionLabel(option)}
                </label>
              );
            })}
          </div>
        );
      }
      const index = options.findIndex((option) => JSON.stringify(optionValue(option)) === JSON.stringify(value));
      return (
        <select
          value={index < 0 ? '' : String(index)}
          onChange={(e) => onChange(e.target.value === '' ? undefined : optionValue(options[Number(e.target.value)]))}
          disabled={busy}
          aria-label={label}
          data-testid="field-select"
        >
          <option value="">Choose…</option>
          {options.map((option, i) => (
            <option key={i} value={String(i)}>
              {optionLabel(option)}
            </option>
          ))}
        </select>
      );
    }
    case 'review': {
      const review = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
      const decision = typeof review.decision === 'string' ? review.decision : '';
      const feedback = typeof review.feedback === 'string' ? review.feedback : '';
      const update = (next: { decision?: string; feedback?: string }) => onChange({ decision, feedback, ...next });
      return (
        <div className="request-controls column">
          <select value={decision} onChange={(e) => update({ decision: e.target.value })} disabled={busy} aria-label={label} data-testid="field-decision">
            <option value="">Choose…</option>
            {REVIEW_DECISIONS.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
          <textarea value={feedback} onChange={(e) => update({ feedback: e.target.value })} rows={2} disabled={busy} aria-label="Feedback" placeholder="Feedback (optional)" data-testid="field-feedback" />
        </div>
      );
    }
    default:
      return assertNever(kind);
  }
}

