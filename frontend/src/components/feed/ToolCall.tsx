import { memo } from 'react';
import { useRunStore } from '../../state/runStore';
import { formatDuration } from '../../lib/format';
import { JsonTree, jsonPreview } from '../common/JsonTree';

export const ToolCall = memo(function ToolCall({ callId }: { callId: string }) {
  const tool = useRunStore((s) => s.feed.tools[callId]);
  if (!tool) return null;
  const stageLabel = tool.stage === 'started' ? 'running' : tool.stage;
  return (
    <details className={`tool ${tool.stage}`} data-testid="tool-call" data-tool={tool.tool} data-stage={tool.stage}>
      <summary>
        <span className="tool-name">{tool.tool}</span>
        <span className="tool-args-inline">{jsonPreview(tool.args, 90)}</span>
        {tool.stage === 'started' ? <span className="spinner" aria-hidden="true" /> : null}
        <span className={`badge ${tool.stage === 'started' ? 'running' : tool.stage}`}>{stageLabel}</span>
        <span className="faint mono">{formatDuration(tool.durationMs)}</span>
      </summary>
      <div className="tool-detail">
        <span className="k">args</span>
        <JsonTree value={tool.args} label="Arguments" />
        {tool.stage === 'completed' ? (
          <>
            <span className="k">result</span>
            <JsonTree value={tool.result} label="Result" />
          </>
        ) : null}
        {tool.error ? (
          <>
            <span className="k">error</span>
            <pre className="err" data-testid="tool-error">
              {tool.error}
            </pre>
          </>
        ) : null}
      </div>
    </details>
  );
});
