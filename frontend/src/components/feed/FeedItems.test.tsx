import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/react';
import { EventFactory } from '../../test/events';
import { ValidationItem } from './FeedItems';

describe('ValidationItem', () => {
  it('shows an attempt that was asked again as a retry, not as the failure', () => {
    const events = new EventFactory();
    const retried = { ...events.validation(false, [{ path: 'title', message: 'Field required' }]), attempt: 1, retried: true };
    const { container } = render(<ValidationItem event={retried} />);
    expect(container.textContent).toContain('attempt 1');
    expect(container.textContent).toContain('asked again');
    expect(container.textContent).toContain('Field required');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('shows the last failed attempt as the failure', () => {
    const events = new EventFactory();
    render(<ValidationItem event={events.validation(false, [{ path: 'title', message: 'Field required' }])} />);
    expect(screen.getByRole('alert').textContent).toContain('does not match its schema');
  });
});
