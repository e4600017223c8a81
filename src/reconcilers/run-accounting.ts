// Exactly-once accounting of run results, also across lost Jobs, crashes and writes that keep failing.
//
// A run is one Job UID. Its result is in its pods' termination messages, and every run pod carries
// RUN_FINALIZER from its template (names.ts), so the API server keeps the pods — and a Job deleted
// with foreground propagation (its TTL) — until the result is recorded; a Job deleted with background
// propagation (the CronJob's history limit) leaves its pods behind, and the run is read from them.
// Two writes account a run:
//  (1) the policy's status update (resourceVersion precondition) that adds the UID to status.history
//      and the run's counts to status.totals;
//  (2) the release: the annotation retention.pyworkflow.io/accounted=true on the Job (while it
//      exists), then RUN_FINALIZER removed from each of its pods.
// A run is counted when its UID is not in history and its Job is not annotated. The record of what was
// counted is history plus the finalizers: history is bounded, but a UID is never pushed out of it
// while its run is not released (accountRuns caps how many new runs one update adds), so a release
// that keeps failing holds up further counting instead of letting a UID be counted twice. Crash points:
//  - before (1): nothing was counted; the pods are still there, it is counted on the next reconcile.
//  - after (1) (answer lost, or crash before (2)): the UID is in history, so only (2) is retried.
//  - (1) raced with another writer (a deposed leader): the precondition fails for one of them, which
//    re-reads the policy, finds the UID in history and does not count it again.
//  - after (2): an annotated Job is never counted again; released pods are not read again.
// What can still be lost: the counts of a run whose pods were deleted by force (their finalizer removed
// by hand) or whose pods predate RUN_FINALIZER; such a run is recorded as ResultLost from what its
// Job still says. Events and metrics are emitted after (1) and are at-most-once.

import { LABELS } from '../api/common.js';
import type { RetentionPolicyStatus } from '../api/generated/types.js';
import { isConflict, isNotFound, type KubeApi } from '../controller/kube-api.js';
import { JOBS, objectPath, PODS } from '../controller/resources.js';
import { ACCOUNTED_ANNOTATION, nameLabelValue, POLICY_UID_ANNOTATION, RUN_FINALIZER } from './names.js';
import { readFinishedRun, RESULT_GRACE_MS, type FinishedRun } from './run-results.js';
import { jobEnd, type Job, type Pod } from './workloads.js';

/** Runs counted per status update. */
export const ACCOUNT_BATCH = 5;
const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';

/** One run: its Job UID, the Job while it exists, and its pods (held by RUN_FINALIZER until released). */
export interface RunUnit {
  uid: string;
  job?: Job;
  pods: Pod[];
}

const hasFinalizer = (pod: Pod): boolean => pod.metadata.finalizers?.includes(RUN_FINALIZER) ?? false;
const ownerJobUid = (pod: Pod): string | undefined => pod.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === 'Job')?.uid;

/**
 * The runs of the policy with this UID: its Jobs, and the pods of its Jobs that are gone. Pods of an
 * older version (no policy-uid annotation) are found through their Job.
 */
export function runsOfPolicy(policyUid: string, jobs: readonly Job[], pods: readonly Pod[]): RunUnit[] {
  const jobsByUid = new Map(jobs.flatMap((j) => (j.metadata.uid ? [[j.metadata.uid, j] as const] : [])));
  const units = new Map<string, RunUnit>();
  for (const job of jobs) {
    const uid = job.metadata.uid;
    if (uid && job.metadata.annotations?.[POLICY_UID_ANNOTATION] === policyUid) units.set(uid, { uid, job, pods: [] });
  }
  for (const pod of pods) {
    const uid = ownerJobUid(pod);
    if (!uid) continue;
    const unit = units.get(uid);
    if (unit) unit.pods.push(pod);
    else if (pod.metadata.annotations?.[POLICY_UID_ANNOTATION] === policyUid) {
      // A Job without the annotation (made by hand from the CronJob, say) is still this policy's run.
      const job = jobsByUid.get(uid);
      units.set(uid, { uid, ...(job ? { job } : {}), pods: [pod] });
    }
  }
  return [...units.values()];
}

/**
 * Pods held by RUN_FINALIZER for a policy that no longer exists (deleted, or re-created under the
 * same name): nobody will account them, so they are let go. `policyUids` are the UIDs of the policies
 * that exist in the namespace.
 */
export function podsOfGonePolicies(policyName: string, policyUids: ReadonlySet<string>, pods: readonly Pod[]): Pod[] {
  const label = nameLabelValue(policyName);
  return pods.filter((p) => {
    if (!hasFinalizer(p) || p.metadata.labels?.[LABELS.policy] !== label) return false;
    const owner = p.metadata.annotations?.[POLICY_UID_ANNOTATION];
    return owner === undefined || !policyUids.has(owner);
  });
}

/** Whether anything of a counted run still has to be released (write (2)). */
export function needsRelease(unit: RunUnit): boolean {
  return (unit.job !== undefined && unit.job.metadata.annotations?.[ACCOUNTED_ANNOTATION] !== 'true') || unit.pods.some(hasFinalizer);
}

/**
 * A Job deleted before its result was read (background propagation: its pods stay, held by
 * RUN_FINALIZER): the Job as far as its pods tell, so that readFinishedRun reads it like any other.
 * Undefined while a pod may still be running.
 */
function jobFromPods(unit: RunUnit, nowMs: number): Job | undefined {
  const first = unit.pods[0];
  if (!first) return undefined;
  const terminated = (p: Pod) => p.status?.containerStatuses?.[0]?.state?.terminated;
  const done = (p: Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' || terminated(p) !== undefined;
  const settled = (p: Pod): boolean => done(p) || (p.metadata.deletionTimestamp !== undefined && nowMs - Date.parse(p.metadata.deletionTimestamp) > RESULT_GRACE_MS);
  if (!unit.pods.every(settled)) return undefined;
  const ends = unit.pods.map((p) => terminated(p)?.finishedAt ?? p.metadata.deletionTimestamp ?? '').sort();
  const at = ends[ends.length - 1] || undefined;
  const succeeded = unit.pods.some((p) => terminated(p)?.exitCode === 0);
  const name = first.metadata.labels?.[JOB_NAME_LABEL] ?? first.metadata.labels?.['job-name'] ?? first.metadata.ownerReferences?.find((o) => o.kind === 'Job')?.name ?? unit.uid;
  return {
    metadata: { name, namespace: first.metadata.namespace ?? '', uid: unit.uid },
    spec: { template: { spec: { containers: (first.spec?.containers ?? []).map((c) => ({ name: c.name, ...(c.args ? { args: c.args } : {}) })) } } },
    status: {
      conditions: [
        succeeded
          ? { type: 'Complete', status: 'True', ...(at ? { lastTransitionTime: at } : {}) }
          : { type: 'Failed', status: 'True', reason: 'JobDeleted', message: 'the Job was deleted before the operator read its result', ...(at ? { lastTransitionTime: at } : {}) },
      ],
      ...(succeeded && at ? { completionTime: at } : {}),
    },
  };
}

export interface AccountingPlan {
  /** Finished runs not counted yet, oldest first, at most ACCOUNT_BATCH. */
  runs: FinishedRun[];
  /** UIDs of counted runs not released yet: accountRuns never pushes them out of history. */
  protect: Set<string>;
  /** Runs to release once their UID is in the stored history (counted now or before). */
  releasable: RunUnit[];
  /** More finished runs wait beyond this batch. */
  more: boolean;
  /** Come back after this long (a result on its way into the cache). */
  requeueMs?: number;
}

/**
 * What to count and what to release, from the caches and the policy's status. `stalledAs` gives the
 * RunStalled message the status holds for a Job, if any (see run-stalls.ts).
 */
export function planAccounting(units: readonly RunUnit[], status: RetentionPolicyStatus | undefined, nowMs: number, stalledAs: (jobName: string) => string | undefined): AccountingPlan {
  const inHistory = new Set((status?.history ?? []).map((h) => h.jobUID).filter((u): u is string => u !== undefined));
  const protect = new Set<string>();
  const releasable: RunUnit[] = [];
  const candidates: Array<{ unit: RunUnit; run: FinishedRun }> = [];
  let requeueMs: number | undefined;
  const requeue = (ms: number): void => {
    requeueMs = requeueMs === undefined ? ms : Math.min(requeueMs, ms);
  };

  for (const unit of units) {
    const annotated = unit.job?.metadata.annotations?.[ACCOUNTED_ANNOTATION] === 'true';
    if (inHistory.has(unit.uid) || annotated) {
      // Counted before: only the release may be missing (a crash, or a write that failed).
      if (needsRelease(unit)) {
        protect.add(unit.uid);
        releasable.push(unit);
      }
      continue;
    }
    // A Job whose pods are all gone or released and that is itself gone: nothing left to read.
    if (!unit.job && !unit.pods.some(hasFinalizer)) continue;
    const job = unit.job ?? jobFromPods(unit, nowMs);
    if (!job) {
      requeue(2_000);
      continue;
    }
    if (!jobEnd(job)) continue; // still running (stalls are run-stalls.ts's)
    const read = readFinishedRun(job, unit.pods, nowMs, stalledAs(job.metadata.name));
    if (!read) continue;
    if (read.kind === 'waiting') {
      requeue(2_000);
      continue;
    }
    candidates.push({ unit, run: read.run });
  }
  candidates.sort((a, b) => (a.run.completionTime ?? '').localeCompare(b.run.completionTime ?? ''));
  const batch = candidates.slice(0, ACCOUNT_BATCH);
  return {
    runs: batch.map((c) => c.run),
    protect,
    releasable: [...releasable, ...batch.map((c) => c.unit)],
    more: candidates.length > batch.length,
    ...(requeueMs === undefined ? {} : { requeueMs }),
  };
}

export type ReleaseResult = 'released' | 'stale' | 'failed';

/**
 * Write (2) for one counted run: the accounted annotation on its Job, then its pods' finalizers. The
 * pods' finalizer lists are replaced with the observed resourceVersion as precondition, so a finalizer
 * another controller added meanwhile is never dropped (Conflict: re-observe and try again).
 */
export async function releaseRun(api: KubeApi, unit: RunUnit, signal: AbortSignal, onError: (what: string, err: unknown) => void): Promise<ReleaseResult> {
  let result: ReleaseResult = 'released';
  const job = unit.job;
  if (job && job.metadata.annotations?.[ACCOUNTED_ANNOTATION] !== 'true') {
    try {
      await api.request({ method: 'PATCH', path: objectPath(JOBS, job.metadata.namespace ?? '', job.metadata.name), body: { metadata: { annotations: { [ACCOUNTED_ANNOTATION]: 'true' } } }, signal });
    } catch (err) {
      if (!isNotFound(err)) {
        onError(`marking Job ${job.metadata.name} as counted`, err);
        // The pods stay held: the annotation is what says "counted" while the Job exists.
        return 'failed';
      }
    }
  }
  for (const pod of unit.pods.filter(hasFinalizer)) {
    const finalizers = (pod.metadata.finalizers ?? []).filter((f) => f !== RUN_FINALIZER);
    try {
      await api.request({
        method: 'PATCH',
        path: objectPath(PODS, pod.metadata.namespace ?? '', pod.metadata.name),
        body: { metadata: { resourceVersion: pod.metadata.resourceVersion, finalizers } },
        signal,
      });
    } catch (err) {
      if (isNotFound(err)) continue;
      if (isConflict(err)) {
        result = 'stale';
        continue;
      }
      onError(`releasing pod ${pod.metadata.name}`, err);
      result = 'failed';
    }
  }
  return result;
}

/** Lets go of pods nobody will account (their policy is gone). */
export async function releasePods(api: KubeApi, pods: readonly Pod[], signal: AbortSignal, onError: (what: string, err: unknown) => void): Promise<ReleaseResult> {
  return releaseRun(api, { uid: '', pods: [...pods] }, signal, onError);
}
