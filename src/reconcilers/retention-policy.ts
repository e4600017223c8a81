// The RetentionPolicy reconciler. Read (policy, backend, CronJob, Jobs, pods from the caches) ->
// decide (desired CronJob, manual run, finished runs to count) -> act (create/update the CronJob,
// create the manual Job) -> patch status -> mark counted Jobs. See run-results.ts for why counting is
// exactly-once across crashes and restarts.

import { API_GROUP, RUN_NOW_TOKEN_ANNOTATION } from '../api/common.js';
import type { RetentionPolicy } from '../api/generated/types.js';
import { RETENTION_POLICY_STATUS } from '../api/retention-policy.js';
import { readRetentionPolicy } from '../api/validate.js';
import { isAlreadyExists, isNotFound } from '../controller/kube-api.js';
import { CRONJOBS, JOBS, RETENTION_POLICIES, collectionPath, objectPath, splitKey } from '../controller/resources.js';
import { assessBackend } from './backend-usability.js';
import { findCondition, type ConditionInput } from './conditions.js';
import { cronJobDrift, cronJobUpdate } from './cronjob-drift.js';
import { cronJobRefusal } from './cronjob-refusal.js';
import { desiredCronJob } from './desired-cronjob.js';
import { desiredManualJob, runNowRequest } from './manual-run.js';
import { ACCOUNTED_ANNOTATION, cronJobName, POLICY_UID_ANNOTATION } from './names.js';
import { desiredPolicyStatus } from './policy-status.js';
import { ACCOUNT_BATCH, readFinishedRun, type FinishedRun } from './run-results.js';
import { longestScheduleGapSeconds } from './schedule.js';
import { writeStatus } from './status-writer.js';
import type { ReconcileContext, ReconcileResult } from './context.js';
import { isControlledBy, jobEnd, type CronJob, type Job } from './workloads.js';

/** What this reconciler reads and writes; the Helm chart's ClusterRole must grant exactly the union over reconcilers. */
export const RBAC = [
  { apiGroups: [API_GROUP], resources: ['retentionpolicies'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [API_GROUP], resources: ['retentionpolicies/status'], verbs: ['update'] },
  // Owner references with blockOwnerDeletion on a policy need this where OwnerReferencesPermissionEnforcement is on.
  { apiGroups: [API_GROUP], resources: ['retentionpolicies/finalizers'], verbs: ['update'] },
  { apiGroups: [API_GROUP], resources: ['storagebackends'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
] as const;

/** The longest a reconcile asks to wait before it is looked at again. */
export const REQUEUE_MAX_MS = 3_600_000;

const POLICY_REF = { apiVersion: `${API_GROUP}/v1alpha1`, kind: 'RetentionPolicy' };
type Ready = Omit<ConditionInput, 'type' | 'observedGeneration'>;

export async function reconcileRetentionPolicy(ctx: ReconcileContext, key: string, signal: AbortSignal): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  const observed = ctx.policies.get(namespace, name);
  if (!observed) {
    // Deleted: the garbage collector removes its CronJob and Jobs through their owner references.
    ctx.metrics.forgetPolicy(namespace, name);
    return {};
  }
  // Deletion guard: the garbage collector is removing it; any write now would only race with it.
  if (observed.metadata.deletionTimestamp) return {};
  const log = ctx.logger.child({ policy: key });
  const now = ctx.clock.now();
  const target = { ...POLICY_REF, metadata: observed.metadata };
  const events: Array<() => Promise<void>> = [];
  let requeueAfterMs: number | undefined;
  const requeue = (ms: number): void => {
    requeueAfterMs = requeueAfterMs === undefined ? ms : Math.min(requeueAfterMs, ms);
  };

  // --- CronJob: ownership, desired state, create/update or suspend.
  const cronName = cronJobName(name);
  let cronJob: CronJob | undefined = ctx.cronJobs.get(namespace, cronName);
  let ready: Ready;
  let desired: CronJob | undefined;
  const validated = readRetentionPolicy(observed);
  if (cronJob && !isControlledBy(cronJob, observed.metadata.uid)) {
    // Ownership guard: never adopt or overwrite a CronJob this policy does not control.
    const earlierPolicy = cronJob.metadata.ownerReferences?.some((r) => r.kind === 'RetentionPolicy' && r.name === name);
    ready = earlierPolicy
      ? { status: 'False', reason: 'CronJobPending', message: `CronJob ${cronName} still belongs to an earlier policy named ${name}; waiting for the garbage collector to remove it.` }
      : { status: 'False', reason: 'CronJobConflict', message: `A CronJob named ${cronName} exists and is not owned by this policy: delete or rename it so the operator can create its own.` };
    if (earlierPolicy) requeue(5_000);
    cronJob = undefined;
  } else if (!validated.ok) {
    ready = { status: 'False', reason: 'InvalidSpec', message: `The policy is invalid (${validated.errors.join('; ')}); scheduled runs are suspended until it is fixed.` };
    if (cronJob) cronJob = await suspendUnlessRefused(ctx, cronJob, signal);
  } else {
    const policy = validated.value;
    const backendName = policy.spec.backendRef.name;
    const usability = assessBackend(backendName, namespace, ctx.backends.get(namespace, backendName));
    if (!usability.usable) {
      ready = { status: 'False', reason: usability.reason, message: usability.message };
      if (cronJob) cronJob = await suspendUnlessRefused(ctx, cronJob, signal);
    } else {
      desired = desiredCronJob({ policy, backend: usability.backend, runImage: ctx.runImage });
      // A refusal (422 and the like) is recorded as Ready=False CronJobInvalid rather than thrown: retrying
      // with backoff cannot help before the spec changes, and a thrown error never reaches the status.
      let refused: Ready | undefined;
      if (!cronJob) {
        try {
          cronJob = await ctx.api.request<CronJob>({ method: 'POST', path: collectionPath(CRONJOBS, namespace), body: desired, signal });
          log.info('created CronJob', { cronJob: cronName });
          events.push(() => ctx.events.record(target, 'Normal', 'CronJobCreated', 'CreateCronJob', `Created CronJob ${cronName} (schedule "${policy.spec.schedule}")`));
        } catch (err) {
          // Cache lag: it exists already (we created it before a crash); re-observe instead of failing.
          if (isAlreadyExists(err)) return { requeueAfterMs: 1_000 };
          refused = cronJobRefusal(err, cronName, 'create');
          if (!refused) throw err;
        }
      } else {
        const drift = cronJobDrift(cronJob, desired);
        if (drift.length > 0) {
          try {
            cronJob = await ctx.api.request<CronJob>({ method: 'PUT', path: objectPath(CRONJOBS, namespace, cronName), body: cronJobUpdate(cronJob, desired), signal });
            log.info('updated CronJob', { cronJob: cronName, drift });
            events.push(() => ctx.events.record(target, 'Normal', 'CronJobUpdated', 'UpdateCronJob', `Updated CronJob ${cronName}: ${drift.join(', ')}`));
          } catch (err) {
            refused = cronJobRefusal(err, cronName, 'update');
            if (!refused) throw err;
          }
        }
      }
      const zone = policy.spec.timeZone ?? 'UTC';
      if (refused) {
        log.warn('the API server refused the CronJob', { cronJob: cronName, reason: refused.reason });
        // No manual run from a pod template the API server refuses (a Job would be refused the same way),
        // and no scheduled run from the previous spec either, as for an invalid spec.
        desired = undefined;
        if (cronJob) cronJob = await suspendUnlessRefused(ctx, cronJob, signal);
        ready = refused;
      } else {
        ready = policy.spec.suspend
          ? { status: 'True', reason: 'Suspended', message: `spec.suspend is true: CronJob ${cronName} starts no scheduled runs (a run-now annotation still starts one).` }
          : { status: 'True', reason: 'Scheduled', message: `CronJob ${cronName} runs "${policy.spec.schedule}" (${zone}) against StorageBackend ${backendName}.` };
      }
    }
  }

  // --- Manual run: one Job per distinct run-now token.
  const request = runNowRequest(observed);
  let runNowToken = observed.status?.lastRunNowToken;
  if (request.kind === 'invalid') {
    events.push(() => ctx.events.record(target, 'Warning', 'RunNowRefused', 'StartRun', request.message));
    runNowToken = request.recordAs;
  } else if (request.kind === 'new') {
    if (desired && cronJob) {
      const job = desiredManualJob(desired, observed, request.token);
      // Operator-restart guard: the Job may exist from before a crash (its name comes from the token).
      const existing = ctx.jobs.list(namespace).some((j) => j.metadata.annotations?.[RUN_NOW_TOKEN_ANNOTATION] === request.token && j.metadata.annotations?.[POLICY_UID_ANNOTATION] === observed.metadata.uid);
      if (!existing) {
        try {
          await ctx.api.request<Job>({ method: 'POST', path: collectionPath(JOBS, namespace), body: job, signal });
          log.info('started a manual run', { job: job.metadata.name });
          events.push(() => ctx.events.record(target, 'Normal', 'RunStarted', 'StartRun', `Started manual run ${job.metadata.name} (run-now token ${JSON.stringify(request.token)})`));
        } catch (err) {
          // AlreadyExists: this token's Job was created before; the run is already done or under way.
          if (!isAlreadyExists(err)) throw err;
        }
      }
    } else {
      events.push(() => ctx.events.record(target, 'Warning', 'RunNowRefused', 'StartRun', `Cannot start a manual run: ${ready.message}`));
    }
    runNowToken = request.token;
  }

  // --- Finished runs not counted yet (oldest first; a bounded batch per status update).
  const uid = observed.metadata.uid;
  const inHistory = new Set((observed.status?.history ?? []).map((h) => h.jobUID));
  const pods = ctx.pods.list(namespace);
  const runs: FinishedRun[] = [];
  const toMark: Job[] = [];
  const jobs = ctx.jobs
    .list(namespace)
    .filter((j) => uid !== undefined && j.metadata.annotations?.[POLICY_UID_ANNOTATION] === uid && j.metadata.annotations?.[ACCOUNTED_ANNOTATION] !== 'true')
    .sort((a, b) => (jobEnd(a)?.at ?? '').localeCompare(jobEnd(b)?.at ?? ''));
  for (const job of jobs) {
    if (inHistory.has(job.metadata.uid)) {
      toMark.push(job); // counted before a crash; only the mark is missing
      continue;
    }
    const read = readFinishedRun(job, pods, now);
    if (!read) continue;
    if (read.kind === 'waiting') {
      requeue(2_000);
      continue;
    }
    if (runs.length >= ACCOUNT_BATCH) {
      requeue(0);
      break;
    }
    runs.push(read.run);
    toMark.push(job);
  }

  // --- Status.
  const previousReady = findCondition(observed.status?.conditions, 'Ready');
  const write = await writeStatus(
    ctx.api,
    RETENTION_POLICIES,
    observed,
    (current: RetentionPolicy) => {
      // observedGeneration is the generation this reconcile read and decided from, also when a conflict
      // made it re-read a newer object: a tool waiting for observedGeneration == generation must not see
      // a spec change as handled before a reconcile has acted on it.
      const r = desiredPolicyStatus({ current: current.status, generation: observed.metadata.generation, ready, cronJob, runs, runNowToken, nowMs: now });
      return { status: r.status, meta: r.counted };
    },
    signal,
    { statusSchema: RETENTION_POLICY_STATUS },
  );
  if (write.kind === 'gone') return {};
  const status = write.object.status;
  if (write.kind === 'written') log.debug('status updated', { counted: write.meta.length });

  // --- After the status is stored: mark counted Jobs, then tell people (events) and Prometheus.
  for (const job of toMark) await markAccounted(ctx, job, signal);
  for (const run of write.meta) {
    ctx.metrics.runCounted(namespace, name, run.outcome, run.dryRun, run.deleted);
    const type = run.outcome === 'Succeeded' ? 'Normal' : 'Warning';
    const reason = run.outcome === 'Succeeded' ? 'RunSucceeded' : run.outcome === 'Cancelled' ? 'RunCancelled' : 'RunFailed';
    events.push(() => ctx.events.record(target, type, reason, 'Run', `Job ${run.jobName}: ${run.message}`));
  }
  if (ready.status === 'False' && previousReady?.reason !== ready.reason) {
    events.push(() => ctx.events.record(target, 'Warning', ready.reason, 'Reconcile', ready.message));
  }
  for (const emit of events) await emit();
  const lastSuccess = status?.history?.find((h) => h.outcome === 'Succeeded' && !h.dryRun);
  ctx.metrics.setLastSuccess(namespace, name, lastSuccess?.completionTime);
  ctx.metrics.setLastRun(namespace, name, status?.lastRun?.outcome);
  // Overdue is measured only while the CronJob fires (monitoring/: the "no successful run" alert).
  const scheduled = cronJob !== undefined && cronJob.spec.suspend !== true && ready.status === 'True' && observed.spec?.schedule !== undefined;
  ctx.metrics.setScheduleInterval(namespace, name, scheduled ? longestScheduleGapSeconds(observed.spec.schedule, observed.spec.timeZone, now) : undefined);

  // Come back when nextScheduleTime passes, to move it on (at the latest in an hour: a far-away
  // schedule must not become a timer that outlives any sensible horizon).
  if (status?.nextScheduleTime) requeue(Math.min(REQUEUE_MAX_MS, Math.max(1_000, Date.parse(status.nextScheduleTime) - now + 1_000)));
  return requeueAfterMs === undefined ? {} : { requeueAfterMs };
}

/** Scheduled runs stop while the policy or its backend is unusable; the CronJob and its history stay. */
async function ensureSuspended(ctx: ReconcileContext, cronJob: CronJob, signal: AbortSignal): Promise<CronJob> {
  if (cronJob.spec.suspend === true) return cronJob;
  const body: CronJob = { ...cronJob, spec: { ...cronJob.spec, suspend: true } };
  ctx.logger.info('suspending CronJob', { cronJob: `${cronJob.metadata.namespace}/${cronJob.metadata.name}` });
  return ctx.api.request<CronJob>({ method: 'PUT', path: objectPath(CRONJOBS, cronJob.metadata.namespace ?? '', cronJob.metadata.name), body, signal });
}

/** ensureSuspended, except that a refusal of that PUT too (an admission policy denying every update) is left as it is. */
async function suspendUnlessRefused(ctx: ReconcileContext, cronJob: CronJob, signal: AbortSignal): Promise<CronJob> {
  try {
    return await ensureSuspended(ctx, cronJob, signal);
  } catch (err) {
    const refused = cronJobRefusal(err, cronJob.metadata.name, 'update');
    if (!refused) throw err;
    // Retrying cannot help either; the policy's status already says why it is not Ready.
    ctx.logger.warn('the API server refused to suspend the CronJob', { cronJob: `${cronJob.metadata.namespace}/${cronJob.metadata.name}`, reason: refused.reason });
    return cronJob;
  }
}

async function markAccounted(ctx: ReconcileContext, job: Job, signal: AbortSignal): Promise<void> {
  try {
    await ctx.api.request({
      method: 'PATCH',
      path: objectPath(JOBS, job.metadata.namespace ?? '', job.metadata.name),
      body: { metadata: { annotations: { [ACCOUNTED_ANNOTATION]: 'true' } } },
      signal,
    });
  } catch (err) {
    // Gone (TTL, history limit): nothing left to mark, and its UID is in history anyway.
    if (!isNotFound(err)) throw err;
  }
}
