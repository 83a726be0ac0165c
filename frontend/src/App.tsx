import { Suspense, lazy, useEffect } from 'react';
import { Header } from './components/common/Header';
import { Toasts } from './components/common/Toasts';
import { EditorView } from './components/editor/EditorView';
import { HistoryView } from './components/history/HistoryView';
import { useRoute } from './lib/route';
import { isDirty, useWorkspace } from './state/workspace';

// Charts are heavy and only needed on this view.
const AnalyticsView = lazy(() => import('./components/analytics/AnalyticsView'));

export function App() {
  const [route, go] = useRoute();

  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (Object.values(useWorkspace.getState().buffers).some(isDirty)) e.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, []);

  return (
    <div className="app">
      <Header view={route.view} onView={(view) => go({ view, runId: null })} />
      <main className="main">
        {/* The editor stays mounted so that its state (cursor, undo history) survives tab switches. */}
        <EditorView visible={route.view === 'editor'} />
        {route.view === 'history' ? <HistoryView selected={route.runId} onSelect={(runId) => go({ view: 'history', runId })} /> : null}
        {route.view === 'analytics' ? (
          <Suspense fallback={<div className="empty">Loading charts…</div>}>
            <AnalyticsView />
          </Suspense>
        ) : null}
      </main>
      <Toasts />
    </div>
  );
}
