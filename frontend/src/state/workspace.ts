// Workspace files and open editor buffers. A buffer keeps its text across file switches so that
// unsaved edits are never lost by clicking elsewhere in the tree.
import { create } from 'zustand';
import { api } from '../api/client';
import type { Diagnostic, FileEntry, ProcedureInfo } from '../api/types';
import { errorText, toast } from './toasts';

export interface Buffer {
  path: string;
  content: string;
  saved: string;
  saving: boolean;
}

export interface Validation {
  /** The source these results are for: results for older text are dropped. */
  source: string;
  ok: boolean;
  diagnostics: Diagnostic[];
  procedure: ProcedureInfo | null;
  /** The procedure as of the last version that validated, so the run form survives typos. */
  lastGood?: ProcedureInfo | null;
}

export const PROCEDURE_EXT = /\.(tac|lua)$/;

interface WorkspaceState {
  files: FileEntry[];
  loaded: boolean;
  loadError: string | null;
  buffers: Record<string, Buffer>;
  active: string | null;
  validation: Record<string, Validation>;
  refresh: () => Promise<void>;
  open: (path: string) => Promise<void>;
  edit: (path: string, content: string) => void;
  save: (path: string) => Promise<boolean>;
  create: (path: string) => Promise<boolean>;
  rename: (from: string, to: string) => Promise<boolean>;
  remove: (path: string) => Promise<boolean>;
  setValidation: (path: string, v: Validation) => void;
}

export const isDirty = (b: Buffer | undefined): boolean => !!b && b.content !== b.saved;

const NEW_FILE = `-- A new procedure.
`;

export const useWorkspace = create<WorkspaceState>()((set, get) => ({
  files: [],
  loaded: false,
  loadError: null,
  buffers: {},
  active: null,
  validation: {},

  refresh: async () => {
    try {
      const { files } = await api.listFiles();
      files.sort((a, b) => a.path.localeCompare(b.path));
      set({ files, loaded: true, loadError: null });
    } catch (err) {
      set({ loaded: true, loadError: errorText(err) });
    }
  },

  open: async (path) => {
    if (get().buffers[path]) {
      set({ active: path });
      return;
    }
    try {
      const file = await api.readFile(path);
      set((s) => ({
        active: path,
        buffers: { ...s.buffers, [path]: { path, content: file.content, saved: file.content, saving: false } },
      }));
    } catch (err) {
      toast.error(`Could not open ${path}: ${errorText(err)}`);
    }
  },

  edit: (path, content) =>
    set((s) => {
      const b = s.buffers[path];
      if (!b || b.content === content) return s;
      return { buffers: { ...s.buffers, [path]: { ...b, content } } };
    }),

  save: async (path) => {
    const b = get().buffers[path];
    if (!b) return false;
    const content = b.content;
    set((s) => ({ buffers: { ...s.buffers, [path]: { ...b, saving: true } } }));
    try {
      await api.saveFile(path, content);
      set((s) => {
        const cur = s.buffers[path];
        if (!cur) return s;
        // Edits typed while saving stay unsaved: only what was sent is marked saved.
        return { buffers: { ...s.buffers, [path]: { ...cur, saved: content, saving: false } } };
      });
      void get().refresh();
      return true;
    } catch (err) {
      set((s) => {
        const cur = s.buffers[path];
        return cur ? { buffers: { ...s.buffers, [path]: { ...cur, saving: false } } } : s;
      });
      toast.error(`Could not save ${path}: ${errorText(err)}`);
      return false;
    }
  },

  create: async (path) => {
    try {
      await api.createFile(path, NEW_FILE);
      await get().refresh();
      await get().open(path);
      return true;
    } catch (err) {
      toast.error(`Could not create ${path}: ${errorText(err)}`);
      return false;
    }
  },

  rename: async (from, to) => {
    try {
      const { path } = await api.renameFile(from, to);
      set((s) => {
        const buffers = { ...s.buffers };
        const b = buffers[from];
        delete buffers[from];
        if (b) buffers[path] = { ...b, path };
        const validation = { ...s.validation };
        delete validation[from];
        return { buffers, validation, active: s.active === from ? path : s.active };
      });
      await get().refresh();
      return true;
    } catch (err) {
      toast.error(`Could not rename ${from}: ${errorText(err)}`);
      return false;
    }
  },

  remove: async (path) => {
    try {
      await api.deleteFile(path);
      set((s) => {
        const buffers = { ...s.buffers };
        delete buffers[path];
        return { buffers, active: s.active === path ? null : s.active };
      });
      await get().refresh();
      return true;
    } catch (err) {
      toast.error(`Could not delete ${path}: ${errorText(err)}`);
      return false;
    }
  },

  setValidation: (path, v) =>
    set((s) => {
      const lastGood = v.procedure ?? s.validation[path]?.procedure ?? s.validation[path]?.lastGood ?? null;
      return { validation: { ...s.validation, [path]: { ...v, lastGood } } };
    }),
}));
