// Stall detection: a run that cannot start (its image cannot be pulled, a Secret key it needs is
// missing, no node can take it, or its pods cannot even be created) waits until activeDeadlineSeconds
// ends it, and then the cause is gone with its pods. The controller reads its run pods from the cache
// it already has (the informer of managed pods) and says so at once: LastRunSucceeded=Unknown with
// reason RunStalled and a message naming the Job and the cause, and one Warning event.

import { RETENTION_POLICY_CONDITIONS } from '../api/retention-policy.js';
import type { Condition, RetentionPolicyStatus } from '../api/generated/types.js';
import type { ConditionInput } from './conditions.js';
import type { RunUnit } from './run-accounting.js';
import { jobEnd, type Pod } from './workloads.js';

/** Waiting reasons of a container that will not go away without a change by a human. */
export const STUCK_WAITING_REASONS: ReadonlySet<string> = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
]);
/** A Job that has had no pod for this long is asked about (its FailedCreate events). */
export const NO_POD_GRACE_MS = 10_000;
export const STALL_REASON = 'RunStalled';

export interface Stall {
  jobName: string;
  /** The underlying cause: ImagePullBackOff, CreateContainerConfigError, Unschedulable, FailedCreate, ... */
  cause: string;
  message: string;
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim().slice(0, 512);

function podStall(pod: Pod): { cause: string; detail: string } | undefined {
  if (pod.metadata.deletionTimestamp) return undefined;
  for (const c of pod.status?.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w?.reason && STUCK_WAITING_REASONS.has(w.reason)) return { cause: w.reason, detail: `pod ${pod.metadata.name}: ${w.reason}${w.message ? `: ${oneLine(w.message)}` : ''}` };
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { cause: 'Unschedulable', detail: `pod ${pod.metadata.name} cannot be scheduled: ${oneLine(scheduled.message ?? 'Unschedulable')}` };
  }
  return undefined;
}

const stallMessage = (jobName: string, detail: string, advice: string): string => `Job ${jobName} cannot start: ${detail}. ${advice}`;

const ADVICE: Record<string, string> = {
  ErrImagePull: 'Check spec.jobTemplate.image and spec.jobTemplate.imagePullSecrets.',
  ImagePullBackOff: 'Check spec.jobTemplate.image and spec.jobTemplate.imagePullSecrets.',
  InvalidImageName: 'Check spec.jobTemplate.image.',
  ErrImageNeverPull: 'Check spec.jobTemplate.image.',
  CreateContainerConfigError: "Check the Secrets and keys the StorageBackend refers to.",
  CreateContainerError: "Check the run pod's settings in spec.jobTemplate.",
  Unschedulable: 'Check spec.jobTemplate.nodeSelector, tolerations, affinity and resources.',
  FailedCreate: "Check the namespace's ResourceQuota, LimitRange, pod security level and spec.jobTemplate.serviceAccountName.",
};

/** The first stalled run among the policy's active Jobs (from its pods), if any. */
export function podStalls(units: readonly RunUnit[]): Stall | undefined {
  for (const unit of units) {
    const job = unit.job;
    if (!job || jobEnd(job) || job.metadata.deletionTimestamp) continue;
    for (const pod of unit.pods) {
      const s = podStall(pod);
      if (s) return { jobName: job.metadata.name, cause: s.cause, message: stallMessage(job.metadata.name, s.detail, ADVICE[s.cause] ?? '') };
    }
  }
  return undefined;
}

/** Active Jobs without any pod for NO_POD_GRACE_MS: their pods may not be creatable (FailedCreate). */
export function jobsWithoutPods(units: readonly RunUnit[], nowMs: number): RunUnit[] {
  return units.filter((u) => {
    const job = u.job;
    if (!job || jobEnd(job) || job.metadata.deletionTimestamp || u.pods.length > 0) return false;
    const since = Date.parse(job.status?.startTime ?? job.metadata.creationTimestamp ?? '');
    return Number.isFinite(since) && nowMs - since >= NO_POD_GRACE_MS;
  });
}

/** A stall from the Job controller's FailedCreate event about a Job. */
export function failedCreateStall(jobName: string, eventMessage: string): Stall {
  return { jobName, cause: 'FailedCreate', message: stallMessage(jobName, `its pods cannot be created (FailedCreate): ${oneLine(eventMessage)}`, ADVICE.FailedCreate!) };
}

/** The RunStalled message the status holds for this Job, if any. */
export function recordedStall(conditions: readonly Condition[] | undefined, jobName: string): string | undefined {
  const c = conditions?.find((x) => x.type === RETENTION_POLICY_CONDITIONS.lastRunSucceeded);
  return c?.reason === STALL_REASON && c.message.startsWith(`Job ${jobName} `) ? c.message : undefined;
}

const IMAGE_PULL = new Set(['ErrImagePull', 'ImagePullBackOff']);

/**
 * LastRunSucceeded with the stall (or, once it is over without the run having finished, back to what
 * lastRun says). A pod that alternates between ErrImagePull and ImagePullBackOff keeps the message
 * first recorded for its Job (the ErrImagePull one says why; the back-off one only that it waits), so
 * it writes nothing; any other new detail (the kubelet's "failed to sync secret cache" becoming
 * 'secret "x" not found') replaces the message.
 */
export function lastRunCondition(status: Pick<RetentionPolicyStatus, 'conditions' | 'lastRun'>, stall: Stall | undefined): Omit<ConditionInput, 'observedGeneration'> | undefined {
  const current = status.conditions?.find((x) => x.type === RETENTION_POLICY_CONDITIONS.lastRunSucceeded);
  const type = RETENTION_POLICY_CONDITIONS.lastRunSucceeded;
  if (stall) {
    const recorded = recordedStall(status.conditions, stall.jobName);
    const keep = recorded !== undefined && IMAGE_PULL.has(stall.cause) && [...IMAGE_PULL].some((r) => recorded.includes(`: ${r}`));
    return { type, status: 'Unknown', reason: STALL_REASON, message: keep ? recorded : stall.message };
  }
  if (current?.reason !== STALL_REASON) return undefined;
  const last = status.lastRun;
  if (!last) return { type, status: 'Unknown', reason: 'NoRunYet', message: 'No run of this policy has finished yet.' };
  const reason = last.outcome === 'Succeeded' ? 'RunSucceeded' : last.outcome === 'Cancelled' ? 'RunCancelled' : 'RunFailed';
  return { type, status: last.outcome === 'Succeeded' ? 'True' : 'False', reason, message: last.message ?? `The last run (Job ${last.jobName}) ${last.outcome.toLowerCase()}.` };
}
