import { memo, useState } from 'react';
import type { FeedItem } from '../../run/feed';
import { api, ApiError } from '../../api/client';
import { assertNever } from '../../run/fields';
import { useRunStore } from '../../state/runStore';
import { jsonPreview } from '../common/JsonTree';
import { FieldsForm } from './FieldsForm';

type RequestItem = Extract<FeedItem, { kind: 'request' }>;

/** A question the run asks a person: its message, and the controls its kind needs. Answering
 * resumes the run; its events follow in this feed. */
export const RequestCard = memo(function RequestCard({ item }: { item: RequestItem }) {
  const runId = useRunStore((s) => s.feed.runId);
  const { request, response } = item;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [refused, setRefused] = useState<Record<string, string>>({});
  const [sent, setSent] = useState<unknown>(undefined);

  const answer = async (value: unknown) => {
    if (!runId) return;
    setBusy(true);
    setError(null);
    setRefused({});
    try {
      await api.answerRun(runId, request.request_id, value);
      setSent(value);
    } catch (err) {
      setError(err instanceof ApiError || err instanceof Error ? err.message : String(err));
      if (err instanceof ApiError) setRefused(err.fields);
    } finally {
      setBusy(false);
    }
  };

  const answered = response !== null || sent !== undefined;
  return (
    <div className="card request" data-testid="request-card" data-kind={request.kind} data-answered={answered}>
      <div className="request-head">
        <span className="badge waiting">{answered ? 'answered' : 'waiting for you'}</span>
        <span className="request-message">{request.message || `Human.${request.kind}`}</span>
      </div>
      {answered ? (
        <div className="faint" data-testid="request-answer">
          → {jsonPreview(response ? (response.value ?? null) : (sent ?? null), 140)}
          {response && response.answered_by !== 'person' ? ` (${response.answered_by})` : ''}
        </div>
      ) : (
        <Controls item={item} busy={busy} refused={refused} onAnswer={(v) => void answer(v)} />
      )}
      {request.timeout_s != null && !answered ? (
        <div className="faint">
          times out after {request.timeout_s} s{request.default !== undefined && request.default !== null ? `, then ${jsonPreview(request.default, 40)}` : ''}
        </div>
      ) : null}
      {error ? (
        <div className="sev-error" role="alert" data-testid="request-error">
          {error}
        </div>
      ) : null}
    </div>
  );
});

function Controls({
  item,
  busy,
  refused,
  onAnswer,
}: {
  item: RequestItem;
  busy: boolean;
  refused: Record<string, string>;
  onAnswer: (value: unknown) => void;
}) {
  const { request } = item;
  const [text, setText] = useState(typeof request.default === 'string' ? request.default : '');
  const [editing, setEditing] = useState(false);
  switch (request.kind) {
    case 'approve':
      return (
        <div className="request-controls">
          <button type="button" className="btn primary" disabled={busy} onClick={() => onAnswer(true)} data-testid="request-approve">
            Approve
          </button>
          <button type="button" className="btn" disabled={busy} onClick={() => onAnswer(false)} data-testid="request-reject">
            Reject
          </button>
        </div>
      );
    case 'input':
      return (
        <form
          className="request-controls"
          onSubmit={(e) => {
            e.preventDefault();
            onAnswer(text);
          }}
        >
          <input value={text} onChange={(e) => setText(e.target.value)} aria-label={request.message} data-testid="request-input" />
          <button type="submit" className="btn primary" disabled={busy} data-testid="request-submit">
            Send
          </button>
        </form>
      );
    case 'select':
      return (
        <div className="request-controls" role="group" aria-label={request.message}>
          {(request.options ?? []).map((option, i) => (
            <button key={i} type="button" className="btn" disabled={busy} onClick={() => onAnswer(option)} data-testid="request-option">
              {typeof option === 'string' ? option : jsonPreview(option, 40)}
            </button>
          ))}
        </div>
      );
    case 'review':
      return editing ? (
        <form
          className="request-controls column"
          onSubmit={(e) => {
            e.preventDefault();
            onAnswer({ decision: 'Edit', edited: text, feedback: text });
          }}
        >
          <textarea value={text} onChange={(e) => setText(e.target.value)} rows={4} aria-label="Your edit" data-testid="request-edit-text" />
          <button type="submit" className="btn primary" disabled={busy} data-testid="request-submit">
            Send edit
          </button>
        </form>
      ) : (
        <div className="request-controls">
          <button type="button" className="btn primary" disabled={busy} onClick={() => onAnswer({ decision: 'Approve' })} data-testid="request-approve">
            Approve
          </button>
          <button type="button" className="btn" disabled={busy} onClick={() => setEditing(true)} data-testid="request-edit">
            Edit
          </button>
          <button type="button" className="btn" disabled={busy} onClick={() => onAnswer({ decision: 'Reject' })} data-testid="request-reject">
            Reject
          </button>
        </div>
      );
    case 'multiple':
      return <FieldsForm fields={request.fields ?? []} busy={busy} refused={refused} onAnswer={onAnswer} />;
    default:
      return assertNever(request.kind);
  }
}
