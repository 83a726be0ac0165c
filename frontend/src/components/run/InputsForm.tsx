import type { Field } from '../../api/types';
import { controlFor, enumKey, enumLabel, type RawValue } from '../../inputs/schema';

interface Props {
  fields: Field[];
  values: Record<string, RawValue>;
  errors: Record<string, string>;
  onChange: (name: string, value: RawValue) => void;
}

function FieldControl({ field, value, error, onChange }: { field: Field; value: RawValue | undefined; error?: string; onChange: (v: RawValue) => void }) {
  const id = `input-${field.name}`;
  const describedBy = [field.description ? `${id}-help` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name: field.name,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': describedBy,
    'aria-required': field.required || undefined,
    'data-testid': `input-${field.name}`,
  } as const;
  const text = typeof value === 'string' ? value : '';
  switch (controlFor(field)) {
    case 'checkbox':
      return (
        <div className="checkbox-row">
          <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
        </div>
      );
    case 'select':
      return (
        <select {...common} value={text} onChange={(e) => onChange(e.target.value)}>
          {field.required ? null : <option value="">— not set —</option>}
          {(field.enum ?? []).map((v) => (
            <option key={enumKey(v)} value={enumKey(v)}>
              {enumLabel(v)}
            </option>
          ))}
        </select>
      );
    case 'number':
      return (
        <input
          {...common}
          type="number"
          inputMode={field.type === 'integer' ? 'numeric' : 'decimal'}
          step={field.type === 'integer' ? 1 : 'any'}
          value={text}
          onChange={(e) => onChange(e.target.value)}
        />
      );
    case 'json':
      return (
        <textarea
          {...common}
          rows={Math.min(6, Math.max(2, text.split('\n').length))}
          spellCheck={false}
          placeholder={field.type === 'array' ? '["…"]' : '{"key": "value"}'}
          value={text}
          onChange={(e) => onChange(e.target.value)}
        />
      );
    default:
      return <input {...common} type="text" value={text} onChange={(e) => onChange(e.target.value)} />;
  }
}

/** The form generated from the procedure's declared inputs. */
export function InputsForm({ fields, values, errors, onChange }: Props) {
  if (fields.length === 0) return <div className="muted" style={{ fontSize: 12 }}>This procedure declares no inputs.</div>;
  return (
    <div className="inputs-grid" data-testid="inputs-form">
      {fields.map((f) => (
        <FieldRow key={f.name} field={f} value={values[f.name]} error={errors[f.name]} onChange={(v) => onChange(f.name, v)} />
      ))}
    </div>
  );
}

function FieldRow({ field, value, error, onChange }: { field: Field; value: RawValue | undefined; error: string | undefined; onChange: (v: RawValue) => void }) {
  const id = `input-${field.name}`;
  return (
    <>
      <label htmlFor={id}>
        {field.name}
        {field.required ? (
          <span className="req" aria-hidden="true">
            *
          </span>
        ) : null}
        <span className="type">{field.type}</span>
      </label>
      <div>
        <FieldControl field={field} value={value} error={error} onChange={onChange} />
        {field.description ? (
          <div className="field-help" id={`${id}-help`}>
            {field.description}
          </div>
        ) : null}
        {error ? (
          <div className="field-error" id={`${id}-error`} role="alert">
            {error}
          </div>
        ) : null}
      </div>
    </>
  );
}
