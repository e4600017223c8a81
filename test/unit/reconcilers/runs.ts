// Test helpers that play the Job controller and the kubelet: a Job from a CronJob's template that
// finished, with a pod whose termination message is the run's JSON result.
import type { SweepReport } from '../../../src/engine/report.js';
import { zeroCounts, type KindCounts } from '../../../src/engine/records.js';
import { JOBS, PODS } from '../../../src/controller/resources.js';
import type { CronJob, Job, Pod } from '../../../src/reconcilers/workloads.js';
import type { FakeCluster } from './fake-cluster.js';

export function report(overrides: Partial<SweepReport> = {}, deleted: Partial<KindCounts> = {}): SweepReport {
  return {
    resultVersion: 1,
    outcome: 'succeeded',
    backend: 'sqlite /data/pyworkflow.db',
    cutoff: '2026-01-30T12:00:00.000Z',
    dryRun: false,
    statuses: ['completed'],
    housekeeping: true,
    schemaVersion: 'sqlite-v2',
    deleted: { ...zeroCounts(), ...deleted },
    keptForChildren: 0,
    startedAt: '2026-03-01T11:00:00.000Z',
    finishedAt: '2026-03-01T11:00:05.000Z',
    durationMs: 5000,
    ...overrides,
  };
}

export interface RunSpec {
  name: string;
  /** Job end: Complete, or Failed with a reason. */
  end: { kind: 'Complete' } | { kind: 'Failed'; reason: string; message?: string };
  endedAt: string;
  /** One entry per pod (attempt): its termination message (string, a report, or undefined) and exit code. */
  pods: Array<{ message?: string | SweepReport; exitCode: number; finishedAt?: string }>;
}

/** Creates a finished Job from the CronJob's template (as the CronJob controller would) and its pods. */
export function finishRun(cluster: FakeCluster, cronJob: CronJob, run: RunSpec, extraAnnotations: Record<string, string> = {}): Job {
  const ns = cronJob.metadata.namespace ?? '';
  const template = cronJob.spec.jobTemplate;
  const condition = run.end.kind === 'Complete'
    ? { type: 'Complete', status: 'True', lastTransitionTime: run.endedAt }
    : { type: 'Failed', status: 'True', reason: run.end.reason, message: run.end.message ?? '', lastTransitionTime: run.endedAt };
  const job = cluster.put<Job>(JOBS, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: run.name,
      namespace: ns,
      labels: { ...(template.metadata?.labels ?? {}) },
      annotations: { ...(template.metadata?.annotations ?? {}), ...extraAnnotations },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob.metadata.name, uid: cronJob.metadata.uid ?? '', controller: true }],
    },
    spec: template.spec,
    status: {
      startTime: '2026-03-01T11:00:00Z',
      ...(run.end.kind === 'Complete' ? { completionTime: run.endedAt } : {}),
      conditions: [condition],
    },
  });
  run.pods.forEach((p, i) => {
    const message = typeof p.message === 'string' || p.message === undefined ? p.message : JSON.stringify(p.message);
    cluster.put<Pod>(PODS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${run.name}-${i}`,
        namespace: ns,
        labels: { ...(template.spec?.template.metadata?.labels ?? {}), 'batch.kubernetes.io/job-name': run.name },
        annotations: { ...(template.spec?.template.metadata?.annotations ?? {}) },
        // The Job controller copies the pod template's finalizers (and adds its own tracking one).
        finalizers: [...(template.spec?.template.metadata?.finalizers ?? [])],
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: run.name, uid: job.metadata.uid ?? '', controller: true }],
      },
      spec: { nodeName: 'node-1', containers: (template.spec?.template.spec?.containers ?? []).map((c) => ({ name: c.name, ...(c.args ? { args: c.args } : {}) })) },
      status: {
        phase: p.exitCode === 0 ? 'Succeeded' : 'Failed',
        containerStatuses: [{ name: 'sweep', state: { terminated: { exitCode: p.exitCode, reason: p.exitCode === 0 ? 'Completed' : 'Error', ...(message !== undefined ? { message } : {}), finishedAt: p.finishedAt ?? run.endedAt } } }],
      },
    });
  });
  return job;
}
