// Leader election over a coordination.k8s.io/v1 Lease, with client-go's rules: a candidate takes the
// lease only when its holder has not renewed it for a full lease duration as observed on the
// candidate's own clock (no trust in other machines' clocks), and a leader that cannot renew within
// the renew deadline (shorter than the lease duration) stops acting at once. Every write carries the
// lease's resourceVersion, so of two candidates racing for one lease exactly one wins.

import { realClock, sleep, type Clock } from './clock.js';
import { isConflict, isNotFound, type KubeApi } from './kube-api.js';
import { LEASES, collectionPath, objectPath, type ObjectMeta } from './resources.js';
import type { Logger } from '../log.js';

/** What the leader election needs: leases in its namespace (a Role, not a ClusterRole). */
export const RBAC = [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }] as const;

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: LeaseSpec;
}

/** The three lease calls; a fake in unit tests. Errors: isConflict for a lost race, anything else is a failed attempt. */
export interface LeaseClient {
  get(signal: AbortSignal): Promise<Lease | undefined>;
  create(lease: Lease, signal: AbortSignal): Promise<Lease>;
  update(lease: Lease, signal: AbortSignal): Promise<Lease>;
}

export function kubeLeaseClient(api: KubeApi, namespace: string, name: string): LeaseClient {
  const timeoutMs = 5_000;
  return {
    async get(signal) {
      try {
        return await api.request<Lease>({ method: 'GET', path: objectPath(LEASES, namespace, name), signal, timeoutMs });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    create: (lease, signal) => api.request<Lease>({ method: 'POST', path: collectionPath(LEASES, namespace), body: lease, signal, timeoutMs }),
    update: (lease, signal) => api.request<Lease>({ method: 'PUT', path: objectPath(LEASES, namespace, name), body: lease, signal, timeoutMs }),
  };
}

export interface LeaderElectionOptions {
  client: LeaseClient;
  identity: string;
  namespace: string;
  name: string;
  /** How long others wait after the last observed renewal before taking over (default 15 s). */
  leaseDurationMs?: number;
  /** A leader that could not renew for this long stops acting (default 10 s; must be < lease duration). */
  renewDeadlineMs?: number;
  /** Time between attempts (default 2 s). */
  retryPeriodMs?: number;
  clock?: Clock;
  random?: () => number;
  logger: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
}

/** MicroTime as the API server wants it (RFC 3339 with microseconds). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private leading = false;
  private lease: Lease | undefined;
  /** The holder record last seen, and when (on our clock) it last changed. */
  private observedRecord = '';
  private observedAt = 0;
  private lastRenewAt = 0;
  private cancelDeadline: (() => void) | undefined;
  /** Aborts in-flight lease requests when leadership is given up. */
  private attempt = new AbortController();
  private knownLeader = '';

  constructor(private readonly opts: LeaderElectionOptions) {
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseDurationMs) throw new Error('leader election: the renew deadline must be shorter than the lease duration');
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The identity last seen holding the lease ('' when unknown). */
  leader(): string {
    return this.knownLeader;
  }

  /** Campaigns, leads and renews until the signal aborts; then releases the lease if held. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.opts.logger;
    while (!signal.aborted) {
      // The renewal counts from when it was sent: that is the latest moment others can observe it.
      const sentAt = this.clock.now();
      const ok = await this.tryAcquireOrRenew(signal);
      if (ok) this.lastRenewAt = sentAt;
      if (ok && !this.leading && !signal.aborted) this.startLeading();
      if (ok && this.leading) this.armDeadline();
      // Jitter on candidates' retries spreads replicas that start together.
      const wait = this.leading ? this.retryPeriodMs : Math.round(this.retryPeriodMs * (1 + 0.2 * this.random()));
      await sleep(this.clock, wait, signal);
    }
    if (this.leading) {
      this.stopLeading('shutting down');
      await this.release();
    } else {
      log.debug('leader election stopped');
    }
  }

  private startLeading(): void {
    this.leading = true;
    this.opts.logger.info('became leader', { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity });
    this.opts.onStartedLeading();
  }

  /** Stop acting now: in-flight lease calls are abandoned and the callback stops the workers. */
  private stopLeading(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.cancelDeadline?.();
    this.attempt.abort();
    this.attempt = new AbortController();
    const fields = { reason: why, identity: this.opts.identity };
    if (why === 'shutting down') this.opts.logger.info('stopped leading', fields);
    else this.opts.logger.warn('stopped leading', fields);
    this.opts.onStoppedLeading();
  }

  /** Renew-deadline guard: fires even while a renewal request hangs on a dead connection. */
  private armDeadline(): void {
    this.cancelDeadline?.();
    const due = this.lastRenewAt + this.renewDeadlineMs;
    this.cancelDeadline = this.clock.setTimer(() => {
      if (this.leading && this.clock.now() >= this.lastRenewAt + this.renewDeadlineMs) {
        this.stopLeading(`could not renew the lease for ${this.renewDeadlineMs} ms`);
      }
    }, due - this.clock.now());
  }

  private async tryAcquireOrRenew(outer: AbortSignal): Promise<boolean> {
    const signal = AbortSignal.any([outer, this.attempt.signal]);
    const now = this.clock.now();
    const me = this.opts.identity;
    try {
      const current = await this.opts.client.get(signal);
      if (!current) {
        const created = await this.opts.client.create(
          {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.opts.name, namespace: this.opts.namespace },
            spec: { holderIdentity: me, leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
          },
          signal,
        );
        this.observe(created, this.clock.now());
        return true;
      }
      this.observe(current, now);
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      if (holder !== '' && holder !== me && this.observedAt + this.leaseDurationMs > now) {
        if (this.leading) this.stopLeading(`the lease is held by ${holder}`);
        return false;
      }
      const renewed: Lease = {
        ...current,
        spec: {
          ...spec,
          holderIdentity: me,
          leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
          renewTime: microTime(now),
          acquireTime: holder === me ? (spec.acquireTime ?? microTime(now)) : microTime(now),
          leaseTransitions: holder === me ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
        },
      };
      const updated = await this.opts.client.update(renewed, signal);
      this.observe(updated, this.clock.now());
      return true;
    } catch (err) {
      if (signal.aborted) return false;
      if (isConflict(err)) {
        // Someone else wrote the lease between our read and write: they won this round.
        this.opts.logger.debug('lease update conflicted', { identity: me });
      } else {
        this.opts.logger.warn('lease request failed', { err, identity: me });
      }
      return false;
    }
  }

  private observe(lease: Lease, at: number): void {
    this.lease = lease;
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity ?? '', spec.renewTime ?? '', spec.acquireTime ?? '', spec.leaseTransitions ?? 0]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = at;
    }
    const holder = spec.holderIdentity ?? '';
    if (holder !== this.knownLeader) {
      this.knownLeader = holder;
      if (holder !== '') this.opts.onNewLeader?.(holder);
    }
  }

  /** Gives the lease up so that another replica takes over at once instead of after the lease duration. */
  private async release(): Promise<void> {
    const lease = this.lease;
    if (!lease || lease.spec?.holderIdentity !== this.opts.identity) return;
    const now = this.clock.now();
    try {
      await this.opts.client.update(
        { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now), acquireTime: microTime(now) } },
        AbortSignal.timeout(3_000),
      );
      this.opts.logger.info('released the lease', { identity: this.opts.identity });
    } catch (err) {
      this.opts.logger.warn('could not release the lease; others take over when it expires', { err });
    }
  }
}
