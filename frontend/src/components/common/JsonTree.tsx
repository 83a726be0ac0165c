import { memo } from 'react';
import { JsonView, defaultStyles } from 'react-json-view-lite';

type StyleProps = typeof defaultStyles;

const style: StyleProps = {
  container: 'jt-container',
  basicChildStyle: 'jt-basic',
  label: 'jt-label',
  clickableLabel: 'jt-label jt-clickable',
  nullValue: 'jt-null',
  undefinedValue: 'jt-null',
  numberValue: 'jt-number',
  stringValue: 'jt-string',
  booleanValue: 'jt-boolean',
  otherValue: 'jt-string',
  punctuation: 'jt-punct',
  expandIcon: 'jt-expand',
  collapseIcon: 'jt-collapse-icon',
  collapsedContent: 'jt-collapsed',
  childFieldsContainer: 'jt-children',
  noQuotesForStringValues: false,
  quotesForFieldNames: true,
  ariaLables: { collapseJson: 'Collapse', expandJson: 'Expand' },
  stringifyStringValues: true,
};

/** A collapsible view of untrusted JSON. Values are rendered as React text, never as HTML. */
export const JsonTree = memo(function JsonTree({ value, label, expandDepth = 2 }: { value: unknown; label?: string; expandDepth?: number }) {
  if (value === null || typeof value !== 'object') {
    return (
      <div className="json-tree" aria-label={label}>
        <span className={typeof value === 'string' ? 'jt-string' : typeof value === 'number' ? 'jt-number' : 'jt-null'}>
          {JSON.stringify(value) ?? 'undefined'}
        </span>
      </div>
    );
  }
  return (
    <div className="json-tree">
      <JsonView data={value as object} style={style} shouldExpandNode={(level) => level < expandDepth} aria-label={label} />
    </div>
  );
});

/** One-line preview of JSON for summaries. */
export function jsonPreview(value: unknown, max = 120): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
