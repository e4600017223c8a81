// The work queue: de-duplication, one worker per key, re-queue after done, per-key backoff, delays.
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../src/controller/work-queue.js';
import { FakeClock } from './fake-clock.js';

describe('WorkQueue', () => {
  it('hands out a key added twice only once', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.len()).toBe(0);
  });

  it('never hands a key to a second worker while the first holds it; re-queues it on done', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('ns/a');
    const first = await q.get();
    expect(first).toBe('ns/a');
    q.add('ns/a'); // changed while being processed
    expect(q.len()).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done('ns/a');
    await Promise.resolve();
    await Promise.resolve();
    expect(second).toBe('ns/a');
  });

  it('does not re-queue a key on done when it was not re-added', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('k');
    const k = await q.get();
    q.done(k!);
    expect(q.len()).toBe(0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    const got = q.get();
    q.add('x');
    expect(await got).toBe('x');
  });

  it('backs off per key exponentially and resets on forget', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock, backoff: { baseMs: 1000, maxMs: 8000 } });
    expect(q.addRateLimited('k')).toBe(1000);
    expect(q.len()).toBe(0);
    await clock.advance(999);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
    q.done((await q.get())!);
    expect(q.addRateLimited('k')).toBe(2000);
    expect(q.addRateLimited('k')).toBe(4000);
    expect(q.addRateLimited('k')).toBe(8000);
    expect(q.addRateLimited('k')).toBe(8000);
    expect(q.failures('k')).toBe(5);
    q.forget('k');
    expect(q.failures('k')).toBe(0);
    expect(q.addRateLimited('k')).toBe(1000);
  });

  it('keeps the earliest of several delayed adds of one key', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter('k', 10_000);
    q.addAfter('k', 2_000);
    q.addAfter('k', 5_000);
    expect(clock.pending()).toBe(1);
    await clock.advance(2_000);
    expect(q.len()).toBe(1);
    await clock.advance(10_000);
    expect(q.len()).toBe(1);
  });

  it('limits the overall rate of rate-limited adds with a token bucket', () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock, qps: 1, burst: 2, backoff: { baseMs: 1, maxMs: 1 } });
    expect(q.addRateLimited('a')).toBe(1);
    expect(q.addRateLimited('b')).toBe(1);
    expect(q.addRateLimited('c')).toBe(1000);
    expect(q.addRateLimited('d')).toBe(2000);
  });

  it('returns undefined to waiters on shutdown and on abort', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    const abort = new AbortController();
    const a = q.get(abort.signal);
    abort.abort();
    expect(await a).toBeUndefined();
    const b = q.get();
    q.shutDown();
    expect(await b).toBeUndefined();
    q.add('x');
    expect(await q.get()).toBeUndefined();
  });
});
