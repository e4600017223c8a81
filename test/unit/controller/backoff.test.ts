// Jittered exponential backoff: growth, cap, jitter bounds.
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/controller/backoff.js';

describe('backoffDelay', () => {
  const policy = { baseMs: 500, maxMs: 8000 };
  it('doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 100, 10_000].map((n) => backoffDelay(n, policy))).toEqual([0, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });
  it('keeps jittered delays within [d*(1-jitter), d]', () => {
    const p = { ...policy, jitter: 0.5 };
    expect(backoffDelay(3, p, () => 0)).toBe(2000);
    expect(backoffDelay(3, p, () => 0.999999)).toBe(1000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(4, p);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});
