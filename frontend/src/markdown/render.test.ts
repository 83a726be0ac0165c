import { afterEach, describe, expect, it, vi } from 'vitest';
import { render } from '@testing-library/react';
import { createElement } from 'react';
import { renderMarkdown, safeHref } from './render';
import { StreamingMarkdown } from './Markdown';
import { BlockSplitter } from './blocks';

const XSS = [
  'Here is my answer.',
  '<script>window.__pwned = 1; alert(1)</script>',
  '<img src=x onerror="window.__pwned = 2">',
  '[click me](javascript:alert(1))',
  '[tabbed](java\tscript:alert(1))',
  '![pic](javascript:alert(1))',
  '<div onclick="alert(1)"><iframe src="https://evil.example"></iframe></div>',
  '',
  '<details open ontoggle="alert(1)">',
  '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
  '</details>',
  '',
  '<a href="javascript:alert(1)">raw link</a> and <style>body{display:none}</style>',
  '[ok](https://example.com) `code <b>` **bold**',
].join('\n');

function parse(html: string): HTMLElement {
  const host = document.createElement('div');
  host.innerHTML = html;
  return host;
}

describe('markdown sanitization', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('renders hostile answers inert', () => {
    const html = renderMarkdown(XSS);
    const host = parse(html);
    for (const tag of ['script', 'img', 'iframe', 'svg', 'style', 'details', 'div']) {
      expect(host.querySelector(tag), tag).toBeNull();
    }
    for (const el of Array.from(host.querySelectorAll('*'))) {
      for (const attr of Array.from(el.attributes)) {
        expect(attr.name.startsWith('on'), `${el.tagName} ${attr.name}`).toBe(false);
        expect(attr.value.toLowerCase()).not.toContain('javascript:');
      }
    }
    expect(html.toLowerCase()).not.toMatch(/<(script|img|iframe|svg|style)|<a href="javascript/);
    // The hostile markup is shown as text, not dropped silently.
    expect(host.textContent).toContain('<script>');
    expect(host.textContent).toContain('onerror');
    const links = Array.from(host.querySelectorAll('a'));
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.com']);
    expect(links[0]?.getAttribute('rel')).toContain('noopener');
    expect(host.querySelector('strong')?.textContent).toBe('bold');
    expect(host.querySelector('p code')?.textContent).toBe('code <b>');
    expect(host.querySelector('pre.md-raw-html')?.textContent).toContain('<script>');
  });

  it('does not run anything when mounted', () => {
    const alert = vi.fn();
    vi.stubGlobal('alert', alert);
    const { container } = render(createElement(StreamingMarkdown, { text: XSS, streaming: true }));
    expect(container.querySelector('script, img, iframe, svg')).toBeNull();
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
    expect(alert).not.toHaveBeenCalled();
    vi.unstubAllGlobals();
  });

  it('allows only safe link targets', () => {
    expect(safeHref('https://a.b/c')).toBe('https://a.b/c');
    expect(safeHref('mailto:x@y.z')).toBe('mailto:x@y.z');
    expect(safeHref('#frag')).toBe('#frag');
    expect(safeHref('docs/page.md')).toBe('docs/page.md');
    expect(safeHref('JaVaScRiPt:alert(1)')).toBeNull();
    expect(safeHref(' javascript:alert(1)')).toBeNull();
    expect(safeHref('data:text/html,<script>')).toBeNull();
    expect(safeHref('vbscript:x')).toBeNull();
  });
});

describe('block splitter', () => {
  it('freezes finished blocks and keeps them stable as text grows', () => {
    const s = new BlockSplitter(10);
    const para = (n: number) => `Paragraph number ${n} has text.`;
    let text = `${para(1)}\n\n${para(2)}`;
    let b = s.update(text);
    expect(b.frozen).toEqual([`${para(1)}\n\n`]);
    expect(b.tail).toBe(para(2));
    const firstBlock = b.frozen[0];
    text += `\n\n${para(3)}\n`;
    b = s.update(text);
    expect(b.frozen[0]).toBe(firstBlock);
    expect(b.frozen.join('') + b.tail).toBe(text);
  });

  it('never splits inside a code fence or before an indented continuation', () => {
    const s = new BlockSplitter(1);
    const text = 'Intro text here\n\n```\ncode\n\nmore code\n```\nafter\n\n- item\n\n    continued\n\nend\n';
    const b = s.update(text);
    expect(b.frozen.join('') + b.tail).toBe(text);
    expect(b.frozen).toEqual(['Intro text here\n\n', '```\ncode\n\nmore code\n```\n', 'after\n\n', '- item\n\n    continued\n\n']);
  });

  it('starts over when the text is replaced', () => {
    const s = new BlockSplitter(1);
    s.update('aaa\n\nbbb\n');
    const b = s.update('xyz');
    expect(b).toEqual({ frozen: [], tail: 'xyz' });
  });
});
