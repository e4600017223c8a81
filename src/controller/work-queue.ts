// A rate-limited, de-duplicating work queue of reconcile keys ("namespace/name"), with the semantics of
// client-go's workqueue: a key waits at most once, is never handed to two workers at once, and a key
// re-added while it is being processed is handed out again only after done().

import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { realClock, type Clock } from './clock.js';

export interface WorkQueueOptions {
  clock?: Clock;
  /** Per-key backoff after failed reconciles (default 1 s doubling up to 5 min). */
  backoff?: BackoffPolicy;
  /** Overall rate of rate-limited re-adds (token bucket; default 10/s, burst 100). */
  qps?: number;
  burst?: number;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly qps: number;
  private readonly burst: number;
  /** Keys waiting to be handed out, in order. */
  private readonly queue: string[] = [];
  /** Keys that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<string>();
  /** Keys a worker holds right now. */
  private readonly processing = new Set<string>();
  /** Delayed adds: the earliest pending time per key and how to cancel it. */
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  private readonly failureCount = new Map<string, number>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private tokens: number;
  private tokensAt: number;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.backoff = options.backoff ?? { baseMs: 1000, maxMs: 300_000 };
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    this.tokens = this.burst;
    this.tokensAt = this.clock.now();
  }

  /** Queues key unless it is already waiting. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // A key being processed goes back in the queue from done(), so two workers never hold it.
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Queues key after ms; of several pending delayed adds of one key, the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.cancel();
    const cancel = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, cancel });
  }

  /** Queues key after its per-key backoff (which grows with each call until forget) and the overall rate limit. */
  addRateLimited(key: string): number {
    const failures = (this.failureCount.get(key) ?? 0) + 1;
    this.failureCount.set(key, failures);
    const delay = Math.max(backoffDelay(failures, this.backoff), this.reserveToken());
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure history (after a successful reconcile). */
  forget(key: string): void {
    this.failureCount.delete(key);
  }

  failures(key: string): number {
    return this.failureCount.get(key) ?? 0;
  }

  /**
   * The next key to process, waiting until there is one; undefined once the queue shuts down or the
   * signal aborts. The caller must call done(key) when finished with it.
   */
  get(signal?: AbortSignal): Promise<string | undefined> {
    if (this.shuttingDown || signal?.aborted) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    return new Promise((resolve) => {
      const waiter = (k: string | undefined): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(k === undefined ? undefined : this.take(k));
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Releases a key from get(); if it was re-added meanwhile, it is queued again now. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  /** Keys waiting to be handed out. */
  len(): number {
    return this.queue.length;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** Stops handing out keys; waiting get() calls resolve undefined; delayed adds are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) d.cancel();
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(key);
    else this.queue.push(key);
  }

  /** Token bucket: 0 while tokens are left, else how long until the reserved token is earned. */
  private reserveToken(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.tokensAt) / 1000) * this.qps);
    this.tokensAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }
}
