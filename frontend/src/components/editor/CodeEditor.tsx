import { useEffect, useRef } from 'react';
import { basicSetup } from 'codemirror';
import { EditorState, type Extension } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { indentWithTab } from '@codemirror/commands';
import { lintGutter, setDiagnostics, type Diagnostic as CmDiagnostic } from '@codemirror/lint';
import type { Diagnostic } from '../../api/types';
import { editorTheme, luaHighlighting, luaLanguage } from './luaLanguage';
import { editorBridge } from './bridge';

interface Props {
  path: string;
  content: string;
  diagnostics: Diagnostic[];
  onChange: (path: string, content: string) => void;
}

/** Turn the server's 1-based line/column ranges into document offsets, clamped to the text. */
export function toCmDiagnostics(state: EditorState, diagnostics: Diagnostic[]): CmDiagnostic[] {
  const doc = state.doc;
  const pos = (line: number, column: number): number => {
    const l = doc.line(Math.min(Math.max(1, line), doc.lines));
    return l.from + Math.min(Math.max(0, column - 1), l.length);
  };
  return diagnostics.map((d) => {
    const from = pos(d.line, d.column);
    let to = d.end_line != null ? pos(d.end_line, d.end_column ?? d.column + 1) : from;
    if (to <= from) {
      // No range given: mark the word (or character) at the position.
      const line = doc.lineAt(from);
      const rest = line.text.slice(from - line.from);
      const word = /^[\w.]+/.exec(rest)?.[0].length ?? 1;
      to = Math.min(line.to, from + word);
      if (to <= from && from > line.from) return { from: from - 1, to: from, severity: d.severity, message: withHint(d) };
    }
    return { from, to, severity: d.severity, message: withHint(d) };
  });
}

const withHint = (d: Diagnostic): string => (d.hint ? `${d.message}\n${d.hint}` : d.message);

export function CodeEditor({ path, content, diagnostics, onChange }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const states = useRef(new Map<string, EditorState>());
  const currentPath = useRef(path);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;

  const extensions = useRef<Extension[]>([
    basicSetup,
    keymap.of([indentWithTab]),
    luaLanguage,
    luaHighlighting,
    editorTheme,
    lintGutter(),
    EditorView.contentAttributes.of({ 'aria-label': 'Procedure source', 'data-testid': 'editor-content' }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged) onChangeRef.current(currentPath.current, u.state.doc.toString());
    }),
  ]);

  const makeState = (text: string) => EditorState.create({ doc: text, extensions: extensions.current });

  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({ state: makeState(content), parent: host.current });
    view.current = v;
    states.current.set(path, v.state);
    const unregister = editorBridge.register({
      goto: (line, column) => {
        const doc = v.state.doc;
        const l = doc.line(Math.min(Math.max(1, line), doc.lines));
        const at = l.from + Math.min(Math.max(0, column - 1), l.length);
        v.dispatch({ selection: { anchor: at }, scrollIntoView: true });
        v.focus();
      },
      focus: () => v.focus(),
    });
    return () => {
      unregister();
      v.destroy();
      view.current = null;
    };
    // The view is created once; later props are applied by the effects below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // Switching files swaps whole editor states, so each file keeps its own undo history.
  useEffect(() => {
    const v = view.current;
    if (!v || currentPath.current === path) return;
    states.current.set(currentPath.current, v.state);
    currentPath.current = path;
    const saved = states.current.get(path);
    v.setState(saved && saved.doc.toString() === content ? saved : makeState(content));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path]);

  // Content changed from outside the editor (reloaded or renamed): take it.
  useEffect(() => {
    const v = view.current;
    if (!v || currentPath.current !== path) return;
    if (v.state.doc.toString() !== content) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: content } });
    }
  }, [content, path]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    v.dispatch(setDiagnostics(v.state, toCmDiagnostics(v.state, diagnostics)));
  }, [diagnostics, path]);

  return <div className="editor-host" ref={host} data-testid="editor" />;
}
