import { useCallback, useEffect } from 'react';
import { isDirty, useWorkspace } from '../../state/workspace';
import { useValidation } from '../../state/useValidation';
import { useRunForm } from '../../state/runForm';
import { FileTree } from '../workspace/FileTree';
import { RunControls } from '../run/RunControls';
import { Feed } from '../feed/Feed';
import { CodeEditor } from './CodeEditor';
import { Problems } from './Problems';
import { modKey } from '../../lib/hooks';
import type { Diagnostic } from '../../api/types';

const NO_DIAGNOSTICS: Diagnostic[] = [];

export function EditorView({ visible }: { visible: boolean }) {
  const active = useWorkspace((s) => s.active);
  const buffer = useWorkspace((s) => (s.active ? s.buffers[s.active] : undefined));
  const validation = useWorkspace((s) => (s.active ? s.validation[s.active] : undefined));
  const edit = useWorkspace((s) => s.edit);
  const save = useWorkspace((s) => s.save);
  useValidation(active, buffer?.content);

  const onKey = useCallback(
    (e: KeyboardEvent) => {
      if (!visible || !(e.ctrlKey || e.metaKey)) return;
      const path = useWorkspace.getState().active;
      if (e.key === 's' || e.key === 'S') {
        e.preventDefault();
        if (path) void save(path);
      } else if (e.key === 'Enter') {
        // Captured before the editor, whose own Mod-Enter would insert a line.
        e.preventDefault();
        e.stopPropagation();
        if (path) void useRunForm.getState().run(path);
      }
    },
    [visible, save],
  );

  useEffect(() => {
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [onKey]);

  const dirty = isDirty(buffer);
  const pending = !!buffer && validation?.source !== buffer.content;

  return (
    <div className="editor-view" hidden={!visible} style={visible ? undefined : { display: 'none' }}>
      <FileTree />
      <section className="pane" aria-label="Editor">
        <div className="editor-header">
          {active ? (
            <>
              <span className="path" data-testid="editor-path">
                {active}
              </span>
              {dirty ? (
                <span className="badge warn" data-testid="editor-dirty">
                  unsaved
                </span>
              ) : null}
              <span style={{ flex: 1 }} />
              <button type="button" className="btn small" disabled={!dirty || buffer?.saving} onClick={() => void save(active)} data-testid="save-button" title={`Save (${modKey}+S)`}>
                {buffer?.saving ? 'Saving…' : 'Save'} <kbd>{modKey}S</kbd>
              </button>
            </>
          ) : (
            <span className="muted">No file open</span>
          )}
        </div>
        {active && buffer ? (
          <>
            <CodeEditor path={active} content={buffer.content} diagnostics={validation?.diagnostics ?? NO_DIAGNOSTICS} onChange={edit} />
            <Problems diagnostics={validation?.diagnostics ?? NO_DIAGNOSTICS} pending={pending} />
          </>
        ) : (
          <div className="empty" style={{ marginTop: 40 }}>
            Open a procedure from the list, or create one with +.
          </div>
        )}
      </section>
      <section className="pane" aria-label="Run">
        {active ? <RunControls path={active} /> : null}
        {/* One feed on screen at a time: the history view has its own. */}
        {visible ? <Feed empty={<div className="empty">Run a procedure to see its agents work here.</div>} /> : null}
      </section>
    </div>
  );
}
