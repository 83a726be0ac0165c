import { memo, useEffect, useMemo, useRef, useState } from 'react';
import { BlockSplitter } from './blocks';
import { renderMarkdown } from './render';

/** One finished block: parsed once, never re-rendered while later text streams in. */
const FrozenBlock = memo(function FrozenBlock({ source }: { source: string }) {
  // renderMarkdown sanitizes: the HTML holds no script, handler or unsafe URL.
  return <div className="md-block" dangerouslySetInnerHTML={{ __html: renderMarkdown(source) }} />;
});

/** Finished blocks are laid out in groups, so the browser skips off-screen text a group at a time. */
const GROUP = 8;

const sameBlocks = (a: { blocks: string[] }, b: { blocks: string[] }): boolean =>
  a.blocks.length === b.blocks.length && a.blocks.every((s, i) => s === b.blocks[i]);

const FrozenGroup = memo(function FrozenGroup({ blocks }: { blocks: string[] }) {
  return (
    <div className="md-group">
      {blocks.map((source, i) => (
        <FrozenBlock key={i} source={source} />
      ))}
    </div>
  );
}, sameBlocks);

/** Above this size the tail is re-parsed less often than every frame. */
const TAIL_BUDGET = 16_000;

function useThrottledTail(tail: string, streaming: boolean): string {
  const [shown, setShown] = useState(tail);
  const last = useRef(0);
  const large = streaming && tail.length > TAIL_BUDGET;
  useEffect(() => {
    if (!large) return;
    // Parse time grows with the tail, so the interval does too: the cost per second stays flat.
    const interval = Math.min(1000, (tail.length / TAIL_BUDGET) * 120);
    const wait = Math.max(0, last.current + interval - performance.now());
    const t = setTimeout(() => {
      last.current = performance.now();
      setShown(tail);
    }, wait);
    return () => clearTimeout(t);
  }, [tail, large]);
  // A shorter tail (a block was just finished) must be shown at once or text would repeat.
  return large && tail.startsWith(shown) ? shown : tail;
}

/**
 * Untrusted Markdown that may still be growing. `text` must only ever be extended while
 * streaming; any other change starts over.
 */
export const StreamingMarkdown = memo(function StreamingMarkdown({
  text,
  streaming,
}: {
  text: string;
  streaming: boolean;
}) {
  const splitter = useRef<BlockSplitter | null>(null);
  splitter.current ??= new BlockSplitter();
  const { frozen, tail } = splitter.current.update(text);
  const shownTail = useThrottledTail(tail, streaming);
  const tailHtml = useMemo(() => renderMarkdown(shownTail), [shownTail]);
  return (
    <div className={streaming ? 'markdown streaming' : 'markdown'}>
      {Array.from({ length: Math.ceil(frozen.length / GROUP) }, (_, g) => (
        <FrozenGroup key={g} blocks={frozen.slice(g * GROUP, (g + 1) * GROUP)} />
      ))}
      {tailHtml ? <div className="md-block md-tail" dangerouslySetInnerHTML={{ __html: tailHtml }} /> : null}
    </div>
  );
});

/** Static untrusted Markdown. */
export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
});
