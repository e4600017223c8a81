// List+watch cache of one resource type (optionally one namespace and a label selector): the
// controller reads only from these caches and is told about every change. Written for the failure
// modes seen with the JS client's own informers: watch expiry (410 Gone -> relist), dropped
// connections (jittered exponential backoff), silent stalls (a watchdog restarts a watch that outlives
// its server-side timeout or never opens), and relist storms after an API server restart (a watch
// that dies young counts as a failure, so retries back off instead of hammering the server).

import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { realClock, sleep, type Clock } from './clock.js';
import { ApiError, type KubeApi, type WatchEvent } from './kube-api.js';
import { collectionPath, keyOf, type Identified, type ObjectList, type ResourceType } from './resources.js';
import type { Logger } from '../log.js';

export type InformerEventType = 'add' | 'update' | 'delete' | 'resync';

export type WatchEndReason =
  /** The server closed the stream (its timeoutSeconds elapsed): normal. */
  | 'closed'
  /** 410 Gone: our resourceVersion is too old; only a relist recovers. */
  | 'expired'
  /** Connection failure or an API error status. */
  | 'error'
  /** The watchdog gave up on a watch that did not open or outlived its timeout. */
  | 'stalled'
  | 'stopped';

export interface WatchOutcome {
  reason: WatchEndReason;
  /** How long the watch was open. */
  livedMs: number;
  /** Events (including bookmarks) it delivered. */
  events: number;
  /** For 'error': whether the failure says our list itself is unusable (e.g. 403/404) rather than the connection. */
  needsRelist?: boolean;
}

export interface WatchDecision {
  relist: boolean;
  delayMs: number;
  failures: number;
}

export interface WatchRestartPolicy {
  backoff: BackoffPolicy;
  /** A watch that lived at least this long, or delivered an event, was healthy and resets the failure count. */
  healthyAfterMs: number;
}

export const DEFAULT_WATCH_POLICY: WatchRestartPolicy = {
  backoff: { baseMs: 500, maxMs: 8_000, jitter: 0.5 },
  healthyAfterMs: 30_000,
};

/**
 * What to do after a watch ended: relist or resume from the last resourceVersion, and how long to
 * wait first. Pure, so the restart rules are unit-tested.
 */
export function decideAfterWatch(outcome: WatchOutcome, failures: number, policy: WatchRestartPolicy, random: () => number = Math.random): WatchDecision {
  const healthy = outcome.livedMs >= policy.healthyAfterMs || outcome.events > 0;
  const failed = (n: number): number => backoffDelay(n, policy.backoff, random);
  switch (outcome.reason) {
    case 'stopped':
      return { relist: false, delayMs: 0, failures };
    case 'closed':
      // Resuming a healthy watch right away is what the server's timeout expects. A watch closed right
      // after opening is not healthy (proxy, overloaded server): back off.
      return healthy ? { relist: false, delayMs: 0, failures: 0 } : { relist: false, delayMs: failed(failures + 1), failures: failures + 1 };
    case 'expired':
      // Relist storm guard: a 410 right after a relist means the server is not ready (restarting
      // watch cache); relisting at full speed would only load it more.
      return healthy ? { relist: true, delayMs: 0, failures: 0 } : { relist: true, delayMs: failed(failures + 1), failures: failures + 1 };
    case 'stalled':
    case 'error':
      // Resuming from the last resourceVersion loses nothing; if it is too old, the server says 410.
      return { relist: outcome.needsRelist === true, delayMs: failed(failures + 1), failures: failures + 1 };
  }
}

export interface InformerOptions<T extends Identified> {
  api: KubeApi;
  resource: ResourceType;
  /** undefined: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  logger: Logger;
  onEvent: (type: InformerEventType, obj: T, old?: T) => void;
  /** Replays every cached object as 'resync' this often (0: never). */
  resyncMs: number;
  clock?: Clock;
  random?: () => number;
  policy?: WatchRestartPolicy;
  /** Server-side watch timeout, randomised in this range so watches do not restart in lockstep. */
  watchTimeoutSeconds?: [number, number];
  /** Watchdog: how long a watch may take to open, and may outlive its timeout, before it is restarted. */
  openTimeoutMs?: number;
  stallGraceMs?: number;
  pageSize?: number;
  /** Observability hooks (metrics). */
  onRelist?: () => void;
  onWatchEnd?: (reason: WatchEndReason) => void;
}

/** Longest a list request may take (each page). */
const LIST_TIMEOUT_MS = 60_000;
/** Slack on top of the liveness guard, for a busy event loop. */
const LIVENESS_SLACK_MS = 30_000;

export type InformerHealth = { ok: true } | { ok: false; reason: string };

export class Informer<T extends Identified> {
  private readonly store = new Map<string, T>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly policy: WatchRestartPolicy;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private synced = false;
  private running: Promise<void> | undefined;
  private cancelResync: (() => void) | undefined;
  private lastActivity = 0;
  /** When the list/watch loop last took a step (a list page, a watch opening or ending, an event). */
  private heartbeat = 0;
  /** Why the loop ended while nobody stopped it. */
  private died: string | undefined;

  constructor(private readonly opts: InformerOptions<T>) {
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.policy = opts.policy ?? DEFAULT_WATCH_POLICY;
    this.log = opts.logger.child({ resource: opts.resource.plural, ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }) });
  }

  get description(): string {
    return `${this.opts.resource.plural}${this.opts.namespace === undefined ? '' : ` in ${this.opts.namespace}`}`;
  }

  start(): void {
    if (this.running) return;
    this.heartbeat = this.clock.now();
    this.running = this.run().then(
      () => {
        if (!this.abort.signal.aborted) this.died = 'the list/watch loop returned';
      },
      (err: unknown) => {
        this.died = `the list/watch loop crashed: ${err instanceof Error ? err.message : String(err)}`;
        this.log.error('informer loop crashed', { err });
      },
    );
    if (this.opts.resyncMs > 0) this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.cancelResync?.();
    await this.running;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** When the informer last heard from the server (list or event). */
  lastActivityAt(): number {
    return this.lastActivity;
  }

  /**
   * The longest the loop may go without a step while working as designed: a list page (bounded by its
   * request timeout), or a watch that takes the watchdog's open timeout to open and then lives its
   * server-side timeout plus the stall grace, followed by the longest backoff. Beyond it the
   * watchdog itself has failed (a watch that ignores its abort), so the cache is silently frozen.
   */
  livenessGuardMs(): number {
    const maxWatchMs = (this.opts.openTimeoutMs ?? 30_000) + (this.opts.watchTimeoutSeconds ?? [240, 300])[1] * 1000 + (this.opts.stallGraceMs ?? 30_000);
    return Math.max(LIST_TIMEOUT_MS, maxWatchMs) + this.policy.backoff.maxMs + LIVENESS_SLACK_MS;
  }

  /**
   * For the liveness probe: not ok when the loop has ended though nobody stopped it, or has taken no
   * step for longer than livenessGuardMs(). A failing list or watch that keeps retrying with backoff is
   * alive (a restart would not heal RBAC or a missing CRD). A stopped informer is ok (shutting down).
   */
  health(): InformerHealth {
    if (this.abort.signal.aborted) return { ok: true };
    if (this.died !== undefined) return { ok: false, reason: `${this.description}: ${this.died}` };
    if (this.running === undefined) return { ok: true };
    const idle = this.clock.now() - this.heartbeat;
    if (idle > this.livenessGuardMs()) return { ok: false, reason: `${this.description}: the list/watch loop has not progressed for ${Math.round(idle / 1000)} s` };
    return { ok: true };
  }

  list(): T[] {
    return [...this.store.values()];
  }

  get(namespace: string, name: string): T | undefined {
    return this.store.get(`${namespace}/${name}`);
  }

  private async run(): Promise<void> {
    let rv: string | undefined;
    let failures = 0;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      this.heartbeat = this.clock.now();
      if (rv === undefined) {
        try {
          rv = await this.relist(signal);
          this.opts.onRelist?.();
        } catch (err) {
          if (signal.aborted) break;
          failures += 1;
          const delay = backoffDelay(failures, this.policy.backoff, this.random);
          this.log.warn('list failed; retrying', { err, failures, retryInMs: delay });
          await sleep(this.clock, delay, signal);
          continue;
        }
      }
      const result = await this.watchOnce(rv, signal);
      this.heartbeat = this.clock.now();
      rv = result.rv;
      this.opts.onWatchEnd?.(result.outcome.reason);
      const decision = decideAfterWatch(result.outcome, failures, this.policy, this.random);
      if (result.outcome.reason !== 'closed' || decision.delayMs > 0) {
        this.log.info('watch ended', { reason: result.outcome.reason, livedMs: result.outcome.livedMs, events: result.outcome.events, relist: decision.relist, retryInMs: decision.delayMs, ...(result.error ? { err: result.error } : {}) });
      }
      failures = decision.failures;
      if (decision.relist) rv = undefined;
      if (decision.delayMs > 0) await sleep(this.clock, decision.delayMs, signal);
    }
  }

  /** Lists every page, replaces the cache (emitting the differences), returns the list's resourceVersion. */
  private async relist(signal: AbortSignal): Promise<string> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.opts.api.request<ObjectList<T>>({
        method: 'GET',
        path: collectionPath(this.opts.resource, this.opts.namespace),
        query: { labelSelector: this.opts.labelSelector, limit: this.opts.pageSize ?? 500, continue: cont },
        signal,
        timeoutMs: LIST_TIMEOUT_MS,
      });
      this.heartbeat = this.clock.now();
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? '';
    } while (cont !== undefined);
    this.lastActivity = this.clock.now();
    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(item);
      seen.add(key);
      const old = this.store.get(key);
      this.store.set(key, item);
      if (!old) this.emit('add', item);
      else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.emit('update', item, old);
    }
    for (const [key, old] of [...this.store]) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.emit('delete', old);
      }
    }
    if (!this.synced) this.log.info('cache synced', { objects: items.length });
    this.synced = true;
    return rv;
  }

  private async watchOnce(rv: string, outer: AbortSignal): Promise<{ outcome: WatchOutcome; rv: string; error?: unknown }> {
    const [min, max] = this.opts.watchTimeoutSeconds ?? [240, 300];
    const timeoutSeconds = Math.round(min + (max - min) * this.random());
    const abort = new AbortController();
    const onOuter = (): void => abort.abort();
    outer.addEventListener('abort', onOuter, { once: true });
    let lastRv = rv;
    let events = 0;
    let ending: WatchEndReason | undefined;
    let needsRelist = false;
    let openedAt: number | undefined;
    const started = this.clock.now();
    // Watchdog: a watch that never opens, or is still open well after the server should have closed
    // it, is stuck on a dead connection that TCP may not notice for many minutes.
    let cancelWatchdog = this.clock.setTimer(() => {
      ending ??= 'stalled';
      abort.abort();
    }, this.opts.openTimeoutMs ?? 30_000);
    const end = (reason: WatchEndReason): void => {
      ending ??= reason;
      abort.abort();
    };
    let error: unknown;
    try {
      await this.opts.api.watch(
        collectionPath(this.opts.resource, this.opts.namespace),
        { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds, labelSelector: this.opts.labelSelector },
        (event) => {
          if (ending) return;
          this.lastActivity = this.clock.now();
          this.heartbeat = this.lastActivity;
          const next = this.applyEvent(event);
          if (next.kind === 'rv') {
            events += 1;
            lastRv = next.rv;
          } else {
            needsRelist = next.kind === 'error' && next.relist;
            end(next.kind === 'expired' ? 'expired' : 'error');
            if (next.kind === 'error') error = next.error;
          }
        },
        {
          signal: abort.signal,
          onOpen: () => {
            openedAt = this.clock.now();
            this.lastActivity = openedAt;
            this.heartbeat = openedAt;
            cancelWatchdog();
            cancelWatchdog = this.clock.setTimer(() => {
              ending ??= 'stalled';
              abort.abort();
            }, timeoutSeconds * 1000 + (this.opts.stallGraceMs ?? 30_000));
          },
        },
      );
      ending ??= outer.aborted ? 'stopped' : 'closed';
    } catch (err) {
      error = err;
      if (err instanceof ApiError && err.code === 410) ending ??= 'expired';
      else {
        // 403/404 (RBAC or CRD removed) will not heal by resuming: relist, which reports it clearly.
        if (err instanceof ApiError && err.code >= 400 && err.code < 500 && err.code !== 429) needsRelist = true;
        ending ??= 'error';
      }
    } finally {
      cancelWatchdog();
      outer.removeEventListener('abort', onOuter);
    }
    if (outer.aborted) ending = 'stopped';
    const livedMs = openedAt === undefined ? 0 : this.clock.now() - openedAt;
    return { outcome: { reason: ending ?? 'closed', livedMs: Math.max(0, livedMs), events, needsRelist }, rv: lastRv, error: error ?? (ending === 'stalled' ? `no progress ${this.clock.now() - started} ms after start` : undefined) };
  }

  private applyEvent(event: WatchEvent): { kind: 'rv'; rv: string } | { kind: 'expired' } | { kind: 'error'; relist: boolean; error: unknown } {
    if (event.type === 'ERROR') {
      const status = event.object as { code?: number; reason?: string; message?: string };
      if (status.code === 410) return { kind: 'expired' };
      return { kind: 'error', relist: true, error: new ApiError(status.code ?? 500, status.reason ?? 'WatchError', status.message ?? 'watch error event') };
    }
    const obj = event.object as T;
    const rv = obj.metadata?.resourceVersion ?? '';
    if (event.type === 'BOOKMARK') return { kind: 'rv', rv };
    const key = keyOf(obj);
    const old = this.store.get(key);
    if (event.type === 'DELETED') {
      this.store.delete(key);
      this.emit('delete', obj);
    } else {
      this.store.set(key, obj);
      this.emit(old ? 'update' : 'add', obj, old);
    }
    return { kind: 'rv', rv };
  }

  private emit(type: InformerEventType, obj: T, old?: T): void {
    try {
      this.opts.onEvent(type, obj, old);
    } catch (err) {
      this.log.error('event handler failed', { err, type, object: keyOf(obj) });
    }
  }

  private scheduleResync(): void {
    // Jitter spreads the resyncs of several informers (and replicas) apart.
    const ms = Math.round(this.opts.resyncMs * (0.9 + 0.2 * this.random()));
    this.cancelResync = this.clock.setTimer(() => {
      if (this.abort.signal.aborted) return;
      if (this.synced) for (const obj of this.store.values()) this.emit('resync', obj);
      this.scheduleResync();
    }, ms);
  }
}
