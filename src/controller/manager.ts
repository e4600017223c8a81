// Wires the controller together: informers (policies, backends, and the CronJobs/Jobs/pods labelled as
// ours) feed both controllers' queues; leader election decides when the workers run; writes are
// refused outright while this replica does not lead, so two replicas never act at once.

import { LABELS } from '../api/common.js';
import type { RetentionPolicy, StorageBackend } from '../api/generated/types.js';
import { reconcileRetentionPolicy } from '../reconcilers/retention-policy.js';
import { reconcileStorageBackend } from '../reconcilers/storage-backend.js';
import { MANAGED_SELECTOR, nameLabelValue, POLICY_UID_ANNOTATION } from '../reconcilers/names.js';
import type { ReconcileContext } from '../reconcilers/context.js';
import type { CronJob, Job, Pod } from '../reconcilers/workloads.js';
import { InformerCache } from './cache.js';
import { realClock, sleep, type Clock } from './clock.js';
import { Controller } from './controller.js';
import { kubeEventRecorder } from './events.js';
import { Informer, type InformerEventType } from './informer.js';
import type { KubeApi } from './kube-api.js';
import { kubeLeaseClient, LeaderElector, type LeaseClient } from './leader-election.js';
import type { ControllerMetrics } from './metrics.js';
import { CRONJOBS, JOBS, PODS, RETENTION_POLICIES, STORAGE_BACKENDS, keyOf, type Identified, type ResourceType } from './resources.js';
import type { Logger } from '../log.js';

export interface ManagerOptions {
  api: KubeApi;
  logger: Logger;
  metrics: ControllerMetrics;
  identity: string;
  runImage: string;
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

export class Manager {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly informers: Array<Informer<Identified>> = [];
  private readonly rp: Controller;
  private readonly sb: Controller;
  private readonly ctx: ReconcileContext;
  private leading = false;
  private reportedProblems = '';
  private acting: { abort: AbortController; done: Promise<void> } | undefined;
  private readonly elector: LeaderElector | undefined;

  constructor(private readonly opts: ManagerOptions) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger;
    const scopes: Array<string | undefined> = opts.namespaces.length > 0 ? [...opts.namespaces] : [undefined];
    const cache = <T extends Identified>(resource: ResourceType, labelSelector: string | undefined, onEvent: (type: InformerEventType, obj: T) => void): InformerCache<T> => {
      const map = new Map<string | undefined, Informer<T>>();
      for (const namespace of scopes) {
        const informer = new Informer<T>({
          api: opts.api,
          resource,
          ...(namespace === undefined ? {} : { namespace }),
          ...(labelSelector === undefined ? {} : { labelSelector }),
          logger: opts.logger,
          onEvent,
          resyncMs: opts.resyncMs,
          clock: this.clock,
          onRelist: () => opts.metrics.relists.inc({ resource: resource.plural }),
          onWatchEnd: (reason) => opts.metrics.watchEnds.inc({ resource: resource.plural, reason }),
        });
        map.set(namespace, informer);
        this.informers.push(informer as unknown as Informer<Identified>);
      }
      return new InformerCache(map);
    };

    const api = leaderOnlyWrites(opts.api, () => this.leading);
    const controllerOpts = { logger: opts.logger, metrics: opts.metrics, clock: this.clock, workers: opts.workers ?? 2 };
    this.rp = new Controller({ ...controllerOpts, kind: 'RetentionPolicy', reconcile: (key, signal) => reconcileRetentionPolicy(this.ctx, key, signal) });
    this.sb = new Controller({ ...controllerOpts, kind: 'StorageBackend', reconcile: (key, signal) => reconcileStorageBackend(this.ctx, key, signal) });

    const policies = cache<RetentionPolicy>(RETENTION_POLICIES, undefined, (_type, p) => this.rp.queue.add(keyOf(p)));
    const backends = cache<StorageBackend>(STORAGE_BACKENDS, undefined, (_type, b) => {
      this.sb.queue.add(keyOf(b));
      // Policies follow their backend (suspend when it breaks, resume when fixed).
      const ns = b.metadata.namespace ?? '';
      for (const p of policies.list(ns)) if (p.spec?.backendRef?.name === b.metadata.name) this.rp.queue.add(keyOf(p));
    });
    // Children: only real changes matter (the policy and backend resyncs cover the rest).
    const child = (type: InformerEventType, ns: string, policyKey: string | undefined, backendLabel: string | undefined): void => {
      if (type === 'resync') return;
      if (policyKey) this.rp.queue.add(policyKey);
      if (backendLabel) {
        const b = backends.list(ns).find((x) => nameLabelValue(x.metadata.name ?? '') === backendLabel);
        if (b) this.sb.queue.add(keyOf(b));
      }
    };
    // A policy that is gone still gets its key reconciled: its run pods wait for it to let them go.
    const policyByLabel = (ns: string, value: string | undefined): string | undefined => {
      const p = value === undefined ? undefined : policies.list(ns).find((x) => nameLabelValue(x.metadata.name ?? '') === value);
      return p ? keyOf(p) : value === undefined ? undefined : `${ns}/${value}`;
    };
    const cronJobs = cache<CronJob>(CRONJOBS, MANAGED_SELECTOR, (type, c) => {
      const owner = c.metadata.ownerReferences?.find((r) => r.controller === true && r.kind === 'RetentionPolicy');
      child(type, c.metadata.namespace ?? '', owner ? `${c.metadata.namespace ?? ''}/${owner.name}` : undefined, undefined);
    });
    const jobs = cache<Job>(JOBS, MANAGED_SELECTOR, (type, j) => {
      const ns = j.metadata.namespace ?? '';
      const uid = j.metadata.annotations?.[POLICY_UID_ANNOTATION];
      const p = policies.list(ns).find((x) => x.metadata.uid === uid);
      child(type, ns, p ? keyOf(p) : policyByLabel(ns, j.metadata.labels?.[LABELS.policy]), j.metadata.labels?.[LABELS.backend]);
    });
    const pods = cache<Pod>(PODS, MANAGED_SELECTOR, (type, pod) => {
      const ns = pod.metadata.namespace ?? '';
      child(type, ns, policyByLabel(ns, pod.metadata.labels?.[LABELS.policy]), pod.metadata.labels?.[LABELS.backend]);
    });

    this.ctx = {
      api,
      policies,
      backends,
      cronJobs,
      jobs,
      pods,
      clock: this.clock,
      logger: opts.logger,
      events: kubeEventRecorder(api, this.clock, opts.identity, opts.logger),
      metrics: opts.metrics,
      runImage: opts.runImage,
    };

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
        onNewLeader: (id) => this.log.info('leader observed', { leader: id }),
      });
    }
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
      if (problems.length > 0) this.log.error('unhealthy: a watch loop has died or stalled; the liveness probe fails', { problems });
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
    this.log.info('shutting down');
    await this.stopActing();
    election.abort();
    await electing;
    this.rp.queue.shutDown();
    this.sb.queue.shutDown();
    await Promise.all(this.informers.map((i) => i.stop()));
    this.log.info('stopped');
  }

  private startActing(): void {
    if (this.acting) return;
    this.leading = true;
    this.opts.metrics.leader.set(1);
    const abort = new AbortController();
    const done = (async () => {
      // Act on complete caches only: a partial cache would read as "backend not found", "Job not counted yet".
      while (!this.ready() && !abort.signal.aborted) await sleep(this.clock, 100, abort.signal);
      if (abort.signal.aborted) return;
      // Everything may have changed while another replica (or nobody) was acting.
      for (const p of this.ctx.policies.list()) this.rp.queue.add(keyOf(p));
      for (const b of this.ctx.backends.list()) this.sb.queue.add(keyOf(b));
      this.log.info('acting as leader', { policies: this.ctx.policies.list().length, backends: this.ctx.backends.list().length });
      await Promise.all([this.rp.run(abort.signal), this.sb.run(abort.signal)]);
    })();
    this.acting = { abort, done };
  }

  private async stopActing(): Promise<void> {
    const acting = this.acting;
    this.leading = false;
    this.opts.metrics.leader.set(0);
    if (!acting) return;
    this.acting = undefined;
    acting.abort.abort();
    await acting.done;
  }
}
