// The desired CronJob (a pure function of policy, backend and run image), its drift check, and names.
import { describe, expect, it } from 'vitest';
import type { RetentionPolicy, StorageBackend } from '../../../src/api/generated/types.js';
import { validateRetentionPolicy, validateStorageBackend } from '../../../src/api/validate.js';
import { cronJobDrift, cronJobUpdate } from '../../../src/reconcilers/cronjob-drift.js';
import { desiredCronJob } from '../../../src/reconcilers/desired-cronjob.js';
import { desiredManualJob, runNowRequest } from '../../../src/reconcilers/manual-run.js';
import { boundedName, cronJobName, manualJobName, nameLabelValue, SPEC_HASH_ANNOTATION } from '../../../src/reconcilers/names.js';
import type { CronJob } from '../../../src/reconcilers/workloads.js';

function validPolicy(spec: Record<string, unknown> = {}, name = 'purge'): RetentionPolicy {
  const v = validateRetentionPolicy({
    apiVersion: 'retention.pyworkflow.io/v1alpha1',
    kind: 'RetentionPolicy',
    metadata: { name, namespace: 'ns', uid: 'uid-1', generation: 2 },
    spec: { retentionDays: 30, backendRef: { name: 'db' }, ...spec },
  });
  if (!v.ok) throw new Error(v.errors.join('; '));
  return v.value;
}

function validBackend(spec: unknown): StorageBackend {
  const v = validateStorageBackend({ apiVersion: 'retention.pyworkflow.io/v1alpha1', kind: 'StorageBackend', metadata: { name: 'db', namespace: 'ns' }, spec });
  if (!v.ok) throw new Error(v.errors.join('; '));
  return v.value;
}

const pg = validBackend({ type: 'postgres', postgres: { host: 'pg', passwordSecretRef: { name: 's', key: 'p' }, tls: { mode: 'verify-full', caSecretRef: { name: 'ca', key: 'ca.crt' } } } });
const sqlite = validBackend({ type: 'sqlite', sqlite: { volume: 'wf', path: 'db/pyworkflow.db' } });
const image = 'registry.example/pywr:1.2.3';

describe('desiredCronJob', () => {
  it('owner reference, Forbid, schedule, history limits and Job settings', () => {
    const cj = desiredCronJob({ policy: validPolicy({ schedule: '15 2 * * *', timeZone: 'Europe/Berlin', backoffLimit: 2, activeDeadlineSeconds: 1800, successfulJobsHistoryLimit: 0 }), backend: sqlite, runImage: image });
    expect(cj.metadata).toMatchObject({ name: 'rp-purge', namespace: 'ns' });
    expect(cj.metadata.ownerReferences).toEqual([{ apiVersion: 'retention.pyworkflow.io/v1alpha1', kind: 'RetentionPolicy', name: 'purge', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
    expect(cj.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'pyworkflow-retention', 'app.kubernetes.io/component': 'retention-run', 'app.kubernetes.io/managed-by': 'pyworkflow-retention-operator',
      'retention.pyworkflow.io/policy': 'purge', 'retention.pyworkflow.io/backend': 'db',
    });
    expect(cj.spec).toMatchObject({
      schedule: '15 2 * * *', timeZone: 'Europe/Berlin', suspend: false, concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 600,
      successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 3,
    });
    expect(cj.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 1800, ttlSecondsAfterFinished: 86400 });
    expect(cj.spec.jobTemplate.metadata?.annotations).toEqual({ 'retention.pyworkflow.io/policy-uid': 'uid-1' });
  });

  it('a restricted pod: non-root, seccomp, read-only root, no capabilities, no service-account token', () => {
    const pod = desiredCronJob({ policy: validPolicy(), backend: sqlite, runImage: image }).spec.jobTemplate.spec!.template.spec!;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBeUndefined();
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0]!;
    expect(c.securityContext).toEqual({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c).toMatchObject({ name: 'sweep', image, command: ['node', '/app/dist/src/cli/main.js'], terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' });
    expect(pod.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'wf' } }, { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
    expect(c.volumeMounts).toEqual([{ name: 'data', mountPath: '/data' }, { name: 'tmp', mountPath: '/tmp' }]);
  });

  it('user and group ids from jobTemplate.securityContext, still restricted', () => {
    const pod = desiredCronJob({
      policy: validPolicy({ jobTemplate: { securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000, fsGroupChangePolicy: 'OnRootMismatch', supplementalGroups: [3000] } } }),
      backend: sqlite,
      runImage: image,
    }).spec.jobTemplate.spec!.template.spec!;
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000, fsGroupChangePolicy: 'OnRootMismatch', supplementalGroups: [3000],
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('the service-account token only for a service account the user names', () => {
    const pod = desiredCronJob({ policy: validPolicy({ jobTemplate: { serviceAccountName: 'irsa' } }), backend: sqlite, runImage: image }).spec.jobTemplate.spec!.template.spec!;
    expect(pod).toMatchObject({ serviceAccountName: 'irsa', automountServiceAccountToken: true });
  });

  it('the run flags follow the spec', () => {
    const args = desiredCronJob({ policy: validPolicy({ dryRun: true, housekeeping: false, orphans: true, batchSize: 50, statuses: ['failed', 'cancelled'], activeDeadlineSeconds: 600 }), backend: sqlite, runImage: image })
      .spec.jobTemplate.spec!.template.spec!.containers[0]!.args!;
    expect(args).toEqual([
      'sweep', '--storage', '{"type":"sqlite","base_path":"/data/db/pyworkflow.db"}', '--retention-days', '30', '--batch-size', '50', '--statuses', 'failed,cancelled',
      '--dry-run', '--no-housekeeping', '--orphans', '--lock-wait', '270', '--max-duration', '540',
      '--output', 'json', '--termination-log', '/dev/termination-log', '--progress', 'log', '--log-format', 'json',
    ]);
    // batchSize unset (no CRD default): no flag, so the sweep sizes its batches itself.
    const autoArgs = desiredCronJob({ policy: validPolicy({}), backend: sqlite, runImage: image }).spec.jobTemplate.spec!.template.spec!.containers[0]!.args!;
    expect(autoArgs).not.toContain('--batch-size');
    // Headroom from the store's timeouts (run-contract.ts): postgres's statement (60 s) + connect (10 s) + grace (30 s).
    const pgArgs = desiredCronJob({ policy: validPolicy({ activeDeadlineSeconds: 3600 }), backend: pg, runImage: image }).spec.jobTemplate.spec!.template.spec!.containers[0]!.args!;
    expect(pgArgs[pgArgs.indexOf('--max-duration') + 1]).toBe('3500');
    const slow = validBackend({ type: 'postgres', postgres: { host: 'pg', statementTimeoutSeconds: 600 } });
    const slowArgs = desiredCronJob({ policy: validPolicy({ activeDeadlineSeconds: 3600 }), backend: slow, runImage: image }).spec.jobTemplate.spec!.template.spec!.containers[0]!.args!;
    expect(slowArgs[slowArgs.indexOf('--max-duration') + 1]).toBe('2960');
  });

  it('secrets only by reference: env secretKeyRef and secret-file volumes, no value anywhere', () => {
    const cj = desiredCronJob({ policy: validPolicy(), backend: pg, runImage: image });
    const pod = cj.spec.jobTemplate.spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(c.env).toEqual([{ name: 'PYWR_PASSWORD', valueFrom: { secretKeyRef: { name: 's', key: 'p' } } }]);
    expect(JSON.parse(c.args![2]!)).toMatchObject({ type: 'postgres', host: 'pg', password: '${PYWR_PASSWORD}', sslmode: 'verify-full', ssl_ca_file: '/etc/pyworkflow-retention/secrets/tls-ca/ca.crt' });
    expect(pod.volumes).toContainEqual({ name: 'tls-ca', secret: { secretName: 'ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
  });

  it('jobTemplate settings reach the pod; the operator labels win over podLabels', () => {
    const pod = desiredCronJob({
      policy: validPolicy({
        jobTemplate: {
          image: 'mine:1', resources: { limits: { memory: '256Mi' } }, nodeSelector: { pool: 'batch' }, tolerations: [{ key: 'batch', operator: 'Exists' }],
          podAnnotations: { a: 'b' }, podLabels: { team: 'x', 'app.kubernetes.io/managed-by': 'someone-else' }, imagePullSecrets: [{ name: 'reg' }], priorityClassName: 'low',
          affinity: { nodeAffinity: {} },
        },
      }),
      backend: sqlite,
      runImage: image,
    }).spec.jobTemplate.spec!.template;
    expect(pod.metadata?.labels).toMatchObject({ team: 'x', 'app.kubernetes.io/managed-by': 'pyworkflow-retention-operator' });
    expect(pod.metadata?.annotations).toEqual({ a: 'b', 'retention.pyworkflow.io/policy-uid': 'uid-1' });
    // The run's result lives in its pod: the API server keeps the pod until the controller recorded it.
    expect(pod.metadata?.finalizers).toEqual(['retention.pyworkflow.io/run-result']);
    expect(pod.spec).toMatchObject({ nodeSelector: { pool: 'batch' }, tolerations: [{ key: 'batch', operator: 'Exists' }], imagePullSecrets: [{ name: 'reg' }], priorityClassName: 'low', affinity: { nodeAffinity: {} } });
    expect(pod.spec!.containers[0]).toMatchObject({ image: 'mine:1', resources: { limits: { memory: '256Mi' } } });
  });

  it('is deterministic, and its spec hash changes with any owned field', () => {
    const a = desiredCronJob({ policy: validPolicy(), backend: sqlite, runImage: image });
    const b = desiredCronJob({ policy: validPolicy(), backend: sqlite, runImage: image });
    expect(a).toEqual(b);
    const c = desiredCronJob({ policy: validPolicy({ jobTemplate: { nodeSelector: { x: 'y' } } }), backend: sqlite, runImage: image });
    expect(c.metadata.annotations?.[SPEC_HASH_ANNOTATION]).not.toBe(a.metadata.annotations?.[SPEC_HASH_ANNOTATION]);
  });
});

describe('cronJobDrift', () => {
  const desired = desiredCronJob({ policy: validPolicy(), backend: sqlite, runImage: image });
  const observed = (): CronJob => {
    const o = structuredClone(desired);
    // What the API server adds: defaults and metadata.
    o.metadata = { ...o.metadata, uid: 'cj', resourceVersion: '7', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' };
    const pod = o.spec.jobTemplate.spec!.template.spec!;
    pod.dnsPolicy = 'ClusterFirst';
    pod.schedulerName = 'default-scheduler';
    pod.containers[0]!.resources = {};
    o.spec.jobTemplate.spec!.completions = 1;
    return o;
  };

  it('no difference for what the server defaults or normalises', () => {
    expect(cronJobDrift(observed(), desired)).toEqual([]);
  });

  it('names hand edits of the fields people touch', () => {
    const o = observed();
    o.spec.schedule = '* * * * *';
    o.spec.suspend = true;
    o.spec.concurrencyPolicy = 'Allow';
    o.spec.jobTemplate.spec!.template.spec!.containers[0]!.image = 'evil:latest';
    expect(cronJobDrift(o, desired)).toEqual(['schedule', 'suspend', 'concurrencyPolicy', 'container.image']);
  });

  it('notices the operator’s own changes (including removals) through the spec hash', () => {
    const withSelector = desiredCronJob({ policy: validPolicy({ jobTemplate: { nodeSelector: { x: 'y' } } }), backend: sqlite, runImage: image });
    const o = observed();
    o.metadata.annotations = { ...withSelector.metadata.annotations };
    o.spec.jobTemplate.spec!.template.spec!.nodeSelector = { x: 'y' };
    expect(cronJobDrift(o, desired)).toEqual(['spec-hash']);
  });

  it('the update keeps others’ metadata and the resourceVersion, and replaces the spec', () => {
    const o = observed();
    o.metadata.labels = { ...o.metadata.labels, extra: 'kept' };
    o.spec.schedule = '* * * * *';
    const u = cronJobUpdate(o, desired);
    expect(u.metadata.resourceVersion).toBe('7');
    expect(u.metadata.labels?.extra).toBe('kept');
    expect(u.spec).toEqual(desired.spec);
  });
});

describe('names and manual runs', () => {
  it('CronJob names fit in 52 characters, Job names and label values in 63, deterministically', () => {
    const long = 'a'.repeat(60) + '.example.com';
    expect(cronJobName('purge')).toBe('rp-purge');
    expect(cronJobName(long)).toHaveLength(52);
    expect(cronJobName(long)).toBe(cronJobName(long));
    expect(cronJobName(long)).not.toBe(cronJobName(long + 'x'));
    expect(manualJobName(long, 'token').length).toBeLessThanOrEqual(63);
    expect(manualJobName('p', 'a')).not.toBe(manualJobName('p', 'b'));
    expect(nameLabelValue(long).length).toBeLessThanOrEqual(63);
    expect(boundedName('x'.repeat(20), 12)).toMatch(/^xxx-[0-9a-f]{8}$/);
  });

  it('a run-now token starts one Job (owned by the policy, from the CronJob template) unless already recorded', () => {
    const policy = validPolicy();
    policy.metadata.annotations = { 'retention.pyworkflow.io/run-now': '2026-03-01T10:00' };
    expect(runNowRequest(policy)).toEqual({ kind: 'new', token: '2026-03-01T10:00' });
    const job = desiredManualJob(desiredCronJob({ policy, backend: sqlite, runImage: image }), policy, '2026-03-01T10:00');
    expect(job.metadata.annotations).toMatchObject({ 'retention.pyworkflow.io/run-now-token': '2026-03-01T10:00', 'cronjob.kubernetes.io/instantiate': 'manual', 'retention.pyworkflow.io/policy-uid': 'uid-1' });
    expect(job.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'RetentionPolicy', uid: 'uid-1', controller: true });
    policy.status = { lastRunNowToken: '2026-03-01T10:00' };
    expect(runNowRequest(policy)).toEqual({ kind: 'none' });
    policy.metadata.annotations = { 'retention.pyworkflow.io/run-now': 'x'.repeat(300) };
    const refused = runNowRequest(policy);
    expect(refused.kind).toBe('invalid');
    policy.status = { lastRunNowToken: refused.kind === 'invalid' ? refused.recordAs : '' };
    expect(runNowRequest(policy)).toEqual({ kind: 'none' });
  });
});
