// The real clock's timers: delays beyond setTimeout's 2^31-1 ms limit must wait, not fire at once.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { realClock } from '../../../src/controller/clock.js';

describe('realClock.setTimer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits the full delay even when it exceeds 24.8 days, and can be cancelled', () => {
    vi.useFakeTimers();
    const fired: number[] = [];
    realClock.setTimer(() => fired.push(1), 40 * 86_400_000);
    const cancel = realClock.setTimer(() => fired.push(2), 40 * 86_400_000);
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(30 * 86_400_000);
    expect(fired).toEqual([]);
    cancel();
    vi.advanceTimersByTime(10 * 86_400_000);
    expect(fired).toEqual([1]);
  });
});
