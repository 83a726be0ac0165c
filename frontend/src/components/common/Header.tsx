import { useEffect, useState } from 'react';
import { api } from '../../api/client';
import { useThemeChoice, type ThemeChoice } from '../../lib/theme';
import type { View } from '../../lib/route';
import { useInterval } from '../../lib/hooks';
import { useSettings } from '../../state/settings';
import { SMOOTH_MODES, type SmoothMode } from '../../run/smooth';

const NEXT: Record<ThemeChoice, ThemeChoice> = { system: 'light', light: 'dark', dark: 'system' };
const ICON: Record<ThemeChoice, string> = { system: '◐', light: '☀', dark: '☾' };

function ServerStatus() {
  const [state, setState] = useState<{ ok: boolean; version?: string } | null>(null);
  const check = () =>
    api.health().then(
      (h) => setState({ ok: h.ok, version: h.version }),
      () => setState({ ok: false }),
    );
  useEffect(() => {
    void check();
  }, []);
  useInterval(() => void check(), 15000);
  if (!state) return null;
  return (
    <span className="server-status" data-testid="server-status" data-ok={state.ok}>
      <span className={state.ok ? 'dot ok' : 'dot error'} aria-hidden="true" />
      {state.ok ? `server ${state.version ?? ''}` : 'server unreachable'}
    </span>
  );
}

/** How many runs wait for a person's answer; a click shows them in History. */
function WaitingCount({ onView }: { onView: (v: View) => void }) {
  const [count, setCount] = useState(0);
  const check = () =>
    api.listRuns({ status: 'waiting', limit: 500 }).then(
      (r) => setCount(r.runs.length),
      () => undefined,
    );
  useEffect(() => {
    void check();
  }, []);
  useInterval(() => void check(), 3000);
  if (count === 0) return null;
  return (
    <button type="button" className="btn small waiting-count" onClick={() => onView('history')} data-testid="waiting-count" title="Runs waiting for a person">
      {count} waiting for you
    </button>
  );
}

export function Header({ view, onView }: { view: View; onView: (v: View) => void }) {
  const choice = useThemeChoice((s) => s.choice);
  const setTheme = useThemeChoice((s) => s.set);
  const smoothing = useSettings((s) => s.smoothing);
  const setSmoothing = useSettings((s) => s.setSmoothing);
  const tabs: { id: View; label: string }[] = [
    { id: 'editor', label: 'Editor' },
    { id: 'history', label: 'History' },
    { id: 'analytics', label: 'Analytics' },
  ];
  return (
    <header className="topbar">
      <div className="brand">
        <svg width="20" height="20" viewBox="0 0 16 16" aria-hidden="true">
          <path d="M1 10c2-3 4-3 7 0s5 3 7 0v5H1z" fill="currentColor" />
          <path d="M1 6c2-3 4-3 7 0s5 3 7 0" fill="none" stroke="currentColor" strokeWidth="1.4" opacity=".55" />
        </svg>
        Tide
      </div>
      <nav className="tabs" aria-label="Views">
        {tabs.map((t) => (
          <button key={t.id} type="button" className="tab" aria-current={view === t.id ? 'page' : undefined} onClick={() => onView(t.id)} data-testid={`tab-${t.id}`}>
            {t.label}
          </button>
        ))}
      </nav>
      <span className="topbar-spacer" />
      <WaitingCount onView={onView} />
      <ServerStatus />
      <label className="setting" title="Show streamed text a word or a line at a time (held back at most 100 ms)">
        smoothing
        <select
          value={smoothing}
          onChange={(e) => setSmoothing(SMOOTH_MODES.find((m) => m === e.target.value) ?? 'off')}
          data-testid="smoothing-select"
        >
          {SMOOTH_MODES.map((m: SmoothMode) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        className="btn small"
        onClick={() => setTheme(NEXT[choice])}
        title={`Theme: ${choice} (click for ${NEXT[choice]})`}
        aria-label={`Theme: ${choice}. Switch to ${NEXT[choice]}`}
        data-testid="theme-toggle"
      >
        {ICON[choice]} {choice}
      </button>
    </header>
  );
}
