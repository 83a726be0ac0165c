import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import type { HumanField } from '../../generated/events';
import { api, ApiError } from '../../api/client';
import { EventFactory } from '../../test/events';
import { useRunStore } from '../../state/runStore';
import { emptyFeed } from '../../run/feed';
import { FieldsForm } from './FieldsForm';
import { RequestCard } from './RequestCard';

const FIELDS: HumanField[] = [
  { id: 'target', label: 'Target', message: 'Where to?', type: 'select', options: ['staging', { label: 'Production', value: 'prod' }] },
  { id: 'confirm', label: 'Confirm', type: 'approve' },
  { id: 'notes', label: 'Notes', type: 'input', required: false },
  { id: 'tags', label: 'Tags', type: 'select', mode: 'multiple', options: ['a', 'b', 'c'] },
  { id: 'verdict', label: 'Verdict', type: 'review' },
];

function field(id: string) {
  const found = screen.getAllByTestId('request-field').find((el) => el.getAttribute('data-field') === id);
  if (!found) throw new Error(`no field ${id}`);
  return within(found);
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

describe('FieldsForm', () => {
  it('shows every field in one form and sends one answer on Submit', () => {
    const sent: unknown[] = [];
    render(<FieldsForm fields={FIELDS} busy={false} refused={{}} onAnswer={(v) => sent.push(v)} />);
    expect(screen.getAllByTestId('request-field')).toHaveLength(5);
    expect(screen.getAllByTestId('request-submit')).toHaveLength(1);

    fireEvent.click(screen.getByTestId('request-submit'));
    expect(sent).toEqual([]);
    const missing = screen.getAllByTestId('field-problem').map((el) => el.textContent);
    expect(missing).toEqual(['Target is required', 'Confirm is required', 'Tags is required', 'Verdict is required']);

    fireEvent.change(field('target').getByTestId('field-select'), { target: { value: '1' } });
    fireEvent.click(field('confirm').getByTestId('field-reject'));
    fireEvent.click(field('tags').getAllByTestId('field-option')[2]!);
    fireEvent.click(field('tags').getAllByTestId('field-option')[0]!);
    fireEvent.change(field('verdict').getByTestId('field-decision'), { target: { value: 'Edit' } });
    fireEvent.change(field('verdict').getByTestId('field-feedback'), { target: { value: 'shorter' } });
    expect(screen.queryAllByTestId('field-problem')).toHaveLength(0);
    fireEvent.click(screen.getByTestId('request-submit'));
    expect(sent).toEqual([{ target: 'prod', confirm: false, tags: ['c', 'a'], verdict: { decision: 'Edit', feedback: 'shorter' } }]);
  });

  it('shows what the server refused next to its field', () => {
    render(<FieldsForm fields={FIELDS} busy={false} refused={{ notes: 'must be text' }} onAnswer={() => undefined} />);
    expect(field('notes').getByTestId('field-problem').textContent).toBe('Notes must be text');
  });
});

describe('RequestCard for a multiple request', () => {
  it('answers through the API once and shows a refusal per field', async () => {
    const events = new EventFactory();
    useRunStore.setState({ feed: emptyFeed('run-1') });
    const request = events.fieldsRequest('run-1-h1', [
      { id: 'name', label: 'Name', type: 'input' },
      { id: 'ok', label: 'OK', type: 'approve', default: true },
    ]);
    const answer = vi
      .spyOn(api, 'answerRun')
      .mockRejectedValueOnce(new ApiError(400, 'invalid_answer', "'name' must be text", { name: 'must be text' }))
      .mockResolvedValueOnce({ run_id: 'run-1', status: 'running' });
    render(<RequestCard item={{ kind: 'request', id: 'request-run-1-h1', request, response: null }} />);
    expect(screen.getByTestId('request-card').getAttribute('data-kind')).toBe('multiple');
    fireEvent.change(field('name').getByTestId('field-input'), { target: { value: 'Ada' } });
    fireEvent.click(screen.getByTestId('request-submit'));
    await waitFor(() => expect(field('name').getByTestId('field-problem').textContent).toBe('Name must be text'));
    expect(screen.getByTestId('request-error').textContent).toContain('must be text');
    fireEvent.click(screen.getByTestId('request-submit'));
    await waitFor(() => expect(screen.getByTestId('request-card').getAttribute('data-answered')).toBe('true'));
    expect(answer).toHaveBeenCalledTimes(2);
    expect(answer).toHaveBeenLastCalledWith('run-1', 'run-1-h1', { name: 'Ada', ok: true });
    expect(screen.getByTestId('request-answer').textContent).toContain('Ada');
  });
});
