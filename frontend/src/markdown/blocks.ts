// Splits a growing Markdown text into finished blocks and a tail, incrementally.
//
// A long answer is rendered block by block: finished blocks are parsed once and never again, and
// each frame re-parses only the tail. A block is finished at a blank line outside a code fence
// once the next non-blank line starts at column 0 (an indented line could still belong to the
// previous list item or code block), or right after a closing code fence.

export interface Blocks {
  /** Finished blocks, oldest first. The array grows in place; its entries never change. */
  frozen: string[];
  /** Text after the last finished block, re-rendered as it grows. */
  tail: string;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/**
 * A copy of `s` that does not share memory with the string it was cut from. V8 makes substrings
 * as views into their parent, so keeping a 400-character block would otherwise keep the whole
 * answer as it was at that moment alive: hundreds of blocks, hundreds of copies of the text.
 */
export function detach(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}


export class BlockSplitter {
  private text = '';
  private frozen: string[] = [];
  private blockStart = 0;
  private scanned = 0;
  private fence: string | null = null;
  private sawBlank = false;

  constructor(private readonly minBlock = 400) {}

  update(text: string): Blocks {
    if (!text.startsWith(this.text)) this.reset();
    this.text = text;
    this.scan();
    return { frozen: this.frozen, tail: text.slice(this.blockStart) };
  }

  private reset(): void {
    this.text = '';
    this.frozen = [];
    this.blockStart = 0;
    this.scanned = 0;
    this.fence = null;
    this.sawBlank = false;
  }

  private freezeAt(pos: number): void {
    if (pos - this.blockStart < this.minBlock) return;
    this.frozen.push(detach(this.text.slice(this.blockStart, pos)));
    this.blockStart = pos;
  }

  private scan(): void {
    const text = this.text;
    for (;;) {
      const nl = text.indexOf('\n', this.scanned);
      if (nl < 0) {
        // The last line is still arriving, but its first character already tells whether the
        // block before it is finished.
        const first = text[this.scanned];
        if (this.fence === null && this.sawBlank && first !== undefined && !/\s/.test(first)) {
          this.freezeAt(this.scanned);
        }
        return;
      }
      const lineStart = this.scanned;
      const line = text.slice(lineStart, nl);
      this.scanned = nl + 1;
      const fence = FENCE.exec(line);
      if (this.fence !== null) {
        if (fence && fence[1]![0] === this.fence[0] && fence[1]!.length >= this.fence.length && line.trim() === fence[1]) {
          this.fence = null;
          this.freezeAt(this.scanned);
        }
        continue;
      }
      if (line.trim() === '') {
        this.sawBlank = true;
        continue;
      }
      if (this.sawBlank && !/^[ \t]/.test(line)) this.freezeAt(lineStart);
      this.sawBlank = false;
      if (fence) this.fence = fence[1]!;
    }
  }
}
