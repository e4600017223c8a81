// The CronJob a RetentionPolicy should own, computed purely from (policy, backend, run image): the
// schedule, the run's flags, the pod's restricted security settings, and the store's storage config,
// Secret env and volumes (from the backend's own module through runPodStorage).

import type { V1Container, V1PodSecurityContext, V1PodSpec } from '@kubernetes/client-node';
import { API_GROUP_VERSION } from '../api/common.js';
import type { RetentionPolicy, RunSecurityContext, StorageBackend } from '../api/generated/types.js';
import { runPodStorage, storeTimeouts } from '../backends/registry.js';
import { buildSweepArgs, lockWaitSeconds, maxDurationSeconds, TERMINATION_GRACE_SECONDS, TERMINATION_LOG, type RunRequest } from '../engine/run-contract.js';
import type { OwnerReference } from '../controller/resources.js';
import { canonicalJson } from './canonical-json.js';
import { cronJobName, POLICY_UID_ANNOTATION, RUN_FINALIZER, runLabels, shortHash, SPEC_HASH_ANNOTATION } from './names.js';
import type { CronJob } from './workloads.js';

/** The non-root user of the run image (distroless "nonroot"). */
export const RUN_USER = 65532;
/** Long enough for the controller to read a finished Job's result even after an outage, short enough to not pile up. */
export const JOB_TTL_SECONDS = 86_400;
/** A run the CronJob controller could not start within this long after its slot is skipped, not started late. */
export const STARTING_DEADLINE_SECONDS = 600;
export const CONTAINER_NAME = 'sweep';
/**
 * How the run pod starts the CLI: node by name, the compiled entry point by absolute path (where the
 * Dockerfile puts it). No `#!/usr/bin/env` line and no shell are involved, so the run image can be
 * distroless; an image given in jobTemplate.image must keep the same layout.
 */
export const RUN_COMMAND: readonly string[] = ['node', '/app/dist/src/cli/main.js'];

export interface DesiredCronJobInput {
  /** Validated, with schema defaults applied. */
  policy: RetentionPolicy;
  /** Validated, with schema defaults applied. */
  backend: StorageBackend;
  runImage: string;
}

export function policyOwnerReference(policy: RetentionPolicy): OwnerReference {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'RetentionPolicy',
    name: policy.metadata.name ?? '',
    uid: policy.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The run contract's request for one run of this policy against this backend. */
export function runRequest(policy: RetentionPolicy, backend: StorageBackend, storageConfig: Record<string, unknown>): RunRequest {
  const s = policy.spec;
  const maxDuration = maxDurationSeconds(s.activeDeadlineSeconds, storeTimeouts(backend.spec));
  return {
    storage: storageConfig,
    retentionDays: s.retentionDays,
    ...(s.batchSize === undefined ? {} : { batchSize: s.batchSize }),
    statuses: [...s.statuses],
    dryRun: s.dryRun,
    housekeeping: s.housekeeping,
    orphans: s.orphans,
    maxDurationSeconds: maxDuration,
    lockWaitSeconds: lockWaitSeconds(maxDuration),
  };
}

export function desiredCronJob({ policy, backend, runImage }: DesiredCronJobInput): CronJob {
  const spec = policy.spec;
  const template = spec.jobTemplate ?? {};
  const storage = runPodStorage(backend.spec);
  const policyName = policy.metadata.name ?? '';
  const labels = runLabels(policyName, backend.metadata.name ?? '');
  const serviceAccount = template.serviceAccountName;

  const container: V1Container = {
    name: CONTAINER_NAME,
    image: template.image ?? runImage,
    imagePullPolicy: 'IfNotPresent',
    command: [...RUN_COMMAND],
    args: buildSweepArgs(runRequest(policy, backend, storage.config)),
    ...(storage.env.length > 0 ? { env: storage.env } : {}),
    ...(template.resources ? { resources: template.resources as V1Container['resources'] } : {}),
    volumeMounts: [...storage.volumeMounts, { name: 'tmp', mountPath: '/tmp' }],
    securityContext: {
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
    terminationMessagePath: TERMINATION_LOG,
    terminationMessagePolicy: 'File',
  };

  const podSpec: V1PodSpec = {
    restartPolicy: 'Never',
    // Explicit: the run's deadline headroom (run-contract.ts) counts on this grace.
    terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
    // No API credentials in run pods unless the user asks for an identity (e.g. cloud IAM via IRSA).
    ...(serviceAccount ? { serviceAccountName: serviceAccount, automountServiceAccountToken: true } : { automountServiceAccountToken: false }),
    securityContext: runPodSecurityContext(template.securityContext),
    ...(template.nodeSelector ? { nodeSelector: template.nodeSelector } : {}),
    ...(template.tolerations ? { tolerations: template.tolerations } : {}),
    ...(template.affinity ? { affinity: template.affinity } : {}),
    ...(template.imagePullSecrets ? { imagePullSecrets: template.imagePullSecrets } : {}),
    ...(template.priorityClassName ? { priorityClassName: template.priorityClassName } : {}),
    containers: [container],
    // The root filesystem is read-only: /tmp is the only scratch space.
    volumes: [...storage.volumes, { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
  };

  const cronJob: CronJob = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      name: cronJobName(policyName),
      namespace: policy.metadata.namespace ?? '',
      labels,
      annotations: {},
      ownerReferences: [policyOwnerReference(policy)],
    },
    spec: {
      schedule: spec.schedule,
      ...(spec.timeZone ? { timeZone: spec.timeZone } : {}),
      suspend: spec.suspend,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: STARTING_DEADLINE_SECONDS,
      // At least one finished Job of each kind stays: the controller reads results from them.
      successfulJobsHistoryLimit: Math.max(1, spec.successfulJobsHistoryLimit),
      failedJobsHistoryLimit: Math.max(1, spec.failedJobsHistoryLimit),
      jobTemplate: {
        metadata: { labels, annotations: { [POLICY_UID_ANNOTATION]: policy.metadata.uid ?? '' } },
        spec: {
          backoffLimit: spec.backoffLimit,
          activeDeadlineSeconds: spec.activeDeadlineSeconds,
          ttlSecondsAfterFinished: JOB_TTL_SECONDS,
          template: {
            // The operator's labels win over podLabels: the controller finds run pods by them.
            metadata: {
              labels: { ...(template.podLabels ?? {}), ...labels },
              annotations: { ...(template.podAnnotations ?? {}), [POLICY_UID_ANNOTATION]: policy.metadata.uid ?? '' },
              // The run's result lives in its pod: kept until it is in the policy's status (names.ts).
              finalizers: [RUN_FINALIZER],
            },
            spec: podSpec,
          },
        },
      },
    },
  };
  cronJob.metadata.annotations = { [SPEC_HASH_ANNOTATION]: specHash(cronJob) };
  return cronJob;
}

/** A stable hash of everything the operator sets on the CronJob (key order does not matter). */
export function specHash(cronJob: CronJob): string {
  const { labels, ownerReferences } = cronJob.metadata;
  return shortHash(canonicalJson({ labels, ownerReferences, spec: cronJob.spec }), 16);
}

/** Restricted by construction; only the ids (and volume group) are the user's to choose. */
function runPodSecurityContext(ids: RunSecurityContext | undefined): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: ids?.runAsUser ?? RUN_USER,
    runAsGroup: ids?.runAsGroup ?? RUN_USER,
    ...(ids?.fsGroup !== undefined ? { fsGroup: ids.fsGroup } : {}),
    ...(ids?.fsGroupChangePolicy !== undefined ? { fsGroupChangePolicy: ids.fsGroupChangePolicy } : {}),
    ...(ids?.supplementalGroups !== undefined && ids.supplementalGroups.length > 0 ? { supplementalGroups: ids.supplementalGroups } : {}),
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
