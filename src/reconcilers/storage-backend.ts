// The StorageBackend reconciler. Read (backend, its volume claim, the finished run Jobs of policies
// that use it) -> decide (Ready: the spec is usable; Reachable and the schema version: what the newest
// run with a result found) -> patch status. It never connects to a store itself: runs do, and their
// results tell. Steady state writes nothing.

import { API_GROUP, LABELS } from '../api/common.js';
import type { StorageBackend, StorageBackendStatus } from '../api/generated/types.js';
import { STORAGE_BACKEND_STATUS } from '../api/storage-backend.js';
import { readStorageBackend } from '../api/validate.js';
import { runPodStorage } from '../backends/registry.js';
import { ApiError, isNotFound } from '../controller/kube-api.js';
import { STORAGE_BACKENDS, objectPath, splitKey, type KubeObject, type ResourceType } from '../controller/resources.js';
import { apiTime, findCondition, setCondition, setStalled, type ConditionInput } from './conditions.js';
import type { ReconcileContext, ReconcileResult } from './context.js';
import { nameLabelValue, POLICY_UID_ANNOTATION } from './names.js';
import { readFinishedRun, type FinishedRun } from './run-results.js';
import { writeStatus } from './status-writer.js';

export const RBAC = [
  { apiGroups: [API_GROUP], resources: ['storagebackends'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [API_GROUP], resources: ['storagebackends/status'], verbs: ['update'] },
  { apiGroups: [API_GROUP], resources: ['retentionpolicies'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  // Whether a sqlite/file backend's volume claim exists (never its contents).
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get'] },
] as const;

const PVCS: ResourceType = { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim' };
const BACKEND_REF = { apiVersion: `${API_GROUP}/v1alpha1`, kind: 'StorageBackend' };

type ConditionBody = Omit<ConditionInput, 'type' | 'observedGeneration'>;

export async function reconcileStorageBackend(ctx: ReconcileContext, key: string, signal: AbortSignal): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  const observed = ctx.backends.get(namespace, name);
  if (!observed || observed.metadata.deletionTimestamp) return {};
  const now = ctx.clock.now();
  let requeueAfterMs: number | undefined;

  // --- Ready: the spec validates, maps to a run pod, and names a volume claim that exists.
  let ready: ConditionBody;
  const validated = readStorageBackend(observed);
  if (!validated.ok) {
    ready = { status: 'False', reason: 'InvalidSpec', message: `The spec is invalid: ${validated.errors.join('; ')}` };
  } else {
    const spec = validated.value.spec;
    let mapped: string | undefined;
    try {
      runPodStorage(spec);
    } catch (err) {
      mapped = err instanceof Error ? err.message : String(err);
    }
    const claim = spec.type === 'sqlite' ? spec.sqlite?.volume : spec.type === 'file' ? spec.file?.volume : undefined;
    if (mapped !== undefined) {
      ready = { status: 'False', reason: 'InvalidSpec', message: mapped };
    } else if (claim !== undefined && !(await claimExists(ctx, namespace, claim, signal))) {
      ready = {
        status: 'False',
        reason: 'VolumeNotFound',
        message: `PersistentVolumeClaim ${claim} does not exist in namespace ${namespace}: create it (the volume pyworkflow's workers use) or correct spec.${spec.type}.volume.`,
      };
    } else {
      ready = { status: 'True', reason: 'Valid', message: `The ${spec.type} store can be swept by RetentionPolicies in namespace ${namespace}.` };
    }
  }

  // --- Reachable: the newest finished run (of any policy) with a result says whether it reached the store.
  const runs: Array<{ run: FinishedRun; policy: string }> = [];
  for (const job of ctx.jobs.list(namespace)) {
    if (job.metadata.labels?.[LABELS.backend] !== nameLabelValue(name)) continue;
    const read = readFinishedRun(job, ctx.pods.list(namespace), now);
    if (read?.kind === 'waiting') requeueAfterMs = 2_000;
    if (read?.kind !== 'finished' || read.run.schemaVersion === undefined) continue;
    const policyUid = job.metadata.annotations?.[POLICY_UID_ANNOTATION];
    const policy = ctx.policies.list(namespace).find((p) => p.metadata.uid === policyUid)?.metadata.name ?? job.metadata.labels?.[LABELS.policy] ?? '';
    runs.push({ run: read.run, policy });
  }
  runs.sort((a, b) => (b.run.completionTime ?? '').localeCompare(a.run.completionTime ?? ''));
  const newest = runs[0];
  const newestReached = runs.find((r) => r.run.schemaVersion !== '');

  const previousReady = findCondition(observed.status?.conditions, 'Ready');
  const write = await writeStatus(
    ctx.api,
    STORAGE_BACKENDS,
    observed,
    // observedGeneration: the generation this reconcile read (see retention-policy.ts), not a re-read one.
    (current: StorageBackend) => ({ status: desiredBackendStatus(current, ready, newest, newestReached, now, observed.metadata.generation), meta: undefined }),
    signal,
    { statusSchema: STORAGE_BACKEND_STATUS },
  );
  if (write.kind === 'gone') return {};
  if (ready.status === 'False' && previousReady?.reason !== ready.reason) {
    await ctx.events.record({ ...BACKEND_REF, metadata: observed.metadata }, 'Warning', ready.reason, 'Reconcile', ready.message);
  }
  return requeueAfterMs === undefined ? {} : { requeueAfterMs };
}

/** Pure: the backend's status from its Ready verdict and the newest runs' results. */
export function desiredBackendStatus(
  current: StorageBackend,
  ready: ConditionBody,
  newest: { run: FinishedRun; policy: string } | undefined,
  newestReached: { run: FinishedRun; policy: string } | undefined,
  nowMs: number,
  generation: number | undefined = current.metadata.generation,
): StorageBackendStatus {
  const gen = generation === undefined ? {} : { observedGeneration: generation };
  const prev = current.status ?? {};
  let conditions = setStalled(setCondition(prev.conditions, { type: 'Ready', ...ready, ...gen }, nowMs), { ...ready, ...gen }, nowMs);
  const status: StorageBackendStatus = { ...gen, conditions };
  // Never move backwards: an older run read late (or after newer Jobs were deleted) changes nothing.
  const reachedAt = newestReached?.run.completionTime;
  if (newestReached && reachedAt && (!prev.lastReachedTime || Date.parse(reachedAt) > Date.parse(prev.lastReachedTime))) {
    status.observedSchemaVersion = newestReached.run.schemaVersion;
    status.lastReachedTime = apiTime(Date.parse(reachedAt));
    status.lastReachedBy = newestReached.policy;
  } else {
    if (prev.observedSchemaVersion !== undefined) status.observedSchemaVersion = prev.observedSchemaVersion;
    if (prev.lastReachedTime !== undefined) status.lastReachedTime = prev.lastReachedTime;
    if (prev.lastReachedBy !== undefined) status.lastReachedBy = prev.lastReachedBy;
  }
  if (newest) {
    const reached = newest.run.schemaVersion !== '';
    conditions = setCondition(
      conditions,
      reached
        ? { type: 'Reachable', status: 'True', reason: 'RunConnected', message: `Run ${newest.run.jobName} of policy ${newest.policy} connected and found schema ${newest.run.schemaVersion}.`, ...gen }
        : { type: 'Reachable', status: 'False', reason: 'RunNotConnected', message: `Run ${newest.run.jobName} of policy ${newest.policy} did not reach the store: ${newest.run.message}`, ...gen },
      nowMs,
    );
    status.conditions = conditions;
  }
  return status;
}

async function claimExists(ctx: ReconcileContext, namespace: string, claim: string, signal: AbortSignal): Promise<boolean> {
  try {
    await ctx.api.request<KubeObject>({ method: 'GET', path: objectPath(PVCS, namespace, claim), signal });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    // Without permission to look, do not claim the volume is missing.
    if (err instanceof ApiError && err.code === 403) {
      ctx.logger.warn('cannot check volume claims (forbidden); assuming they exist', { namespace, claim });
      return true;
    }
    throw err;
  }
}
