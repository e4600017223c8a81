// The RetentionPolicy reconciler. Read (policy, backend, CronJob, Jobs, pods from the caches) ->
// decide (desired CronJob, manual run, finished runs to count, a run that cannot start) -> act
// (create/update the CronJob, create the manual Job) -> patch status -> release counted runs. See
// run-accounting.ts for why counting is exactly-once across crashes, restarts and lost Jobs.

import { API_GROUP, RUN_NOW_TOKEN_ANNOTATION } from '../api/common.js';
import type { RetentionPolicy } from '../api/generated/types.js';
import { RETENTION_POLICY_STATUS } from '../api/retention-policy.js';
import { readRetentionPolicy } from '../api/validate.js';
import { isAlreadyExists } from '../controller/kube-api.js';
import { CRONJOBS, JOBS, RETENTION_POLICIES, collectionPath, objectPath, splitKey } from '../controller/resources.js';
import { assessBackend } from './backend-usability.js';
import { findCondition, type ConditionInput } from './conditions.js';
import { cronJobDrift, cronJobUpdate } from './cronjob-drift.js';
import { cronJobRefusal } from './cronjob-refusal.js';
import { desiredCronJob } from './desired-cronjob.js';
import { desiredManualJob, runNowRequest } from './manual-run.js';
import { ACCOUNTED_ANNOTATION, cronJobName, POLICY_UID_ANNOTATION } from './names.js';
import { desiredPolicyStatus } from './policy-status.js';
import { planAccounting, podsOfGonePolicies, releasePods, releaseRun, runsOfPolicy } from './run-accounting.js';
import { failedCreateStall, jobsWithoutPods, NO_POD_GRACE_MS, podStalls, recordedStall, STALL_REASON } from './run-stalls.js';
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
  // patch: removing RUN_FINALIZER from a run pod once its result is recorded (run-accounting.ts).
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch'] },
  // list: the Job controller's FailedCreate events of a run Job that has no pod (run-stalls.ts).
  { apiGroups: [''], resources: ['events'], verbs: ['list'] },
] as const;

/** The longest a reconcile asks to wait before it is looked at again. */
export const REQUEUE_MAX_MS = 3_600_000;

const POLICY_REF = { apiVersion: `${API_GROUP}/v1alpha1`, kind: 'RetentionPolicy' };
type Ready = Omit<ConditionInput, 'type' | 'observedGeneration'>;

export async function reconcileRetentionPolicy(ctx: ReconcileContext, key: string, signal: AbortSignal): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  const observed = ctx.policies.get(namespace, name);
  if (!observed || observed.metadata.deletionTimestamp) {
    // Deleted: the garbage collector removes its CronJob and Jobs through their owner references;
    // their pods wait only for RUN_FINALIZER, which nobody will account for now: let them go. (No
    // other write while it is being deleted: it would only race with the garbage collector.)
    if (!observed) ctx.metrics.forgetPolicy(namespace, name);
    const live = new Set(ctx.policies.list(namespace).filter((p) => !p.metadata.deletionTimestamp).flatMap((p) => (p.metadata.uid ? [p.metadata.uid] : [])));
    const orphans = podsOfGonePolicies(name, live, ctx.pods.list(namespace));
    if (orphans.length === 0) return {};
    const released = await releasePods(ctx.api, orphans, signal, (what, err) => ctx.logger.warn(`${what} failed`, { policy: key, error: String(err) }));
    return released === 'released' ? {} : { requeueAfterMs: 2_000 };
  }
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

  // --- Runs: finished ones not counted yet, counted ones not released yet, and a run that cannot start.
  const uid = observed.metadata.uid ?? '';
  const units = uid === '' ? [] : runsOfPolicy(uid, ctx.jobs.list(namespace), ctx.pods.list(namespace));
  const stalledAs = (jobName: string): string | undefined => recordedStall(observed.status?.conditions, jobName);
  const plan = planAccounting(units, observed.status, now, stalledAs);
  if (plan.requeueMs !== undefined) requeue(plan.requeueMs);
  let stall = podStalls(units);
  for (const quiet of stall ? [] : jobsWithoutPods(units, now)) {
    const jobName = quiet.job!.metadata.name;
    // Recorded before: it stays while the Job is still without pods (no need to ask again).
    const recorded = stalledAs(jobName);
    const event = recorded === undefined ? await failedCreateEvent(ctx, quiet.job!, signal) : undefined;
    if (recorded !== undefined) stall = { jobName, cause: 'FailedCreate', message: recorded };
    else if (event !== undefined) stall = failedCreateStall(jobName, event);
    if (stall) break;
    requeue(15_000);
  }
  // The pods of a new Job have not appeared yet: look again when the grace has passed.
  if (units.some((u) => u.job && !jobEnd(u.job) && u.pods.length === 0)) requeue(NO_POD_GRACE_MS);

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
      const r = desiredPolicyStatus({
        current: current.status,
        generation: observed.metadata.generation,
        ready,
        cronJob,
        runs: plan.runs,
        protect: plan.protect,
        ...(stall ? { stall } : {}),
        runNowToken,
        nowMs: now,
      });
      return { status: r.status, meta: r.counted };
    },
    signal,
    { statusSchema: RETENTION_POLICY_STATUS },
  );
  if (write.kind === 'gone') return {};
  const status = write.object.status;
  if (write.kind === 'written') log.debug('status updated', { counted: write.meta.length });

  // --- After the status is stored: tell people (events) and Prometheus, then release what is counted.
  if (plan.runs.length > write.meta.length) {
    // Not a hot loop: counting goes on once the releases below get through.
    log.info('counting waits: runs counted before are not released yet, and history must keep their UIDs', { waiting: plan.runs.length });
    requeue(5_000);
  } else if (plan.more) {
    requeue(0); // the next batch
  }
  for (const run of write.meta) {
    // A run that stepped aside for another run of its store is not a run of its own (run-results.ts).
    if (!run.skipped) ctx.metrics.runCounted(namespace, name, run.outcome, run.dryRun, run.deleted);
    const type = run.skipped || (run.outcome === 'Succeeded' && run.reason !== 'ResultLost') ? 'Normal' : 'Warning';
    const reason = run.skipped || run.reason === 'ResultLost' ? run.reason : run.outcome === 'Succeeded' ? 'RunSucceeded' : run.outcome === 'Cancelled' ? 'RunCancelled' : 'RunFailed';
    events.push(() => ctx.events.record(target, type, reason, 'Run', `Job ${run.jobName}: ${run.message}`));
  }
  if (stall && stalledAs(stall.jobName) === undefined) {
    const message = stall.message;
    events.push(() => ctx.events.record(target, 'Warning', STALL_REASON, 'Run', message));
  }
  if (ready.status === 'False' && previousReady?.reason !== ready.reason) {
    events.push(() => ctx.events.record(target, 'Warning', ready.reason, 'Reconcile', ready.message));
  }
  for (const emit of events) await emit();
  const stored = new Set((status?.history ?? []).map((h) => h.jobUID));
  for (const unit of plan.releasable) {
    // Only what the stored status shows as counted (a capped update may have left some for later).
    if (!stored.has(unit.uid) && unit.job?.metadata.annotations?.[ACCOUNTED_ANNOTATION] !== 'true') continue;
    const released = await releaseRun(ctx.api, unit, signal, (what, err) => log.warn(`${what} failed; retrying`, { error: String(err) }));
    if (released !== 'released') requeue(released === 'stale' ? 1_000 : 5_000);
  }
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

/**
 * The message of the Job controller's newest FailedCreate event about this Job, if any. Asked only
 * for a Job that has had no pod for NO_POD_GRACE_MS (pods that exist are seen through the cache), so
 * the controller needs no informer of all events.
 */
async function failedCreateEvent(ctx: ReconcileContext, job: Job, signal: AbortSignal): Promise<string | undefined> {
  type EventList = { items?: Array<{ reason?: string; message?: string; lastTimestamp?: string; eventTime?: string }> };
  let list: EventList;
  try {
    list = await ctx.api.request<EventList>({
      method: 'GET',
      path: `/api/v1/namespaces/${encodeURIComponent(job.metadata.namespace ?? '')}/events`,
      query: { fieldSelector: `involvedObject.uid=${job.metadata.uid ?? ''},reason=FailedCreate` },
      signal,
    });
  } catch (err) {
    // Only a diagnosis: the rest of the reconcile goes on, and the question is asked again later.
    ctx.logger.debug('reading the events of a run Job failed', { job: job.metadata.name, error: String(err) });
    return undefined;
  }
  const newest = (list.items ?? []).sort((a, b) => (b.lastTimestamp ?? b.eventTime ?? '').localeCompare(a.lastTimestamp ?? a.eventTime ?? ''))[0];
  return newest?.message;
}
