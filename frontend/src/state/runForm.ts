// What the run form holds for each procedure: typed values, chosen model, mock flag, and how to
// start and stop a run from it.
import { create } from 'zustand';
import { api } from '../api/client';
import type { Field, Models } from '../api/types';
import { buildInputs, carryOver, type RawValue, type RawValues } from '../inputs/schema';
import { followRun, useRunStore } from './runStore';
import { isDirty, useWorkspace } from './workspace';
import { errorText, toast } from './toasts';

interface PerFile {
  fields: Field[];
  values: RawValues;
  model: string;
  errors: Record<string, string>;
}

interface RunFormState {
  byPath: Record<string, PerFile>;
  mock: boolean;
  models: Models | null;
  starting: boolean;
  loadModels: () => Promise<void>;
  syncFields: (path: string, fields: Field[]) => void;
  setValue: (path: string, name: string, value: RawValue) => void;
  setModel: (path: string, model: string) => void;
  setMock: (mock: boolean) => void;
  run: (path: string) => Promise<void>;
  stop: () => Promise<void>;
}

const blank = (): PerFile => ({ fields: [], values: {}, model: '', errors: {} });

export const useRunForm = create<RunFormState>()((set, get) => ({
  byPath: {},
  mock: false,
  models: null,
  starting: false,

  loadModels: async () => {
    try {
      set({ models: await api.models() });
    } catch {
      set({ models: { models: [], default: null } });
    }
  },

  syncFields: (path, fields) =>
    set((s) => {
      const cur = s.byPath[path] ?? blank();
      if (JSON.stringify(cur.fields) === JSON.stringify(fields)) return s;
      return {
        byPath: { ...s.byPath, [path]: { ...cur, fields, values: carryOver(cur.fields, cur.values, fields), errors: {} } },
      };
    }),

  setValue: (path, name, value) =>
    set((s) => {
      const cur = s.byPath[path] ?? blank();
      const errors = { ...cur.errors };
      delete errors[name];
      return { byPath: { ...s.byPath, [path]: { ...cur, values: { ...cur.values, [name]: value }, errors } } };
    }),

  setModel: (path, model) =>
    set((s) => ({ byPath: { ...s.byPath, [path]: { ...(s.byPath[path] ?? blank()), model } } })),

  setMock: (mock) => set({ mock }),

  run: async (path) => {
    if (get().starting) return;
    const form = get().byPath[path] ?? blank();
    const { inputs, errors } = buildInputs(form.fields, form.values);
    if (Object.keys(errors).length > 0) {
      set((s) => ({ byPath: { ...s.byPath, [path]: { ...form, errors } } }));
      const first = Object.keys(errors)[0];
      if (first) document.getElementById(`input-${first}`)?.focus();
      return;
    }
    const buffer = useWorkspace.getState().buffers[path];
    set({ starting: true });
    try {
      const model = form.model.trim();
      const res = await api.startRun({
        path,
        // Unsaved edits are run as they are in the editor, not as they are on disk.
        ...(buffer && isDirty(buffer) ? { source: buffer.content } : {}),
        inputs,
        ...(model ? { model } : {}),
        mock: get().mock,
      });
      followRun(res.run_id, { status: res.status, procedure: path });
    } catch (err) {
      toast.error(`Could not start the run: ${errorText(err)}`);
    } finally {
      set({ starting: false });
    }
  },

  stop: async () => {
    const { runId, status } = useRunStore.getState().feed;
    if (!runId || (status !== 'running' && status !== 'queued')) return;
    try {
      await api.cancelRun(runId);
    } catch (err) {
      toast.error(`Could not stop the run: ${errorText(err)}`);
    }
  },
}));
