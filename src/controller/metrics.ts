// The controller's Prometheus metrics: reconciles per kind, run outcomes and deleted records per
// policy, the last successful run per policy, and the health of the watches and the lease.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KindCounts } from '../engine/records.js';
import { RECORD_KINDS } from '../engine/records.js';

const PREFIX = 'pyworkflow_retention_';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<'kind' | 'result'>;
  readonly reconcileErrors: Counter<'kind'>;
  readonly reconcileDuration: Histogram<'kind'>;
  readonly runsTotal: Counter<'namespace' | 'policy' | 'outcome'>;
  readonly deletedRecords: Counter<'namespace' | 'policy' | 'kind'>;
  readonly lastSuccess: Gauge<'namespace' | 'policy'>;
  readonly lastRunFailed: Gauge<'namespace' | 'policy'>;
  readonly scheduleInterval: Gauge<'namespace' | 'policy'>;
  readonly leader: Gauge;
  readonly watchEnds: Counter<'resource' | 'reason'>;
  readonly relists: Counter<'resource'>;

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    this.reconcileTotal = new Counter({ name: `${PREFIX}reconcile_total`, help: 'Reconciles by kind and result (success, error, requeue).', labelNames: ['kind', 'result'], registers });
    this.reconcileErrors = new Counter({ name: `${PREFIX}reconcile_errors_total`, help: 'Reconciles that failed, by kind.', labelNames: ['kind'], registers });
    this.reconcileDuration = new Histogram({
      name: `${PREFIX}reconcile_duration_seconds`,
      help: 'Time per reconcile, by kind.',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.runsTotal = new Counter({ name: `${PREFIX}runs_total`, help: 'Finished runs by policy and outcome (Succeeded, Failed, Cancelled).', labelNames: ['namespace', 'policy', 'outcome'], registers });
    this.deletedRecords = new Counter({
      name: `${PREFIX}deleted_records_total`,
      help: 'Records deleted by real (not dry) runs, by policy and record kind.',
      labelNames: ['namespace', 'policy', 'kind'],
      registers,
    });
    this.lastSuccess = new Gauge({ name: `${PREFIX}last_success_timestamp_seconds`, help: 'When the last successful run of a policy finished (Unix time).', labelNames: ['namespace', 'policy'], registers });
    this.lastRunFailed = new Gauge({
      name: `${PREFIX}last_run_failed`,
      help: 'Whether the most recent finished run of a policy failed or was cancelled (1) or succeeded (0); absent before its first run.',
      labelNames: ['namespace', 'policy'],
      registers,
    });
    this.scheduleInterval = new Gauge({
      name: `${PREFIX}schedule_interval_seconds`,
      help: 'Longest gap between consecutive scheduled runs of a policy (seconds); absent while its scheduled runs are suspended.',
      labelNames: ['namespace', 'policy'],
      registers,
    });
    this.leader = new Gauge({ name: `${PREFIX}leader`, help: '1 while this replica holds the leader lease.', registers });
    this.watchEnds = new Counter({ name: `${PREFIX}watch_ends_total`, help: 'Watches that ended, by resource and reason (closed, expired, error, stalled).', labelNames: ['resource', 'reason'], registers });
    this.relists = new Counter({ name: `${PREFIX}relists_total`, help: 'Full lists of a resource (start, 410 Gone, errors).', labelNames: ['resource'], registers });
  }

  /** A run just counted into a policy's status (called exactly once per Job). */
  runCounted(namespace: string, policy: string, outcome: string, dryRun: boolean, deleted: KindCounts | undefined): void {
    this.runsTotal.inc({ namespace, policy, outcome });
    if (dryRun || !deleted) return;
    for (const kind of RECORD_KINDS) if (deleted[kind] > 0) this.deletedRecords.inc({ namespace, policy, kind }, deleted[kind]);
  }

  /** Idempotent: set from the policy's status on every reconcile. */
  setLastSuccess(namespace: string, policy: string, finishedAt: string | undefined): void {
    if (finishedAt === undefined) return;
    const t = Date.parse(finishedAt);
    if (!Number.isNaN(t)) this.lastSuccess.set({ namespace, policy }, t / 1000);
  }

  /** Idempotent: set from the policy's status.lastRun on every reconcile. */
  setLastRun(namespace: string, policy: string, outcome: string | undefined): void {
    if (outcome === undefined) this.lastRunFailed.remove({ namespace, policy });
    else this.lastRunFailed.set({ namespace, policy }, outcome === 'Succeeded' ? 0 : 1);
  }

  /** undefined: scheduled runs are suspended (or the schedule is invalid), so no run is overdue. */
  setScheduleInterval(namespace: string, policy: string, seconds: number | undefined): void {
    if (seconds === undefined) this.scheduleInterval.remove({ namespace, policy });
    else this.scheduleInterval.set({ namespace, policy }, seconds);
  }

  /** A deleted policy leaves no series behind. */
  forgetPolicy(namespace: string, policy: string): void {
    this.lastSuccess.remove({ namespace, policy });
    this.lastRunFailed.remove({ namespace, policy });
    this.scheduleInterval.remove({ namespace, policy });
    for (const outcome of ['Succeeded', 'Failed', 'Cancelled']) this.runsTotal.remove({ namespace, policy, outcome });
    for (const kind of RECORD_KINDS) this.deletedRecords.remove({ namespace, policy, kind });
  }
}
