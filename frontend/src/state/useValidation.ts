import { useEffect } from 'react';
import { api } from '../api/client';
import { useWorkspace } from './workspace';

const DEBOUNCE_MS = 300;

/** Validate the open file as it is typed: debounced, and stale answers are never shown. */
export function useValidation(path: string | null, source: string | undefined): void {
  const setValidation = useWorkspace((s) => s.setValidation);
  useEffect(() => {
    if (path === null || source === undefined) return;
    const current = useWorkspace.getState().validation[path];
    if (current && current.source === source) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api
        .validate(source, path, controller.signal)
        .then((res) => {
          if (controller.signal.aborted) return;
          setValidation(path, { source, ok: res.ok, diagnostics: res.diagnostics ?? [], procedure: res.procedure ?? null });
        })
        .catch((err: unknown) => {
          if (controller.signal.aborted) return;
          const message = err instanceof Error ? err.message : String(err);
          setValidation(path, {
            source,
            ok: false,
            diagnostics: [{ severity: 'error', message: `Validation unavailable: ${message}`, line: 1, column: 1 }],
            procedure: useWorkspace.getState().validation[path]?.procedure ?? null,
          });
        });
    }, DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [path, source, setValidation]);
}
