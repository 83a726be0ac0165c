import { useEffect, useMemo } from 'react';
import { useRunForm } from '../../state/runForm';
import { useRunStore } from '../../state/runStore';
import { useWorkspace } from '../../state/workspace';
import { modKey } from '../../lib/hooks';
import { InputsForm } from './InputsForm';

// `served` comes from GET /api/models, which lists this machine's own providers' models too.
export function modelChoices(procedureModels: (string | null)[], served: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of [...procedureModels, ...served]) {
    if (m && !seen.has(m)) {
      seen.add(m);
      out.push(m);
    }
  }
  return out;
}

export function RunControls({ path }: { path: string }) {
  const validation = useWorkspace((s) => s.validation[path]);
  const form = useRunForm((s) => s.byPath[path]);
  const mock = useRunForm((s) => s.mock);
  const models = useRunForm((s) => s.models);
  const starting = useRunForm((s) => s.starting);
  const { syncFields, setValue, setModel, setMock, run, stop, loadModels } = useRunForm.getState();
  const status = useRunStore((s) => s.feed.status);
  const active = status === 'running' || status === 'queued';
  const procedure = validation?.procedure ?? validation?.lastGood ?? null;
  const stale = !!validation && !validation.procedure && !!procedure;

  useEffect(() => {
    if (!models) void loadModels();
  }, [models, loadModels]);

  useEffect(() => {
    if (procedure) syncFields(path, procedure.inputs);
  }, [path, procedure, syncFields]);

  const choices = useMemo(
    () => modelChoices(procedure?.agents.map((a) => a.model) ?? [], models?.models ?? []),
    [procedure, models],
  );
  const defaultModel = procedure?.agents.find((a) => a.model)?.model ?? models?.default ?? null;
  const errors = validation?.diagnostics.filter((d) => d.severity === 'error').length ?? 0;

  return (
    <section className="run-controls" aria-label="Run the procedure" data-testid="run-controls">
      {stale ? <div className="note">The procedure has errors: these inputs are from its last valid version.</div> : null}
      {procedure ? (
        <InputsForm fields={form?.fields ?? procedure.inputs} values={form?.values ?? {}} errors={form?.errors ?? {}} onChange={(name, v) => setValue(path, name, v)} />
      ) : validation ? (
        <div className="note">The procedure has errors; its inputs show once it validates.</div>
      ) : (
        <div className="note">Checking the procedure…</div>
      )}
      <div className="run-bar">
        <div className="model">
          <label htmlFor="model-picker">model</label>
          <input
            id="model-picker"
            list="model-choices"
            className="mono"
            placeholder={defaultModel ?? 'procedure default'}
            title="Leave empty for the procedure's own model; pick or type any model name"
            value={form?.model ?? ''}
            onChange={(e) => setModel(path, e.target.value)}
            spellCheck={false}
            autoComplete="off"
            data-testid="model-picker"
          />
          <datalist id="model-choices">
            {choices.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
        </div>
        <label className="switch" title="Use mock tools and models declared by the procedure">
          <input type="checkbox" role="switch" checked={mock} onChange={(e) => setMock(e.target.checked)} data-testid="mock-toggle" />
          mock
        </label>
        {active ? (
          <button type="button" className="btn danger" onClick={() => void stop()} data-testid="stop-button">
            ■ Stop
          </button>
        ) : null}
        <button
          type="button"
          className="btn primary"
          onClick={() => void run(path)}
          disabled={starting}
          title={`Run (${modKey}+Enter)`}
          data-testid="run-button"
        >
          ▶ Run <kbd>{modKey}↵</kbd>
        </button>
      </div>
      {errors > 0 ? (
        <div className="note error" data-testid="run-blocked-note">
          {errors} error{errors === 1 ? '' : 's'} in the procedure: the run will likely fail.
        </div>
      ) : null}
    </section>
  );
}
