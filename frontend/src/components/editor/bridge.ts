// Lets panels outside the editor (the problems list) move its cursor without holding the view.
interface EditorHandle {
  goto: (line: number, column: number) => void;
  focus: () => void;
}

let handle: EditorHandle | null = null;

export const editorBridge = {
  register(h: EditorHandle): () => void {
    handle = h;
    return () => {
      if (handle === h) handle = null;
    };
  },
  goto(line: number, column: number): void {
    handle?.goto(line, column);
  },
  focus(): void {
    handle?.focus();
  },
};
