// Smoke tests of the Kubernetes part of the test environment (scripts/env/components/kube.sh and
// helm.sh) and of the test node (test/support/test-node.ts): the real API server validates CRDs with
// CEL, the real controllers run CronJobs, Jobs and garbage collection, the test node runs Job pods as
// local processes, and the built helm works.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../support/kubectl.js';
import { startTestNode, type TestNode } from '../../support/test-node.js';
import { requireEnv } from '../../support/test-env.js';

const run = promisify(execFile);

const KUBECONFIG = requireEnv('KUBECONFIG');
const KUBECTL = requireEnv('KUBECTL');
const HELM = requireEnv('HELM');
const API_URL = requireEnv('KUBE_APISERVER_URL');

const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const NS = `kube-smoke-${suffix}`;
const POD_LABEL = 'pywr-smoke';

const kc = new KubeConfig();
kc.loadFromFile(KUBECONFIG);
const core = kc.makeApiClient(CoreV1Api);
const batch = kc.makeApiClient(BatchV1Api);

async function kubectl(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const child = run(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], { timeout: 60_000 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  return child;
}

/** kubectl expected to fail: resolves with its stderr. */
async function kubectlFails(args: string[], input?: string): Promise<string> {
  try {
    await kubectl(args, input);
  } catch (err) {
    return (err as { stderr?: string }).stderr ?? String(err);
  }
  throw new Error(`kubectl ${args.join(' ')} succeeded but was expected to fail`);
}

function jobCondition(job: V1Job, type: string): boolean {
  return (job.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

async function jobPods(jobName: string): Promise<V1Pod[]> {
  const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: `batch.kubernetes.io/job-name=${jobName}` });
  return pods.items;
}

async function waitForJob(name: string, type: 'Complete' | 'Failed', timeoutMs = 60_000): Promise<V1Job> {
  return eventually(`Job ${name} ${type}`, timeoutMs, async () => {
    const job = await batch.readNamespacedJob({ name, namespace: NS });
    const other = type === 'Complete' ? 'Failed' : 'Complete';
    if (jobCondition(job, other)) throw new Error(`Job ${name} is ${other}: ${JSON.stringify(job.status)}`);
    return jobCondition(job, type) ? job : undefined;
  });
}

/** A Job whose single pod (run by the test node) executes `node -e script`. */
function nodeJob(name: string, script: string, extra: { backoffLimit?: number; activeDeadlineSeconds?: number } = {}): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: NS },
    spec: {
      backoffLimit: extra.backoffLimit ?? 0,
      template: {
        metadata: { labels: { [POD_LABEL]: suffix } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          ...(extra.activeDeadlineSeconds ? { activeDeadlineSeconds: extra.activeDeadlineSeconds } : {}),
          containers: [{
            name: 'main',
            image: 'example.invalid/ignored:1',
            command: ['node', '-e', script, '/dev/termination-log'],
            terminationMessagePolicy: 'FallbackToLogsOnError',
            env: [
              { name: 'GREETING', valueFrom: { secretKeyRef: { name: 'smoke-secret', key: 'greeting' } } },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'CONFIG_FILE', value: '/etc/smoke/settings.json' },
            ],
            volumeMounts: [
              { name: 'settings', mountPath: '/etc/smoke' },
              { name: 'scratch', mountPath: '/scratch' },
            ],
          }],
          volumes: [
            { name: 'settings', configMap: { name: 'smoke-settings' } },
            { name: 'scratch', emptyDir: {} },
          ],
        },
      },
    },
  };
}

let node: TestNode;
let workDir: string;
const CRON = 'smoke-cron';

beforeAll(async () => {
  // Guard against a KUBECONFIG from the developer's shell: these tests create and delete objects.
  const server = kc.getCurrentCluster()?.server;
  expect(server, `KUBECONFIG=${KUBECONFIG} must point at the test API server`).toBe(API_URL);
  expect(new URL(server!).hostname).toBe('127.0.0.1');

  await core.createNamespace({ body: { metadata: { name: NS } } });
  await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'smoke-secret' }, stringData: { greeting: 'hello from a secret' } } });
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'smoke-settings' }, data: { 'settings.json': '{"answer":42}' } } });
  // The CronJob goes first: its controller acts at the next minute boundary while the other tests run.
  await batch.createNamespacedCronJob({
    namespace: NS,
    body: {
      metadata: { name: CRON },
      spec: {
        schedule: '* * * * *',
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 3,
        jobTemplate: { spec: nodeJob('unused', "require('fs').writeFileSync(process.argv[1], JSON.stringify({ from: 'cron' }))").spec! },
      },
    },
  });
  workDir = mkdtempSync(join(tmpdir(), 'pywr-test-node-'));
  node = await startTestNode({
    kubeconfigPath: KUBECONFIG,
    namespace: NS,
    labelSelector: `${POD_LABEL}=${suffix}`,
    nodeName: `test-node-${suffix}`,
    workDir,
  });
});

afterAll(async () => {
  await node?.stop();
  await core.deleteNamespace({ name: NS }).catch(() => undefined);
  await core.deleteNode({ name: `test-node-${suffix}` }).catch(() => undefined);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('kube test environment', () => {
  it('serves a CRD with an OpenAPI schema and rejects invalid objects at admission (CEL included)', async () => {
    const group = `${suffix}.smoke.pyworkflow.io`;
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: [`wd${suffix}`] },
        versions: [{
          name: 'v1alpha1', served: true, storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  required: ['days'],
                  properties: { days: { type: 'integer', minimum: 1 }, mode: { type: 'string', enum: ['fast', 'safe'] } },
                  'x-kubernetes-validations': [{ rule: 'self.days <= 365 || self.mode == "safe"', message: 'days above 365 need mode safe' }],
                },
              },
            },
          },
        }],
      },
    };
    try {
      await kubectl(['apply', '-f', '-'], JSON.stringify(crd));
      await kubectl(['wait', '--for=condition=Established', `crd/widgets.${group}`, '--timeout=60s']);
      const widget = (days: unknown, mode = 'fast'): string =>
        JSON.stringify({ apiVersion: `${group}/v1alpha1`, kind: 'Widget', metadata: { name: `w${String(days)}`, namespace: NS }, spec: { days, mode } });
      await eventually('the CRD to be served', 30_000, async () => {
        await kubectl(['get', `widgets.${group}`, '-n', NS]);
        return true;
      });
      await kubectl(['apply', '-f', '-'], widget(30));
      const got = await kubectl(['get', `widgets.${group}`, '-n', NS, 'w30', '-o', 'jsonpath={.spec.days}']);
      expect(got.stdout).toBe('30');

      expect(await kubectlFails(['apply', '-f', '-'], widget(0))).toMatch(/spec\.days.*should be greater than or equal to 1/);
      expect(await kubectlFails(['apply', '-f', '-'], widget('7'))).toMatch(/spec\.days.*must be of type integer|spec\.days: Invalid value: "string"/);
      expect(await kubectlFails(['apply', '-f', '-'], widget(400))).toContain('days above 365 need mode safe');
      await kubectl(['apply', '-f', '-'], widget(400, 'safe'));
    } finally {
      await kubectl(['delete', 'crd', `widgets.${group}`, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    }
  });

  it('garbage-collects a dependent ConfigMap when its owner is deleted', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'gc-owner' }, data: { a: '1' } } });
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: {
        metadata: {
          name: 'gc-child',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gc-owner', uid: owner.metadata!.uid!, blockOwnerDeletion: false }],
        },
        data: { b: '2' },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'gc-owner', namespace: NS });
    await eventually('the garbage collector to delete gc-child', 60_000, async () => {
      try {
        await core.readNamespacedConfigMap({ name: 'gc-child', namespace: NS });
        return undefined;
      } catch (err) {
        if (err instanceof ApiException && (err as ApiException<unknown>).code === 404) return true;
        throw err;
      }
    });
  });

  it('runs a Job pod on the test node: the Job completes and the termination message is in the pod status', async () => {
    const script = [
      "const fs = require('fs');",
      "const settings = JSON.parse(fs.readFileSync(process.env.CONFIG_FILE, 'utf8'));",
      // emptyDir mounted at /scratch: the test node rewrites the path in env values to a local directory.
      "fs.writeFileSync(process.env.SCRATCH_FILE, 'ok');",
      "console.log('log line from', process.env.POD_NAME);",
      "fs.writeFileSync(process.argv[1], JSON.stringify({ greeting: process.env.GREETING, answer: settings.answer }));",
    ].join('\n');
    const job = nodeJob('ok-job', script);
    job.spec!.template.spec!.containers[0]!.env!.push({ name: 'SCRATCH_FILE', value: '/scratch/x' });
    await batch.createNamespacedJob({ namespace: NS, body: job });
    const done = await waitForJob('ok-job', 'Complete');
    expect(done.status?.succeeded).toBe(1);

    const pods = await jobPods('ok-job');
    expect(pods).toHaveLength(1);
    const pod = pods[0]!;
    expect(pod.spec?.nodeName).toBe(`test-node-${suffix}`);
    expect(pod.status?.phase).toBe('Succeeded');
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(0);
    expect(terminated?.reason).toBe('Completed');
    expect(JSON.parse(terminated?.message ?? 'null')).toEqual({ greeting: 'hello from a secret', answer: 42 });
    expect(node.logs(pod.metadata!.name!)).toContain(`log line from ${pod.metadata!.name!}`);
    // The Job controller removes its tracking finalizer once it has counted the pod.
    await eventually('the job-tracking finalizer to be removed', 30_000, async () => {
      const p = await core.readNamespacedPod({ name: pod.metadata!.name!, namespace: NS });
      return (p.metadata?.finalizers ?? []).includes('batch.kubernetes.io/job-tracking') ? undefined : true;
    });
  });

  it('a failing pod fails the Job (backoffLimit 0); the log tail becomes the message', async () => {
    await batch.createNamespacedJob({
      namespace: NS,
      body: nodeJob('bad-job', "console.error('storage unreachable: connection refused'); process.exit(3)"),
    });
    const failed = await waitForJob('bad-job', 'Failed');
    expect(failed.status?.failed).toBe(1);
    expect(failed.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackoffLimitExceeded');
    const [pod] = await jobPods('bad-job');
    expect(pod?.status?.phase).toBe('Failed');
    const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(3);
    expect(terminated?.reason).toBe('Error');
    expect(terminated?.message).toContain('storage unreachable: connection refused');
  });

  it('enforces the pod activeDeadlineSeconds', async () => {
    await batch.createNamespacedJob({
      namespace: NS,
      body: nodeJob('slow-job', 'setTimeout(() => {}, 120000)', { activeDeadlineSeconds: 2 }),
    });
    await waitForJob('slow-job', 'Failed');
    const [pod] = await jobPods('slow-job');
    expect(pod?.status?.phase).toBe('Failed');
    expect(pod?.status?.reason).toBe('DeadlineExceeded');
  });

  it('restart-apiserver restarts kube-apiserver and etcd while a pod runs; the Job still completes', async () => {
    await batch.createNamespacedJob({
      namespace: NS,
      body: nodeJob('across-restart', "setTimeout(() => require('fs').writeFileSync(process.argv[1], 'survived'), 3000)"),
    });
    await eventually('the pod to run', 30_000, async () =>
      (await jobPods('across-restart')).some((p) => p.status?.phase === 'Running') ? true : undefined);
    const started = Date.now();
    await run('bash', [requireEnv('KUBE_ENV_SCRIPT'), 'restart-apiserver'], { timeout: 120_000 });
    expect(Date.now() - started).toBeLessThan(60_000);
    const done = await waitForJob('across-restart', 'Complete');
    expect(done.status?.succeeded).toBe(1);
    const [pod] = await jobPods('across-restart');
    expect(pod?.status?.containerStatuses?.[0]?.state?.terminated?.message).toBe('survived');
  });

  it('helm built from source renders and installs a chart', async () => {
    const version = await run(HELM, ['version', '--short']);
    expect(version.stdout).toMatch(/^v3\.\d+\.\d+/);
    const chart = join(workDir, 'chart');
    mkdirSync(join(chart, 'templates'), { recursive: true });
    writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: smoke\nversion: 0.1.0\n');
    writeFileSync(join(chart, 'values.yaml'), 'answer: 42\n');
    writeFileSync(join(chart, 'templates', 'cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  answer: {{ .Values.answer | quote }}\n');
    const rendered = await run(HELM, ['template', 'smoke', chart, '--set', 'answer=7']);
    expect(rendered.stdout).toContain('name: smoke-cm');
    expect(rendered.stdout).toContain('answer: "7"');

    const env = { ...process.env, HOME: workDir, KUBECONFIG };
    await run(HELM, ['install', 'smoke', chart, '--namespace', NS, '--wait', '--timeout', '60s'], { env });
    const cm = await core.readNamespacedConfigMap({ name: 'smoke-cm', namespace: NS });
    expect(cm.data?.answer).toBe('42');
    await run(HELM, ['uninstall', 'smoke', '--namespace', NS], { env });
  });

  it('the CronJob controller creates a Job at the minute boundary, and a manual Job runs from its template', async () => {
    // Manual run from the CronJob's template, the way `kubectl create job --from=cronjob/...` does it.
    await kubectl(['create', 'job', '-n', NS, 'smoke-manual', `--from=cronjob/${CRON}`]);
    const manual = await waitForJob('smoke-manual', 'Complete');
    expect(manual.metadata?.ownerReferences?.[0]?.name).toBe(CRON);

    // The controller's own Job: created at the first minute boundary after beforeAll, at most ~60 s.
    const scheduled = await eventually('the cronjob controller to create a Job', 75_000, async () => {
      const jobs = await batch.listNamespacedJob({ namespace: NS });
      return jobs.items.find((j) =>
        j.metadata?.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'] !== undefined &&
        j.metadata?.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === CRON));
    });
    const completed = await waitForJob(scheduled.metadata!.name!, 'Complete');
    const [pod] = await jobPods(completed.metadata!.name!);
    expect(JSON.parse(pod?.status?.containerStatuses?.[0]?.state?.terminated?.message ?? 'null')).toEqual({ from: 'cron' });
    const cron = await batch.readNamespacedCronJob({ name: CRON, namespace: NS });
    expect(cron.status?.lastScheduleTime).toBeDefined();
    await batch.patchNamespacedCronJob(
      { name: CRON, namespace: NS, body: [{ op: 'replace', path: '/spec/suspend', value: true }] },
    );
    expect(node.errors()).toEqual([]);
  });
});
