// The controller runtime: shared informers (one per watched kind and label selector, with any number
// of event handlers), one work-queue controller per reconciled kind, and leader election deciding when
// the workers run; writes are refused outright while this replica does not lead, so two replicas never
// act at once. A library: it knows no reconciler. Each reconciler declares its own watches and
// mappings against it (src/reconcilers/setup.ts), as controller-runtime's SetupWithManager does.

import { InformerCache, type ObjectCache } from './cache.js';
import { realClock, sleep, type Clock } from './clock.js';
import { Controller, type ControllerOptions } from './controller.js';
import { Informer, type InformerEventType } from './informer.js';
import type { KubeApi } from './kube-api.js';
import { kubeLeaseClient, LeaderElector, type LeaseClient } from './leader-election.js';
import type { ControllerMetrics } from './metrics.js';
import { keyOf, type Identified, type ResourceType } from './resources.js';
import type { Logger } from '../log.js';

export interface ManagerOptions {
  api: KubeApi;
  logger: Logger;
  metrics: ControllerMetrics;
  identity: string;
  /** Namespaces to watch; empty: all. */
  namespaces: readonly string[];
  resyncMs: number;
  /** undefined: no leader election (this replica always acts). */
  leaderElection?: { namespace: string; name: string; client?: LeaseClient };
  workers?: number;
  clock?: Clock;
}

/** Raised instead of sending a write while this replica is not the leader. */
export class NotLeaderError extends Error {
  constructor(what: string) {
    super(`not the leader: refusing ${what}`);
    this.name = 'NotLeaderError';
  }
}

/** Writes pass only while `leading()`: the last line of defence against a deposed leader's in-flight work. */
export function leaderOnlyWrites(api: KubeApi, leading: () => boolean): KubeApi {
  return {
    request(req) {
      if (req.method !== 'GET' && !leading()) return Promise.reject(new NotLeaderError(`${req.method} ${req.path}`));
      return api.request(req);
    },
    watch: (path, query, onEvent, options) => api.watch(path, query, onEvent, options),
  };
}

export type EventHandler<T> = (type: InformerEventType, obj: T) => void;

/** A shared watch of one kind: its cache, and a way to add handlers for its events. */
export interface Watch<T> {
  cache: ObjectCache<T>;
  onEvent(handler: EventHandler<T>): void;
}

/** A reconciled kind: its reconcile, and the objects to queue whenever this replica starts acting. */
export interface ControllerRegistration<T extends Identified> {
  kind: string;
  reconcile: ControllerOptions['reconcile'];
  /** Everything may have changed while another replica (or nobody) was acting: all of these are queued. */
  primary: ObjectCache<T>;
}

export class Manager {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ControllerMetrics;
  readonly identity: string;
  /** The API client for reconcilers: it refuses writes while this replica does not lead. */
  readonly api: KubeApi;
  private readonly informers: Array<Informer<Identified>> = [];
  private readonly watches = new Map<string, Watch<Identified>>();
  private readonly controllers: Array<{ controller: Controller; primary: ObjectCache<Identified> }> = [];
  private leading = false;
  private reportedProblems = '';
  private acting: { abort: AbortController; done: Promise<void> } | undefined;
  private readonly elector: LeaderElector | undefined;

  constructor(private readonly opts: ManagerOptions) {
    this.clock = opts.clock ?? realClock;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
    this.identity = opts.identity;
    this.api = leaderOnlyWrites(opts.api, () => this.leading);

    if (opts.leaderElection) {
      const le = opts.leaderElection;
      this.elector = new LeaderElector({
        client: le.client ?? kubeLeaseClient(opts.api, le.namespace, le.name),
        identity: opts.identity,
        namespace: le.namespace,
        name: le.name,
        clock: this.clock,
        logger: opts.logger,
        onStartedLeading: () => this.startActing(),
        onStoppedLeading: () => void this.stopActing(),
        onNewLeader: (id) => this.logger.info('leader observed', { leader: id }),
      });
    }
  }

  /**
   * The shared watch of `resource` (optionally only objects matching `labelSelector`) in every watched
   * namespace: one informer per namespace however many reconcilers ask for it. Call before `run`.
   */
  watch<T extends Identified>(resource: ResourceType, labelSelector?: string): Watch<T> {
    const id = `${resource.plural}.${resource.group}?${labelSelector ?? ''}`;
    const existing = this.watches.get(id);
    if (existing) return existing as unknown as Watch<T>;
    const handlers: Array<EventHandler<T>> = [];
    const scopes: Array<string | undefined> = this.opts.namespaces.length > 0 ? [...this.opts.namespaces] : [undefined];
    const byNamespace = new Map<string | undefined, Informer<T>>();
    for (const namespace of scopes) {
      const informer = new Informer<T>({
        api: this.opts.api,
        resource,
        ...(namespace === undefined ? {} : { namespace }),
        ...(labelSelector === undefined ? {} : { labelSelector }),
        logger: this.logger,
        onEvent: (type, obj) => {
          for (const h of handlers) h(type, obj);
        },
        resyncMs: this.opts.resyncMs,
        clock: this.clock,
        onRelist: () => this.metrics.relists.inc({ resource: resource.plural }),
        onWatchEnd: (reason) => this.metrics.watchEnds.inc({ resource: resource.plural, reason }),
      });
      byNamespace.set(namespace, informer);
      this.informers.push(informer as unknown as Informer<Identified>);
    }
    const watch: Watch<T> = { cache: new InformerCache(byNamespace), onEvent: (h) => void handlers.push(h) };
    this.watches.set(id, watch);
    return watch;
  }

  /** Adds a reconciled kind; its workers run while this replica leads. Returns it (for its queue). */
  controller<T extends Identified>(registration: ControllerRegistration<T>): Controller {
    const controller = new Controller({
      kind: registration.kind,
      reconcile: registration.reconcile,
      logger: this.logger,
      metrics: this.metrics,
      clock: this.clock,
      workers: this.opts.workers ?? 2,
    });
    this.controllers.push({ controller, primary: registration.primary });
    return controller;
  }

  /** Every cache has listed once: ready to serve (leader or not). */
  ready(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  /**
   * For /healthz: the problems of every informer whose list/watch loop has died or stalled beyond its
   * guard (Informer.health). Empty = healthy. A restart is the only cure for a frozen cache.
   */
  healthProblems(): string[] {
    const problems: string[] = [];
    for (const i of this.informers) {
      const h = i.health();
      if (!h.ok) problems.push(h.reason);
    }
    if (problems.join('\n') !== this.reportedProblems) {
      this.reportedProblems = problems.join('\n');
      if (problems.length > 0) this.logger.error('unhealthy: a watch loop has died or stalled; the liveness probe fails', { problems });
    }
    return problems;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Runs until the signal aborts, then stops acting, releases the lease and stops the watches. */
  async run(signal: AbortSignal): Promise<void> {
    for (const i of this.informers) i.start();
    const election = new AbortController();
    const electing = this.elector ? this.elector.run(election.signal) : Promise.resolve(this.startActing());
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    this.logger.info('shutting down');
    await this.stopActing();
    election.abort();
    await electing;
    for (const c of this.controllers) c.controller.queue.shutDown();
    await Promise.all(this.informers.map((i) => i.stop()));
    this.logger.info('stopped');
  }

  private startActing(): void {
    if (this.acting) return;
    this.leading = true;
    this.metrics.leader.set(1);
    const abort = new AbortController();
    const done = (async () => {
      // Act on complete caches only: a partial cache would read as "backend not found", "Job not counted yet".
      while (!this.ready() && !abort.signal.aborted) await sleep(this.clock, 100, abort.signal);
      if (abort.signal.aborted) return;
      const queued: Record<string, number> = {};
      for (const { controller, primary } of this.controllers) {
        const all = primary.list();
        for (const o of all) controller.queue.add(keyOf(o));
        queued[controller.kind] = all.length;
      }
      this.logger.info('acting as leader', queued);
      await Promise.all(this.controllers.map((c) => c.controller.run(abort.signal)));
    })();
    this.acting = { abort, done };
  }

  private async stopActing(): Promise<void> {
    const acting = this.acting;
    this.leading = false;
    this.metrics.leader.set(0);
    if (!acting) return;
    this.acting = undefined;
    acting.abort.abort();
    await acting.done;
  }
}
