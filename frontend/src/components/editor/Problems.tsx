import type { Diagnostic } from '../../api/types';
import { editorBridge } from './bridge';

export function Problems({ diagnostics, pending }: { diagnostics: Diagnostic[]; pending: boolean }) {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  return (
    <section className="problems" aria-label="Problems" data-testid="problems">
      <div className="panel-title">
        <span>Problems</span>
        {errors > 0 ? <span className="badge error">{errors} error{errors === 1 ? '' : 's'}</span> : null}
        {warnings > 0 ? <span className="badge warning">{warnings} warning{warnings === 1 ? '' : 's'}</span> : null}
        {errors === 0 && warnings === 0 && !pending ? (
          <span className="badge ok" data-testid="problems-ok">
            valid
          </span>
        ) : null}
        {pending ? <span className="faint">checking…</span> : null}
      </div>
      <ul>
        {diagnostics.map((d, i) => (
          <li key={i}>
            <button type="button" className="problem" onClick={() => editorBridge.goto(d.line, d.column)} data-testid="diagnostic" data-line={d.line} data-column={d.column} data-severity={d.severity}>
              <span className={d.severity === 'error' ? 'sev-error' : 'sev-warning'} aria-label={d.severity}>
                {d.severity === 'error' ? '✕' : '⚠'}
              </span>
              <span className="where">
                {d.line}:{d.column}
              </span>
              <span>
                {d.message}
                {d.hint ? <span className="hint">{d.hint}</span> : null}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
