import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import type { Field } from '../../api/types';
import { initialValues } from '../../inputs/schema';
import { InputsForm } from './InputsForm';

const fields: Field[] = [
  { name: 'topic', type: 'string', required: true, description: 'What to write about' },
  { name: 'tone', type: 'string', required: false, enum: ['formal', 'casual'], default: 'casual' },
  { name: 'words', type: 'integer', required: false, default: 300 },
  { name: 'draft', type: 'boolean', required: false, default: true },
  { name: 'tags', type: 'array', required: false },
];

describe('InputsForm', () => {
  it('renders a labelled control per declared input', () => {
    const onChange = vi.fn();
    render(<InputsForm fields={fields} values={initialValues(fields)} errors={{ topic: 'Required' }} onChange={onChange} />);
    const topic = screen.getByLabelText(/topic/) as HTMLInputElement;
    expect(topic.type).toBe('text');
    expect(topic.getAttribute('aria-required')).toBe('true');
    expect(topic.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('What to write about')).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toBe('Required');

    const tone = screen.getByLabelText(/tone/) as HTMLSelectElement;
    expect(tone.tagName).toBe('SELECT');
    expect(Array.from(tone.options).map((o) => o.text)).toEqual(['— not set —', 'formal', 'casual']);
    expect(tone.selectedOptions[0]?.text).toBe('casual');

    const words = screen.getByLabelText(/words/) as HTMLInputElement;
    expect(words.type).toBe('number');
    expect(words.step).toBe('1');
    expect(words.value).toBe('300');

    const draft = screen.getByLabelText(/draft/) as HTMLInputElement;
    expect(draft.type).toBe('checkbox');
    expect(draft.checked).toBe(true);

    expect((screen.getByLabelText(/tags/) as HTMLElement).tagName).toBe('TEXTAREA');

    fireEvent.change(words, { target: { value: '12' } });
    expect(onChange).toHaveBeenCalledWith('words', '12');
    fireEvent.click(draft);
    expect(onChange).toHaveBeenCalledWith('draft', false);
  });
});
