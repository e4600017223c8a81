// Needs: the real control plane and the real node (kubelet with containerd, kube-scheduler:
// scripts/env/components/node.sh). The controller runs as a local process (harness.ts); its run pods
// go to the real scheduler and kubelet, which report why they cannot start.
//
// A run that cannot start is visible within a minute, not when activeDeadlineSeconds ends it:
// LastRunSucceeded=Unknown with reason RunStalled naming the Job and the cause, and exactly one Warning
// event — for an image that cannot be pulled, a missing Secret, no node that can take the pod, and a
// pod the API server refuses to create (FailedCreate).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy } from '../../src/api/generated/types.js';
import type { Job } from '../../src/reconcilers/workloads.js';
import { createNamespace, deleteNamespace, eventually, installCrds, kubectl, kubectlOk } from '../support/kubectl.js';
import { realNode } from '../support/real-node.js';
import { REPO_ROOT } from '../support/test-env.js';
import { apply, buildOnce, ControllerProcess, controllerArgs, getJson, sleep } from './harness.js';

const ns = `e2e-stall-${randomBytes(3).toString('hex')}`;
const API = 'retention.pyworkflow.io/v1alpha1';
const node = realNode();
let controller: ControllerProcess;

const getPolicy = (name: string): Promise<RetentionPolicy> => getJson<RetentionPolicy>(['get', 'rp', name, '-n', ns]);
const lastRunSucceeded = (p: RetentionPolicy) => p.status?.conditions?.find((c) => c.type === 'LastRunSucceeded');

function policy(name: string, backend: string, jobTemplate: Record<string, unknown>): RetentionPolicy {
  return {
    apiVersion: API,
    kind: 'RetentionPolicy',
    metadata: { name },
    spec: { retentionDays: 30, backendRef: { name: backend }, schedule: '0 0 1 1 *', activeDeadlineSeconds: 600, jobTemplate } as unknown as RetentionPolicy['spec'],
  };
}

describe('Runs that cannot start are reported at once (real scheduler and kubelet)', () => {
  beforeAll(async () => {
    buildOnce();
    await installCrds(join(REPO_ROOT, 'crds'));
    await createNamespace(ns);
    const onNode = { tolerations: [node.toleration] };
    await apply(
      ns,
      // Nothing is ever reached: the pods never start. The password Secret is created for all but one.
      { apiVersion: API, kind: 'StorageBackend', metadata: { name: 'pg' }, spec: { type: 'postgres', postgres: { host: '127.0.0.1', passwordSecretRef: { name: 'pg-credentials', key: 'password' } } } },
      { apiVersion: API, kind: 'StorageBackend', metadata: { name: 'pg-no-secret' }, spec: { type: 'postgres', postgres: { host: '127.0.0.1', passwordSecretRef: { name: 'no-such-secret', key: 'password' } } } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pg-credentials' }, stringData: { password: 'unused' } },
      policy('image', 'pg', { ...onNode, image: 'registry.invalid/pyworkflow-retention:none' }),
      policy('secret', 'pg-no-secret', { ...onNode, image: node.image }),
      // No toleration of the nodes' taints: the scheduler finds no node.
      policy('nowhere', 'pg', { image: node.image }),
      // The ServiceAccount admission plugin refuses pods of a service account that does not exist.
      policy('refused', 'pg', { ...onNode, image: node.image, serviceAccountName: 'no-such-account' }),
    );
    controller = ControllerProcess.start('stall-a', controllerArgs(ns));
    await controller.waitFor('acting as leader', (l) => l.msg === 'acting as leader', 30_000);
    await eventually('all four CronJobs', 30_000, async () =>
      (await getJson<{ items: unknown[] }>(['get', 'cronjobs', '-n', ns])).items.length === 4 ? true : undefined);
  });

  afterAll(async () => {
    await controller?.stop();
    // Let go of the pods the stalled runs left (their results will never come).
    const pods = await getJson<{ items: Array<{ metadata: { name: string } }> }>(['get', 'pods', '-n', ns]).catch(() => ({ items: [] }));
    for (const p of pods.items) await kubectl(['patch', 'pod', p.metadata.name, '-n', ns, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}']);
    await deleteNamespace(ns);
  });

  it.each([
    ['image', /cannot start: pod \S+: (ErrImagePull|ImagePullBackOff)/],
    // The kubelet's first words for a missing Secret vary ("secret ... not found", "failed to sync secret
    // cache"); the cause and what to check are what the condition must carry.
    ['secret', /cannot start: pod \S+: CreateContainerConfigError: .*Check the Secrets and keys the StorageBackend refers to\.$/],
    ['nowhere', /cannot start: pod \S+ cannot be scheduled: 0\/\d+ nodes are available/],
    ['refused', /cannot start: its pods cannot be created \(FailedCreate\): .*no-such-account/],
  ])('%s: LastRunSucceeded=Unknown/RunStalled naming the Job and the cause within a minute, and one Warning event', async (name, cause) => {
    const started = Date.now();
    await kubectlOk(['annotate', '--overwrite', 'rp', name, '-n', ns, `retention.pyworkflow.io/run-now=${name}-1`]);
    const job = await eventually(`the Job of ${name}`, 30_000, async () =>
      (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns])).items.find((j) => j.metadata.annotations?.['retention.pyworkflow.io/run-now-token'] === `${name}-1`));
    const stalled = await eventually(`${name}: RunStalled`, 60_000, async () => {
      const c = lastRunSucceeded(await getPolicy(name));
      return c?.reason === 'RunStalled' ? c : undefined;
    });
    const seconds = (Date.now() - started) / 1000;
    console.log(`${name}: RunStalled after ${seconds.toFixed(1)} s: ${stalled.message}`);
    expect(seconds).toBeLessThan(60);
    expect(stalled.status).toBe('Unknown');
    expect(stalled.message).toContain(`Job ${job.metadata.name} `);
    expect(stalled.message).toMatch(cause);
    // The Ready condition is about the policy, not the run: it stays True.
    expect((await getPolicy(name)).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    // More kubelet retries, resyncs and back-offs: still exactly one event.
    await sleep(25_000);
    const events = (await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '--field-selector', 'reason=RunStalled', '-o', 'jsonpath={range .items[*]}{.regarding.name}|{.type}{"\\n"}{end}']))
      .split('\n')
      .filter((l) => l.startsWith(`${name}|`));
    expect(events).toHaveLength(1);
    expect(events[0]).toBe(`${name}|Warning`);
    expect(lastRunSucceeded(await getPolicy(name))?.reason).toBe('RunStalled');
  });
});
