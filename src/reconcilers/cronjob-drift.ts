// Whether an observed CronJob differs from the desired one in the fields the operator owns, and the
// update that fixes it. The API server normalises what it stores (defaults, quantities), so a
// field-by-field comparison of the whole pod template would see differences forever and write on
// every reconcile. Instead: the spec-hash annotation records what the operator last wrote (catches
// every change of ours, including removed fields), and the fields people edit by hand and that the
// server keeps verbatim are compared directly (catches `kubectl edit`). Steady state: no difference.

import type { CronJob } from './workloads.js';
import { SPEC_HASH_ANNOTATION } from './names.js';

/** Names of the owned fields that differ; empty when the CronJob is as desired. */
export function cronJobDrift(observed: CronJob, desired: CronJob): string[] {
  const out: string[] = [];
  const o = observed.spec;
  const d = desired.spec;
  if (observed.metadata.annotations?.[SPEC_HASH_ANNOTATION] !== desired.metadata.annotations?.[SPEC_HASH_ANNOTATION]) out.push('spec-hash');
  for (const [k, v] of Object.entries(desired.metadata.labels ?? {})) {
    if (observed.metadata.labels?.[k] !== v) {
      out.push(`labels[${k}]`);
    }
  }
  for (const ref of desired.metadata.ownerReferences ?? []) {
    if (!(observed.metadata.ownerReferences ?? []).some((r) => r.uid === ref.uid && r.controller === true)) out.push('ownerReferences');
  }
  const scalar = (name: string, a: unknown, b: unknown): void => {
    if ((a ?? null) !== (b ?? null)) out.push(name);
  };
  scalar('schedule', o.schedule, d.schedule);
  scalar('timeZone', o.timeZone, d.timeZone);
  scalar('suspend', o.suspend ?? false, d.suspend ?? false);
  scalar('concurrencyPolicy', o.concurrencyPolicy, d.concurrencyPolicy);
  scalar('startingDeadlineSeconds', o.startingDeadlineSeconds, d.startingDeadlineSeconds);
  scalar('successfulJobsHistoryLimit', o.successfulJobsHistoryLimit, d.successfulJobsHistoryLimit);
  scalar('failedJobsHistoryLimit', o.failedJobsHistoryLimit, d.failedJobsHistoryLimit);
  const oj = o.jobTemplate.spec;
  const dj = d.jobTemplate.spec;
  scalar('jobTemplate.backoffLimit', oj?.backoffLimit, dj?.backoffLimit);
  scalar('jobTemplate.activeDeadlineSeconds', oj?.activeDeadlineSeconds, dj?.activeDeadlineSeconds);
  scalar('jobTemplate.ttlSecondsAfterFinished', oj?.ttlSecondsAfterFinished, dj?.ttlSecondsAfterFinished);
  const op = oj?.template.spec;
  const dp = dj?.template.spec;
  scalar('pod.restartPolicy', op?.restartPolicy, dp?.restartPolicy);
  scalar('pod.automountServiceAccountToken', op?.automountServiceAccountToken, dp?.automountServiceAccountToken);
  const oc = op?.containers[0];
  const dc = dp?.containers[0];
  scalar('container.image', oc?.image, dc?.image);
  if (JSON.stringify(oc?.command ?? []) !== JSON.stringify(dc?.command ?? [])) out.push('container.command');
  if (JSON.stringify(oc?.args ?? []) !== JSON.stringify(dc?.args ?? [])) out.push('container.args');
  if ((op?.containers.length ?? 0) !== (dp?.containers.length ?? 0)) out.push('containers');
  return [...new Set(out)];
}

/**
 * The full object to PUT: the observed one (resourceVersion for optimistic concurrency, metadata of
 * others kept) with the operator's labels, annotations, owner reference and the whole desired spec.
 */
export function cronJobUpdate(observed: CronJob, desired: CronJob): CronJob {
  const ours = new Set((desired.metadata.ownerReferences ?? []).map((r) => r.uid));
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      ...observed.metadata,
      labels: { ...(observed.metadata.labels ?? {}), ...(desired.metadata.labels ?? {}) },
      annotations: { ...(observed.metadata.annotations ?? {}), ...(desired.metadata.annotations ?? {}) },
      ownerReferences: [...(observed.metadata.ownerReferences ?? []).filter((r) => !ours.has(r.uid)), ...(desired.metadata.ownerReferences ?? [])],
    },
    spec: desired.spec,
  };
}
