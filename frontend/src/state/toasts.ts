import { create } from 'zustand';

export interface Toast {
  id: number;
  tone: 'error' | 'ok' | 'info';
  text: string;
}

interface ToastState {
  toasts: Toast[];
  push: (tone: Toast['tone'], text: string) => void;
  dismiss: (id: number) => void;
}

let next = 1;

export const useToasts = create<ToastState>()((set, get) => ({
  toasts: [],
  push: (tone, text) => {
    const id = next++;
    set((s) => ({ toasts: [...s.toasts.slice(-3), { id, tone, text }] }));
    setTimeout(() => get().dismiss(id), tone === 'error' ? 8000 : 3500);
  },
  dismiss: (id) => set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })),
}));

export const toast = {
  error: (text: string) => useToasts.getState().push('error', text),
  ok: (text: string) => useToasts.getState().push('ok', text),
  info: (text: string) => useToasts.getState().push('info', text),
};

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
