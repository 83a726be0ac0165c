import { useCallback, useEffect, useLayoutEffect, useRef, useState, type RefObject } from 'react';

/**
 * Keep a scroll container pinned to its bottom while its content grows, until the person scrolls
 * up; scrolling back to the bottom pins it again.
 */
export function useStickToBottom(ref: RefObject<HTMLElement | null>, content: RefObject<HTMLElement | null>) {
  const stuck = useRef(true);
  const [following, setFollowing] = useState(true);

  useEffect(() => {
    const el = ref.current;
    const inner = content.current;
    if (!el || !inner) return;
    const onScroll = () => {
      const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      if (atBottom !== stuck.current) {
        stuck.current = atBottom;
        setFollowing(atBottom);
      }
    };
    const observer = new ResizeObserver(() => {
      if (stuck.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(inner);
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      observer.disconnect();
      el.removeEventListener('scroll', onScroll);
    };
  }, [ref, content]);

  const follow = useCallback(() => {
    const el = ref.current;
    stuck.current = true;
    setFollowing(true);
    if (el) el.scrollTop = el.scrollHeight;
  }, [ref]);

  return { following, follow };
}

export function useInterval(fn: () => void, ms: number | null): void {
  const saved = useRef(fn);
  useLayoutEffect(() => {
    saved.current = fn;
  });
  useEffect(() => {
    if (ms === null) return;
    const t = setInterval(() => saved.current(), ms);
    return () => clearInterval(t);
  }, [ms]);
}

export const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);
export const modKey = isMac ? '⌘' : 'Ctrl';
