// What a reconcile gets: read-only caches of every kind it reads, an API client for its writes (which
// refuses to write unless this replica leads), and the clock, logger, events and metrics.

import type { RetentionPolicy, StorageBackend } from '../api/generated/types.js';
import type { ObjectCache } from '../controller/cache.js';
import type { Clock } from '../controller/clock.js';
import type { EventRecorder } from '../controller/events.js';
import type { KubeApi } from '../controller/kube-api.js';
import type { ControllerMetrics } from '../controller/metrics.js';
import type { Logger } from '../log.js';
import type { CronJob, Job, Pod } from './workloads.js';

export interface ReconcileContext {
  api: KubeApi;
  policies: ObjectCache<RetentionPolicy>;
  backends: ObjectCache<StorageBackend>;
  cronJobs: ObjectCache<CronJob>;
  jobs: ObjectCache<Job>;
  pods: ObjectCache<Pod>;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  metrics: ControllerMetrics;
  /** Image of run pods unless a policy names its own. */
  runImage: string;
}

export interface ReconcileResult {
  /** Reconcile this key again after this long (e.g. when nextScheduleTime passes). */
  requeueAfterMs?: number;
}
