import { metricName, recordId, toLabel, toTimestamp } from './records.ts';
import { retryDelay } from './retry.ts';
import { RetryableError, ThrottledError } from '@muxly/common';

describe('recordId', () => {
  it('is deterministic in source, stream, key and version', () => {
    expect(recordId('hubspot', 'contacts', '1', 'v1')).toBe(recordId('hubspot', 'contacts', '1', 'v1'));
    expect(recordId('hubspot', 'contacts', '1', 'v1')).not.toBe(recordId('hubspot', 'contacts', '1', 'v2'));
    expect(recordId('hubspot', 'contacts', '1', 'v1')).not.toBe(recordId('hubspot', 'deals', '1', 'v1'));
    expect(recordId('a', 'b', 'c', undefined).length).toBeLessThanOrEqual(200);
  });
});

describe('value helpers', () => {
  it.each([
    ['2026-03-01T10:00:00Z', '2026-03-01T10:00:00.000Z'],
    ['20260301', '2026-03-01T00:00:00.000Z'],
    [1772359200, '2026-03-01T10:00:00.000Z'],
    [1772359200000, '2026-03-01T10:00:00.000Z'],
    ['1772359200000', '2026-03-01T10:00:00.000Z'],
    ['not a date', undefined],
    [null, undefined],
  ])('toTimestamp(%p)', (value, expected) => {
    expect(toTimestamp(value)).toBe(expected);
  });

  it('keeps only flat labels', () => {
    expect(toLabel('x')).toBe('x');
    expect(toLabel(3)).toBe(3);
    expect(toLabel({})).toBeUndefined();
    expect(toLabel(Number.NaN)).toBeUndefined();
  });

  it('makes metric names valid', () => {
    expect(metricName('ga4.', 'activeUsers')).toBe('ga4.activeUsers');
    expect(metricName('', '7day users')).toBe('_7day_users');
  });
});

describe('retryDelay', () => {
  const policy = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 1_000 };
  it('honors Retry-After up to the cap', () => {
    expect(retryDelay(new ThrottledError('x', { retryAfterMs: 700 }), 1, policy)).toBe(700);
    expect(retryDelay(new ThrottledError('x', { retryAfterMs: 70_000 }), 1, policy)).toBe(1_000);
  });
  it('backs off exponentially with jitter otherwise', () => {
    expect(retryDelay(new RetryableError('x'), 1, policy, () => 1)).toBe(100);
    expect(retryDelay(new RetryableError('x'), 3, policy, () => 1)).toBe(400);
    expect(retryDelay(new RetryableError('x'), 3, policy, () => 0)).toBe(200);
    expect(retryDelay(new RetryableError('x'), 10, policy, () => 1)).toBe(1_000);
  });
});
