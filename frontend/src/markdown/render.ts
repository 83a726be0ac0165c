// Markdown → safe HTML. Model output is untrusted, so defence is layered: the Markdown renderer
// never passes raw HTML through (it is shown as text), links are limited to safe schemes, images
// are turned into links (a remote image would load on render and can leak data through its URL),
// and DOMPurify sanitizes the result with an allow-list in case anything slipped through.
import DOMPurify from 'dompurify';
import { Marked, type Tokens } from 'marked';

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const SAFE_URL = /^(?:https?:|mailto:|#|\/(?!\/)|\.{0,2}\/)/i;

/** Only http(s), mailto, in-page and relative links survive; anything else becomes plain text. */
export function safeHref(href: string): string | null {
  // Browsers ignore control characters and whitespace inside a scheme ("java\tscript:").
  // eslint-disable-next-line no-control-regex
  const compact = href.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  if (!compact) return null;
  if (SAFE_URL.test(compact)) return compact;
  // No scheme at all ("docs/page.md", "page?x=1") is relative and safe.
  return /^[a-z][a-z0-9+.-]*:/i.test(compact) ? null : compact;
}

const marked = new Marked({ gfm: true, breaks: false, async: false });

marked.use({
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag): string {
      // Raw HTML is shown as the text it is; a whole HTML block reads best as code.
      return token.block ? `<pre class="md-raw-html"><code>${escapeHtml(token.text)}</code></pre>` : escapeHtml(token.text);
    },
    link({ href, title, tokens }: Tokens.Link): string {
      const inner = this.parser.parseInline(tokens);
      const url = safeHref(href);
      if (url === null) return inner;
      const t = title ? ` title="${escapeHtml(title)}"` : '';
      return `<a href="${escapeHtml(url)}"${t} target="_blank" rel="noopener noreferrer nofollow">${inner}</a>`;
    },
    image({ href, title, text }: Tokens.Image): string {
      const url = safeHref(href);
      const label = `🖼 ${escapeHtml(text || title || 'image')}`;
      if (url === null) return label;
      return `<a class="md-image-link" href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer nofollow">${label}</a>`;
    },
  },
});

const ALLOWED_TAGS = [
  'a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i',
  'input', 'li', 'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td',
  'th', 'thead', 'tr', 'ul',
];
const ALLOWED_ATTR = ['href', 'title', 'target', 'rel', 'class', 'align', 'start', 'type', 'checked', 'disabled'];

let purifier: ReturnType<typeof DOMPurify> | null = null;

function getPurifier(): ReturnType<typeof DOMPurify> {
  if (purifier) return purifier;
  const p = DOMPurify(window);
  p.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const href = node.getAttribute('href');
      if (href === null || safeHref(href) === null) node.removeAttribute('href');
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
    // GFM task-list checkboxes are the only inputs allowed, and only as disabled checkboxes.
    if (node.tagName === 'INPUT') {
      if (node.getAttribute('type') !== 'checkbox') node.remove();
      else node.setAttribute('disabled', '');
    }
  });
  purifier = p;
  return p;
}

export function sanitizeHtml(html: string): string {
  return getPurifier().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    RETURN_TRUSTED_TYPE: false,
  }) as string;
}

/** Render untrusted Markdown to HTML that is safe to insert. */
export function renderMarkdown(source: string): string {
  if (!source) return '';
  const html = marked.parse(source, { async: false });
  return sanitizeHtml(html);
}

// Parsing and sanitizing cost most the first time (compilation, DOMPurify set-up). Do that while
// the page is idle, not when the first answer starts streaming.
if (typeof window !== 'undefined' && 'requestIdleCallback' in window) {
  window.requestIdleCallback(() => renderMarkdown('# warm\n\n*up* [a](https://x.y) `b`\n\n- c\n\n```\nd\n```\n'));
}
