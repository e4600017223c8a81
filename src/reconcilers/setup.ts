// The reconcilers on the controller runtime (src/controller/manager.ts): the watches they share, and
// for each reconciler the kind it reconciles and which events queue which of its keys (what
// controller-runtime's SetupWithManager declares). The runtime itself knows none of this.

import { LABELS } from '../api/common.js';
import type { RetentionPolicy, StorageBackend } from '../api/generated/types.js';
import type { ObjectCache } from '../controller/cache.js';
import { kubeEventRecorder } from '../controller/events.js';
import type { InformerEventType } from '../controller/informer.js';
import type { Manager, Watch } from '../controller/manager.js';
import { CRONJOBS, JOBS, PODS, RETENTION_POLICIES, STORAGE_BACKENDS, keyOf } from '../controller/resources.js';
import type { ReconcileContext } from './context.js';
import { MANAGED_SELECTOR, nameLabelValue, POLICY_UID_ANNOTATION } from './names.js';
import { reconcileRetentionPolicy } from './retention-policy.js';
import { reconcileStorageBackend } from './storage-backend.js';
import type { CronJob, Job, Pod } from './workloads.js';

export interface SetupOptions {
  /** Image of run pods unless a policy names its own. */
  runImage: string;
}

interface Watches {
  policies: Watch<RetentionPolicy>;
  backends: Watch<StorageBackend>;
  cronJobs: Watch<CronJob>;
  jobs: Watch<Job>;
  pods: Watch<Pod>;
}

/** Registers both reconcilers and their watches on `mgr`; returns the context their reconciles read. */
export function setupReconcilers(mgr: Manager, opts: SetupOptions): ReconcileContext {
  // Only the CronJobs, Jobs and pods labelled as ours are cached (the label is on everything we create).
  const watches: Watches = {
    policies: mgr.watch<RetentionPolicy>(RETENTION_POLICIES),
    backends: mgr.watch<StorageBackend>(STORAGE_BACKENDS),
    cronJobs: mgr.watch<CronJob>(CRONJOBS, MANAGED_SELECTOR),
    jobs: mgr.watch<Job>(JOBS, MANAGED_SELECTOR),
    pods: mgr.watch<Pod>(PODS, MANAGED_SELECTOR),
  };
  const ctx: ReconcileContext = {
    api: mgr.api,
    policies: watches.policies.cache,
    backends: watches.backends.cache,
    cronJobs: watches.cronJobs.cache,
    jobs: watches.jobs.cache,
    pods: watches.pods.cache,
    clock: mgr.clock,
    logger: mgr.logger,
    events: kubeEventRecorder(mgr.api, mgr.clock, mgr.identity, mgr.logger),
    metrics: mgr.metrics,
    runImage: opts.runImage,
  };
  setupRetentionPolicies(mgr, ctx, watches);
  setupStorageBackends(mgr, ctx, watches);
  return ctx;
}

/** Children (CronJobs, Jobs, pods): only real changes matter; the resyncs of their owners cover the rest. */
const changed = (type: InformerEventType): boolean => type !== 'resync';

function setupRetentionPolicies(mgr: Manager, ctx: ReconcileContext, w: Watches): void {
  const rp = mgr.controller({ kind: 'RetentionPolicy', primary: w.policies.cache, reconcile: (key, signal) => reconcileRetentionPolicy(ctx, key, signal) });
  const policies = w.policies.cache;
  // A policy that is gone still gets its key reconciled: its run pods wait for it to let them go.
  const byLabel = (ns: string, value: string | undefined): string | undefined => {
    const p = value === undefined ? undefined : policies.list(ns).find((x) => nameLabelValue(x.metadata.name ?? '') === value);
    return p ? keyOf(p) : value === undefined ? undefined : `${ns}/${value}`;
  };
  w.policies.onEvent((_type, p) => rp.queue.add(keyOf(p)));
  // Policies follow their backend (suspend when it breaks, resume when fixed).
  w.backends.onEvent((_type, b) => {
    const ns = b.metadata.namespace ?? '';
    for (const p of policies.list(ns)) if (p.spec?.backendRef?.name === b.metadata.name) rp.queue.add(keyOf(p));
  });
  w.cronJobs.onEvent((type, c) => {
    if (!changed(type)) return;
    const owner = c.metadata.ownerReferences?.find((r) => r.controller === true && r.kind === 'RetentionPolicy');
    if (owner) rp.queue.add(`${c.metadata.namespace ?? ''}/${owner.name}`);
  });
  w.jobs.onEvent((type, j) => {
    if (!changed(type)) return;
    const ns = j.metadata.namespace ?? '';
    const uid = j.metadata.annotations?.[POLICY_UID_ANNOTATION];
    const p = policies.list(ns).find((x) => x.metadata.uid === uid);
    const key = p ? keyOf(p) : byLabel(ns, j.metadata.labels?.[LABELS.policy]);
    if (key) rp.queue.add(key);
  });
  w.pods.onEvent((type, pod) => {
    if (!changed(type)) return;
    const ns = pod.metadata.namespace ?? '';
    const key = byLabel(ns, pod.metadata.labels?.[LABELS.policy]);
    if (key) rp.queue.add(key);
  });
}

function setupStorageBackends(mgr: Manager, ctx: ReconcileContext, w: Watches): void {
  const sb = mgr.controller({ kind: 'StorageBackend', primary: w.backends.cache, reconcile: (key, signal) => reconcileStorageBackend(ctx, key, signal) });
  const backends: ObjectCache<StorageBackend> = w.backends.cache;
  w.backends.onEvent((_type, b) => sb.queue.add(keyOf(b)));
  // A backend records what its runs found (the store's layout): its Jobs and pods queue it.
  const byLabel = (type: InformerEventType, ns: string, value: string | undefined): void => {
    if (!changed(type) || value === undefined) return;
    const b = backends.list(ns).find((x) => nameLabelValue(x.metadata.name ?? '') === value);
    if (b) sb.queue.add(keyOf(b));
  };
  w.jobs.onEvent((type, j) => byLabel(type, j.metadata.namespace ?? '', j.metadata.labels?.[LABELS.backend]));
  w.pods.onEvent((type, p) => byLabel(type, p.metadata.namespace ?? '', p.metadata.labels?.[LABELS.backend]));
}
