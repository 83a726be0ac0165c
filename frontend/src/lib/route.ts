import { useEffect, useState } from 'react';

export type View = 'editor' | 'history' | 'analytics';

export interface Route {
  view: View;
  runId: string | null;
}

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [view, id] = parts;
  if (view === 'history') return { view: 'history', runId: id ? decodeURIComponent(id) : null };
  if (view === 'analytics') return { view: 'analytics', runId: null };
  return { view: 'editor', runId: null };
}

export function routeHash(r: Route): string {
  if (r.view === 'history') return r.runId ? `#/history/${encodeURIComponent(r.runId)}` : '#/history';
  return `#/${r.view}`;
}

/** The view lives in the URL hash so that reloads and the back button keep the person's place. */
export function useRoute(): [Route, (r: Route) => void] {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const go = (r: Route) => {
    const hash = routeHash(r);
    if (window.location.hash !== hash) window.location.hash = hash;
    setRoute(r);
  };
  return [route, go];
}
