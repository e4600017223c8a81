// One controller per kind: a work queue of "namespace/name" keys and a few workers that reconcile
// them. Success forgets the key's failures (and requeues it if asked); failure requeues it with
// per-key backoff. Workers run only while the signal they were started with is live (leadership).

import type { Clock } from './clock.js';
import { isAlreadyExists, isConflict } from './kube-api.js';
import type { ControllerMetrics } from './metrics.js';
import { WorkQueue } from './work-queue.js';
import type { Logger } from '../log.js';

export interface ReconcileOutcome {
  requeueAfterMs?: number;
}

export type ReconcileFn = (key: string, signal: AbortSignal) => Promise<ReconcileOutcome>;

export interface ControllerOptions {
  kind: string;
  reconcile: ReconcileFn;
  workers?: number;
  clock?: Clock;
  logger: Logger;
  metrics: ControllerMetrics;
}

export class Controller {
  readonly kind: string;
  readonly queue: WorkQueue;
  private readonly log: Logger;

  constructor(private readonly opts: ControllerOptions) {
    this.kind = opts.kind;
    this.queue = new WorkQueue(opts.clock ? { clock: opts.clock } : {});
    this.log = opts.logger.child({ controller: opts.kind });
  }

  /** Runs the workers until the signal aborts; resolves when all have stopped. */
  async run(signal: AbortSignal): Promise<void> {
    const workers = Array.from({ length: this.opts.workers ?? 2 }, () => this.worker(signal));
    await Promise.all(workers);
  }

  private async worker(signal: AbortSignal): Promise<void> {
    const { metrics } = this.opts;
    for (;;) {
      const key = await this.queue.get(signal);
      if (key === undefined) return;
      const stop = metrics.reconcileDuration.startTimer({ kind: this.kind });
      try {
        const result = await this.opts.reconcile(key, signal);
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        metrics.reconcileTotal.inc({ kind: this.kind, result: result.requeueAfterMs === undefined ? 'success' : 'requeue' });
      } catch (err) {
        if (signal.aborted) {
          // Leadership ended mid-reconcile: the next leader (or this one again) reconciles it anew.
          this.queue.add(key);
        } else if (isConflict(err) || isAlreadyExists(err)) {
          // Someone changed the object since our cache saw it: re-observe and try again.
          this.log.debug('reconcile conflicted; requeued', { key, err });
          metrics.reconcileTotal.inc({ kind: this.kind, result: 'requeue' });
          this.queue.addRateLimited(key);
        } else {
          metrics.reconcileTotal.inc({ kind: this.kind, result: 'error' });
          metrics.reconcileErrors.inc({ kind: this.kind });
          const delay = this.queue.addRateLimited(key);
          this.log.warn('reconcile failed; will retry', { key, err, retryInMs: delay, failures: this.queue.failures(key) });
        }
      } finally {
        stop();
        this.queue.done(key);
      }
    }
  }
}
