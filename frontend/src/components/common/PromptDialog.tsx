import { useEffect, useRef, useState } from 'react';

interface Props {
  title: string;
  label: string;
  initial: string;
  confirm: string;
  danger?: boolean;
  /** Without an input: a yes/no confirmation. */
  noInput?: boolean;
  validate?: (value: string) => string | null;
  onSubmit: (value: string) => void;
  onClose: () => void;
}

/** A modal built on <dialog>, which traps focus and closes on Escape by itself. */
export function PromptDialog({ title, label, initial, confirm, danger, noInput, validate, onSubmit, onClose }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const [value, setValue] = useState(initial);
  const error = noInput ? null : (validate?.(value) ?? null);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (!d.open) d.showModal();
    const el = input.current;
    if (el) {
      el.focus();
      // Select the name without its extension, as file managers do.
      const dot = el.value.lastIndexOf('.');
      const slash = el.value.lastIndexOf('/');
      el.setSelectionRange(slash + 1, dot > slash ? dot : el.value.length);
    }
  }, []);

  return (
    <dialog ref={ref} className="prompt" onClose={onClose} onCancel={onClose} data-testid="prompt-dialog">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (error) return;
          onSubmit(value.trim());
          ref.current?.close();
        }}
      >
        <h2>{title}</h2>
        {noInput ? (
          <p>{label}</p>
        ) : (
          <label>
            <span className="muted" style={{ display: 'block', marginBottom: 4 }}>
              {label}
            </span>
            <input
              ref={input}
              type="text"
              value={value}
              onChange={(e) => setValue(e.target.value)}
              aria-invalid={error ? true : undefined}
              spellCheck={false}
              className="mono"
              data-testid="prompt-input"
            />
          </label>
        )}
        {error && value !== initial ? <div className="field-error">{error}</div> : null}
        <div className="actions">
          <button type="button" className="btn" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="submit" className={danger ? 'btn danger' : 'btn primary'} disabled={!!error} data-testid="prompt-confirm" autoFocus={noInput}>
            {confirm}
          </button>
        </div>
      </form>
    </dialog>
  );
}
