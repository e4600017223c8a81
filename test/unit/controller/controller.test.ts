// The per-kind controller's workers (success, requeue, per-key backoff, leadership ending mid-reconcile)
// and the leader-only write guard.
import { describe, expect, it } from 'vitest';
import { realClock } from '../../../src/controller/clock.js';
import { Controller } from '../../../src/controller/controller.js';
import { ApiError, type KubeApi, type KubeRequest } from '../../../src/controller/kube-api.js';
import { leaderOnlyWrites, NotLeaderError } from '../../../src/controller/manager.js';
import { ControllerMetrics } from '../../../src/controller/metrics.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock, flush } from './fake-clock.js';

describe('Controller workers', () => {
  it('reconciles, requeues on request, backs off on errors, and counts each in metrics', async () => {
    const clock = new FakeClock();
    const metrics = new ControllerMetrics({ processMetrics: false });
    const seen: string[] = [];
    let fail = 2;
    const c = new Controller({
      kind: 'Thing', logger: silentLogger, metrics, clock, workers: 2,
      reconcile: async (key) => {
        seen.push(key);
        if (key === 'ns/bad' && fail-- > 0) throw new Error('boom');
        return key === 'ns/again' ? { requeueAfterMs: 5_000 } : {};
      },
    });
    const abort = new AbortController();
    const running = c.run(abort.signal);
    c.queue.add('ns/ok');
    c.queue.add('ns/bad');
    c.queue.add('ns/again');
    await flush();
    expect(seen.sort()).toEqual(['ns/again', 'ns/bad', 'ns/ok']);
    await clock.advance(1_000); // first retry of ns/bad after 1 s
    await clock.advance(2_000); // second after 2 s more
    await clock.advance(2_000); // ns/again after 5 s
    expect(seen.filter((k) => k === 'ns/bad')).toHaveLength(3);
    expect(seen.filter((k) => k === 'ns/again')).toHaveLength(2);
    expect(c.queue.failures('ns/bad')).toBe(0);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/pyworkflow_retention_reconcile_errors_total\{kind="Thing"\} 2/);
    expect(text).toMatch(/pyworkflow_retention_reconcile_total\{kind="Thing",result="requeue"\} 2/);
    abort.abort();
    await running;
  });

  it('a key whose reconcile was cut short by losing leadership is reconciled again later', async () => {
    const metrics = new ControllerMetrics({ processMetrics: false });
    const abort = new AbortController();
    const c = new Controller({
      kind: 'Thing', logger: silentLogger, metrics, clock: realClock, workers: 1,
      reconcile: async (_key, signal) => {
        abort.abort();
        throw new Error(signal.aborted ? 'aborted' : 'x');
      },
    });
    c.queue.add('ns/a');
    await c.run(abort.signal);
    expect(c.queue.len()).toBe(1);
  });
});

describe('leaderOnlyWrites', () => {
  it('lets reads through always and writes only while leading', async () => {
    const calls: string[] = [];
    const api: KubeApi = {
      request: async <T>(req: KubeRequest): Promise<T> => {
        calls.push(req.method);
        return {} as T;
      },
      watch: async () => undefined,
    };
    let leading = false;
    const guarded = leaderOnlyWrites(api, () => leading);
    await guarded.request({ method: 'GET', path: '/x' });
    await expect(guarded.request({ method: 'PUT', path: '/x' })).rejects.toBeInstanceOf(NotLeaderError);
    leading = true;
    await guarded.request({ method: 'POST', path: '/x' });
    expect(calls).toEqual(['GET', 'POST']);
  });

  it('classifies API errors the way reconcilers need', () => {
    expect(new ApiError(409, 'AlreadyExists', '').reason).toBe('AlreadyExists');
  });
});
