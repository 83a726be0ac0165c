import type { ErrorInfo } from '../../generated/events';

export function errorLocation(e: ErrorInfo): string | null {
  if (!e.file) return null;
  return e.line != null ? `${e.file}:${e.line}` : e.file;
}

export function ErrorBox({ error }: { error: ErrorInfo }) {
  const loc = errorLocation(error);
  return (
    <div className="error-box" role="alert" data-testid="error-box">
      <div>
        {loc ? (
          <span className="loc" data-testid="error-location">
            {loc}
          </span>
        ) : null}
        {loc ? ' · ' : null}
        <span className="mono">{error.kind}</span>: {error.message}
      </div>
      {error.hint ? <div className="hint">{error.hint}</div> : null}
    </div>
  );
}
