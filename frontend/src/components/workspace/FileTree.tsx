import { useEffect, useMemo, useState } from 'react';
import { PROCEDURE_EXT, isDirty, useWorkspace } from '../../state/workspace';
import { PromptDialog } from '../common/PromptDialog';
import type { FileEntry } from '../../api/types';

type Dialog =
  | { kind: 'new' }
  | { kind: 'rename'; path: string }
  | { kind: 'delete'; path: string }
  | null;

function checkPath(value: string, existing: Set<string>, current?: string): string | null {
  const v = value.trim();
  if (!v) return 'Enter a file name';
  if (!PROCEDURE_EXT.test(v)) return 'Procedures end in .tac or .lua';
  if (v.startsWith('/') || v.split('/').some((p) => p === '..' || p === '')) return 'Use a relative path inside the workspace';
  if (v !== current && existing.has(v)) return 'A file with that name exists';
  return null;
}

function groupByFolder(files: FileEntry[]): [string, FileEntry[]][] {
  const groups = new Map<string, FileEntry[]>();
  for (const f of files) {
    const slash = f.path.lastIndexOf('/');
    const dir = slash < 0 ? '' : f.path.slice(0, slash);
    const list = groups.get(dir) ?? [];
    list.push(f);
    groups.set(dir, list);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
}

export function FileTree() {
  const files = useWorkspace((s) => s.files);
  const loaded = useWorkspace((s) => s.loaded);
  const loadError = useWorkspace((s) => s.loadError);
  const active = useWorkspace((s) => s.active);
  const buffers = useWorkspace((s) => s.buffers);
  const validation = useWorkspace((s) => s.validation);
  const { refresh, open, create, rename, remove } = useWorkspace.getState();
  const [dialog, setDialog] = useState<Dialog>(null);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const existing = useMemo(() => new Set(files.map((f) => f.path)), [files]);
  const groups = useMemo(() => groupByFolder(files), [files]);

  const errorCount = (f: FileEntry): number => {
    const v = validation[f.path];
    // Live results for an open file are newer than the listing's.
    if (v) return v.diagnostics.filter((d) => d.severity === 'error').length;
    return f.errors;
  };

  return (
    <div className="pane" data-testid="file-tree">
      <div className="panel-title">
        <span style={{ flex: 1 }}>Procedures</span>
        <button type="button" className="icon-btn" title="New procedure" aria-label="New procedure" onClick={() => setDialog({ kind: 'new' })} data-testid="new-file">
          <span aria-hidden="true" style={{ fontWeight: 700, fontSize: 15 }}>+</span>
        </button>
        <button type="button" className="icon-btn" title="Reload the file list" aria-label="Reload the file list" onClick={() => void refresh()}>
          ⟳
        </button>
      </div>
      <nav aria-label="Workspace files" style={{ flex: 1, overflow: 'auto' }}>
        {loadError ? <div className="note error" style={{ margin: 8 }}>{loadError}</div> : null}
        {loaded && files.length === 0 && !loadError ? (
          <div className="empty">
            No procedures yet.
            <br />
            <button type="button" className="btn small" style={{ marginTop: 8 }} onClick={() => setDialog({ kind: 'new' })}>
              Create one
            </button>
          </div>
        ) : null}
        <ul className="tree">
          {groups.map(([dir, list]) => (
            <li key={dir || '.'}>
              {dir ? <div className="tree-folder">{dir}/</div> : null}
              <ul>
                {list.map((f) => {
                  const name = f.path.slice(dir ? dir.length + 1 : 0);
                  const dirty = isDirty(buffers[f.path]);
                  const errors = errorCount(f);
                  return (
                    <li
                      key={f.path}
                      className={f.path === active ? 'tree-row active' : 'tree-row'}
                      style={dir ? { paddingLeft: 18 } : undefined}
                      data-testid="file-row"
                      data-path={f.path}
                      data-dirty={dirty}
                    >
                      <span className="file-icon" aria-hidden="true">
                        {f.path.endsWith('.tac') ? 'T' : 'L'}
                      </span>
                      <button
                        type="button"
                        className="name"
                        aria-current={f.path === active ? 'page' : undefined}
                        title={f.path}
                        onClick={() => void open(f.path)}
                        onKeyDown={(e) => {
                          if (e.key === 'F2') {
                            e.preventDefault();
                            setDialog({ kind: 'rename', path: f.path });
                          } else if (e.key === 'Delete') {
                            e.preventDefault();
                            setDialog({ kind: 'delete', path: f.path });
                          }
                        }}
                      >
                        {name}
                      </button>
                      {dirty ? (
                        <span className="dirty-dot" title="Unsaved changes" data-testid="dirty-marker">
                          ●<span className="visually-hidden"> unsaved</span>
                        </span>
                      ) : null}
                      {errors > 0 ? (
                        <span className="file-errors" title={`${errors} error${errors === 1 ? '' : 's'}`}>
                          {errors}
                        </span>
                      ) : null}
                      <span className="row-actions">
                        <button type="button" className="icon-btn" aria-label={`Rename ${f.path}`} title="Rename (F2)" onClick={() => setDialog({ kind: 'rename', path: f.path })}>
                          ✎
                        </button>
                        <button type="button" className="icon-btn" aria-label={`Delete ${f.path}`} title="Delete (Del)" onClick={() => setDialog({ kind: 'delete', path: f.path })}>
                          ✕
                        </button>
                      </span>
                    </li>
                  );
                })}
              </ul>
            </li>
          ))}
        </ul>
      </nav>
      {dialog?.kind === 'new' ? (
        <PromptDialog
          title="New procedure"
          label="Path in the workspace"
          initial="untitled.tac"
          confirm="Create"
          validate={(v) => checkPath(v, existing)}
          onSubmit={(v) => void create(v)}
          onClose={() => setDialog(null)}
        />
      ) : null}
      {dialog?.kind === 'rename' ? (
        <PromptDialog
          title={`Rename ${dialog.path}`}
          label="New path"
          initial={dialog.path}
          confirm="Rename"
          validate={(v) => (v === dialog.path ? 'Enter a different name' : checkPath(v, existing, dialog.path))}
          onSubmit={(v) => void rename(dialog.path, v)}
          onClose={() => setDialog(null)}
        />
      ) : null}
      {dialog?.kind === 'delete' ? (
        <PromptDialog
          title={`Delete ${dialog.path}?`}
          label={isDirty(buffers[dialog.path]) ? 'It has unsaved changes, which will be lost.' : 'This cannot be undone.'}
          initial=""
          confirm="Delete"
          danger
          noInput
          onSubmit={() => void remove(dialog.path)}
          onClose={() => setDialog(null)}
        />
      ) : null}
    </div>
  );
}
