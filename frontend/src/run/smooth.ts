// Display smoothing, as `tide run --smooth`: a live turn's text is shown up to its last word
// (or line) boundary, so it grows a word at a time at the model's pace; text past the boundary
// is held back at most MAX_HOLD_MS, then shown as it is. Only the display changes: the feed's
// state keeps every chunk as it came.

export type SmoothMode = 'off' | 'word' | 'line';
export const SMOOTH_MODES: readonly SmoothMode[] = ['off', 'word', 'line'];
export const MAX_HOLD_MS = 100;

/** Where `text` may be cut: just after its last boundary (0: nowhere). */
export function boundary(text: string, mode: Exclude<SmoothMode, 'off'>): number {
  switch (mode) {
    case 'line':
      return text.lastIndexOf('\n') + 1;
    case 'word':
      return Math.max(text.lastIndexOf(' '), text.lastIndexOf('\n'), text.lastIndexOf('\t')) + 1;
  }
}

/** How much of a growing text to show. `shown(text, now)` is asked at every render and when
 * `deadline()` passes; `now` is in ms on any steady clock. */
export class SmoothedView {
  private released = 0;
  private cut = 0;
  private heldSince: number | null = null;

  constructor(readonly mode: SmoothMode) {}

  shown(text: string, now: number): number {
    if (this.mode === 'off') return text.length;
    if (text.length < this.released) this.released = 0; // a new text
    const cut = Math.max(boundary(text, this.mode), this.released);
    if (cut >= text.length) {
      this.cut = cut;
      this.heldSince = null;
      return text.length;
    }
    // The held text starts afresh whenever a boundary releases what was held before.
    if (cut > this.cut || this.heldSince === null) this.heldSince = now;
    this.cut = cut;
    if (now - this.heldSince >= MAX_HOLD_MS) {
      this.released = text.length;
      this.heldSince = null;
      return text.length;
    }
    return cut;
  }

  /** When the held text must be shown, or null when nothing is held. */
  deadline(): number | null {
    return this.heldSince === null ? null : this.heldSince + MAX_HOLD_MS;
  }
}
