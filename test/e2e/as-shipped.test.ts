// Needs: the whole test environment (`npm run env:up`): the control plane, the real node (containerd,
// kubelet, kube-scheduler; scripts/env/components/node.sh), helm, buildah for `npm run image`, and
// real pyworkflow.
//
// The operator as a platform team runs it: the image built by `npm run image`, installed by `helm
// install` of the repository's chart, the controller a pod on the real node under the chart's
// ServiceAccount and RBAC only (no admin kubeconfig), its run pods started by the CronJob schedule in a
// namespace enforcing the `restricted` Pod Security Standard, reaching stores written by real
// pyworkflow on PersistentVolumes owned by another uid/gid through `jobTemplate.securityContext`.
//
// The controller uses host networking (the chart's `hostNetwork` value): the real node has no
// kube-proxy and its pod network no route to the API server on 127.0.0.1. So one replica only (two
// host-network replicas would need the same ports on the one node), and the release namespace is
// `privileged`; the run pods keep their own network namespace in the `restricted` policy namespace.
// Leader election between two replicas is therefore not exercised here (and the API server's service
// proxy refuses loopback endpoints, so /metrics is fetched from the EndpointSlice's address directly).
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy, StorageBackend } from '../../src/api/generated/types.js';
import type { CronJob, Job } from '../../src/reconcilers/workloads.js';
import { eventually, helm, helmOk, kubectl, kubectlOk } from '../support/kubectl.js';
import { expectedPurged, interopSpec, type RunFacts } from '../support/interop.js';
import { pyworkflow, type Inspection, type Manifest } from '../support/pyworkflow.js';
import { runProcess } from '../support/process.js';
import { createLocalVolume, podLog, realNode } from '../support/real-node.js';
import { REPO_ROOT, requireEnv } from '../support/test-env.js';
import { apply, getJson, tryGetJson } from './harness.js';

const CHART = join(REPO_ROOT, 'helm', 'pyworkflow-retention-operator');
const API = 'retention.pyworkflow.io/v1alpha1';
const suffix = randomBytes(3).toString('hex');
const RELEASE = `shipped-${suffix}`;
const REL_NS = `shipped-op-${suffix}`;
const POL_NS = `shipped-rp-${suffix}`;
/** The chart's full name for a release whose name does not contain the chart's name. */
const FULLNAME = `${RELEASE}-pyworkflow-retention-operator`;
/** Owner of the stores on their volumes: neither root nor the run pod's uid 65532. */
const OWNER_UID = 1000;
const OWNER_GID = 3000;

/** A pod as `kubectl get -o json` prints it (metadata always set). */
type Pod = V1Pod & { metadata: NonNullable<V1Pod['metadata']> & { name: string } };

const node = realNode();
const kc = new KubeConfig();
kc.loadFromFile(requireEnv('KUBECONFIG'));
const core = kc.makeApiClient(CoreV1Api);

interface Store {
  kind: 'sqlite' | 'file';
  policy: string;
  hostDir: string;
  /** What the pyworkflow driver opens on the host. */
  storage: Record<string, unknown>;
  manifest?: Manifest;
  before?: Inspection;
  facts?: RunFacts[];
  deleteVolume?: () => Promise<void>;
}

let image = '';
let work = '';
let metricsPort = 0;
let healthPort = 0;
const stores: Store[] = [];

/** A TCP port nothing listens on now (the controller's host-network ports must be free on the node). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The store as a worker pod of another uid would leave it: owned by it, group-writable, nothing for others. */
function handOver(path: string): void {
  const st = lstatSync(path);
  chownSync(path, OWNER_UID, OWNER_GID);
  if (st.isDirectory()) {
    chmodSync(path, 0o770);
    for (const e of readdirSync(path)) handOver(join(path, e));
  } else {
    chmodSync(path, 0o660);
  }
}

function apiServerPort(): string {
  return new URL(requireEnv('KUBE_APISERVER_URL')).port;
}

async function controllerPod(): Promise<Pod> {
  const pods = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', REL_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`]);
  const running = pods.items.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
  if (running.length !== 1) throw new Error(`expected one running controller pod, found ${JSON.stringify(pods.items.map((p) => [p.metadata.name, p.status?.phase]))}`);
  return running[0]!;
}

/** Lines of the controller's JSON log (read from the kubelet's log files: `kubectl logs` cannot reach this node). */
function controllerLog(podName: string): Array<Record<string, unknown>> {
  return podLog(REL_NS, podName, 'controller')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** The metrics endpoint behind the chart's metrics Service, as its EndpointSlice names it. */
async function metricsEndpoint(): Promise<string> {
  interface Slice { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[]; ports?: { name?: string; port?: number }[] }
  return eventually('a ready endpoint in the metrics Service\'s EndpointSlice', 60_000, async () => {
    const slices = await getJson<{ items: Slice[] }>(['get', 'endpointslices.discovery.k8s.io', '-n', REL_NS, '-l', `kubernetes.io/service-name=${FULLNAME}-metrics`]);
    for (const s of slices.items) {
      const port = s.ports?.find((p) => p.name === 'metrics')?.port;
      const ep = s.endpoints?.find((e) => e.conditions?.ready);
      if (port && ep) return `http://${ep.addresses[0]}:${port}/metrics`;
    }
    return undefined;
  });
}

async function scrape(): Promise<string> {
  const res = await fetch(await metricsEndpoint());
  expect(res.status).toBe(200);
  return res.text();
}

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const body = line.slice(name.length);
    if (want.every((w) => body.includes(w))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

/** Audit events of requests by the given user since the suite started. */
function auditByUser(username: string, verb: string, resource: string, namespace: string): number {
  const text = readFileSync(requireEnv('KUBE_AUDIT_LOG'), 'utf8');
  let n = 0;
  for (const l of text.split('\n')) {
    if (!l.includes(username) || !l.includes(namespace)) continue;
    const e = JSON.parse(l) as { stage?: string; verb?: string; user?: { username?: string }; objectRef?: { resource?: string; namespace?: string }; responseStatus?: { code?: number } };
    if (e.stage === 'ResponseComplete' && e.verb === verb && e.user?.username === username && e.objectRef?.resource === resource && e.objectRef.namespace === namespace && (e.responseStatus?.code ?? 0) < 300) n++;
  }
  return n;
}

const getPolicy = (name: string): Promise<RetentionPolicy> => getJson<RetentionPolicy>(['get', 'rp', name, '-n', POL_NS]);

beforeAll(async () => {
  const t0 = Date.now();
  const built = await runProcess('npm', ['--prefix', REPO_ROOT, 'run', '--silent', 'image'], { timeoutMs: 1_200_000 });
  if (built.code !== 0) throw new Error(`npm run image failed (${built.code}):\n${built.stderr.slice(-4000)}`);
  image = built.stdout.trim().split('\n').at(-1) ?? '';
  expect(image).toMatch(/^localhost\/pyworkflow-retention-operator:\d+\.\d+\.\d+-[0-9a-f]{12}$/);
  console.log(`npm run image: ${image} in ${Date.now() - t0} ms`);
  work = mkdtempSync(join(tmpdir(), 'pywr-shipped-'));
  metricsPort = await freePort();
  do healthPort = await freePort(); while (healthPort === metricsPort);

  // The release namespace needs host networking (see the header); the policies' is restricted.
  await apply('default',
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: REL_NS, labels: { 'pyworkflow-retention-test': 'true', 'pod-security.kubernetes.io/enforce': 'privileged' } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: POL_NS, labels: { 'pyworkflow-retention-test': 'true', 'pod-security.kubernetes.io/enforce': 'restricted' } } },
  );
}, 1_200_000); // a cold image build takes minutes; a warm one seconds

afterAll(async () => {
  const t0 = Date.now();
  await helm(['uninstall', RELEASE, '-n', REL_NS, '--ignore-not-found', '--wait', '--timeout', '60s']);
  await kubectl(['delete', 'namespace', POL_NS, REL_NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  console.log(`cleanup: release and namespaces gone in ${Date.now() - t0} ms`);
  for (const s of stores) await s.deleteVolume?.().catch(() => undefined);
  for (const s of stores) rmSync(s.hostDir, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
}, 300_000);

describe('the operator as shipped, on the real node', () => {
  it('helm install with the built image: the Deployment becomes Available, the controller runs as the chart\'s ServiceAccount with in-cluster credentials', async () => {
    const [repository, tag] = [image.slice(0, image.lastIndexOf(':')), image.slice(image.lastIndexOf(':') + 1)];
    const values = {
      image: { repository, tag, pullPolicy: 'Never' },
      replicaCount: 1,
      hostNetwork: true,
      tolerations: [node.toleration],
      watchNamespaces: [POL_NS],
      metrics: { port: metricsPort },
      healthProbe: { port: healthPort },
      // In-cluster config with the API server the host network can reach (its certificate names 127.0.0.1).
      extraEnv: [{ name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' }, { name: 'KUBERNETES_SERVICE_PORT', value: apiServerPort() }],
      extraArgs: ['--log-format=json'],
    };
    const valuesFile = join(work, 'values.json');
    writeFileSync(valuesFile, JSON.stringify(values));
    // --take-ownership: other suites apply the same CRDs from crds/ with kubectl.
    await helmOk(['install', RELEASE, CHART, '-n', REL_NS, '-f', valuesFile, '--take-ownership', '--timeout', '2m']);

    const deployment = await eventually('the controller Deployment to become Available', 180_000, async () => {
      const d = await getJson<{ spec: { template: { spec: V1Pod['spec'] } }; status?: { conditions?: { type: string; status: string }[]; availableReplicas?: number } }>(['get', 'deployment', FULLNAME, '-n', REL_NS]);
      return d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') && d.status.availableReplicas === 1 ? d : undefined;
    });
    expect(deployment.spec.template.spec?.serviceAccountName).toBe(FULLNAME);

    const pod = await controllerPod();
    expect(pod.spec?.nodeName).toBe(node.name);
    expect(pod.spec?.serviceAccountName).toBe(FULLNAME);
    expect(pod.spec?.hostNetwork).toBe(true);
    expect(pod.spec?.containers[0]?.image).toBe(image);
    expect(pod.status?.containerStatuses?.[0]?.ready).toBe(true);
    // No admin kubeconfig anywhere: the only credential is the projected ServiceAccount token.
    expect(JSON.stringify(pod.spec)).not.toContain('kubeconfig');
    const started = controllerLog(pod.metadata.name).find((l) => l.msg === 'controller starting');
    expect(started, podLog(REL_NS, pod.metadata.name, 'controller').slice(-3000)).toMatchObject({
      kubeconfig: 'in-cluster service account',
      server: `https://127.0.0.1:${apiServerPort()}`,
      namespaces: [POL_NS],
    });
    await eventually('the controller to lead', 60_000, async () => (controllerLog(pod.metadata.name).some((l) => l.msg === 'acting as leader') ? true : undefined));
  });

  it('/metrics answers on the endpoint of the chart\'s metrics Service (its selector picks the controller pod)', async () => {
    const pod = await controllerPod();
    const url = await metricsEndpoint();
    const [nodeIp] = (await core.readNode({ name: node.name })).status!.addresses!.filter((a) => a.type === 'InternalIP').map((a) => a.address);
    // Host network: the pod's address is the node's.
    expect(url).toBe(`http://${nodeIp}:${metricsPort}/metrics`);
    expect(pod.status?.podIP).toBe(nodeIp);
    const text = await scrape();
    expect(sample(text, 'pyworkflow_retention_leader', {})).toBe(1);
  });

  it('runs started by the CronJob schedule in a restricted namespace delete exactly the eligible runs of sqlite and file stores owned by another uid/gid', async () => {
    const now = new Date();
    for (const kind of ['sqlite', 'file'] as const) {
      const hostDir = mkdtempSync(join(tmpdir(), `pywr-shipped-${kind}-`));
      const storage = kind === 'sqlite' ? { type: 'sqlite', base_path: join(hostDir, 'pyworkflow.db') } : { type: 'file', base_path: join(hostDir, 'pyworkflow_data') };
      stores.push({ kind, policy: `purge-${kind}`, hostDir, storage });
    }
    for (const s of stores) {
      await pyworkflow('init', s.storage);
      s.manifest = await pyworkflow<Manifest>('populate', s.storage, ['--spec', '-'], interopSpec(now, { streams: true, scheduledSignals: false }));
      const ids = s.manifest.runs.map((r) => r.run_id).join(',');
      s.before = await pyworkflow<Inspection>('inspect', s.storage, ['--run-ids', ids, '--manifest', '-'], s.manifest);
      s.facts = s.manifest.runs.map((r) => {
        const seen = s.before!.runs[r.run_id]!;
        return { run_id: r.run_id, status: seen.status!, updated_at: seen.updated_at!, parent_run_id: seen.parent_run_id ?? null };
      });
      // After pyworkflow (as root) is done with it, hand it to the workers' uid and group.
      handOver(s.hostDir);
      s.deleteVolume = await createLocalVolume(core, { pvName: `${POL_NS}-${s.kind}`, namespace: POL_NS, claimName: `${s.kind}-data`, hostPath: s.hostDir });
    }

    const backend = (s: Store): StorageBackend => ({
      apiVersion: API,
      kind: 'StorageBackend',
      metadata: { name: s.kind },
      spec: s.kind === 'sqlite'
        ? { type: 'sqlite', sqlite: { volume: `${s.kind}-data`, path: 'pyworkflow.db' } }
        : { type: 'file', file: { volume: `${s.kind}-data`, basePath: 'pyworkflow_data' } },
    });
    const policy = (s: Store): RetentionPolicy => ({
      apiVersion: API,
      kind: 'RetentionPolicy',
      metadata: { name: s.policy },
      spec: {
        retentionDays: 30,
        backendRef: { name: s.kind },
        // Every minute: the first scheduled run starts within the test.
        schedule: '*/1 * * * *',
        jobTemplate: { tolerations: [node.toleration], securityContext: { supplementalGroups: [OWNER_GID] } },
      } as RetentionPolicy['spec'],
    });
    await apply(POL_NS, ...stores.map(backend), ...stores.map(policy));

    // The first run the CronJob controller starts on schedule (run-now Jobs would be named rp-<policy>-now-*);
    // then the policy is suspended so that the runs to check stop growing.
    await Promise.all(stores.map(async (s) => {
      await eventually(`a scheduled run of ${s.policy} in status.lastRun`, 200_000, async () => {
        const p = await getPolicy(s.policy);
        return p.status?.lastRun?.jobName ? p : undefined;
      });
      await kubectlOk(['patch', 'rp', s.policy, '-n', POL_NS, '--type=merge', '-p', '{"spec":{"suspend":true}}']);
    }));

    for (const s of stores) {
      // Every Job of the CronJob (one more may have started before the suspension) finished and counted.
      const done = await eventually(`every run of ${s.policy} finished and in status.history`, 120_000, async () => {
        const cron = await getJson<CronJob>(['get', 'cronjob', `rp-${s.policy}`, '-n', POL_NS]);
        if (cron.spec.suspend !== true || (cron.status?.active?.length ?? 0) > 0) return undefined;
        const jobs = (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', POL_NS])).items.filter((j) => j.metadata.ownerReferences?.[0]?.name === `rp-${s.policy}`);
        const p = await getPolicy(s.policy);
        const counted = new Set(p.status?.history?.map((h) => h.jobName));
        return jobs.length > 0 && jobs.every((j) => counted.has(j.metadata.name)) && p.status?.lastRun?.jobName ? { p, jobs } : undefined;
      });
      const status = done.p.status!;
      expect(status.history?.every((h) => h.outcome === 'Succeeded'), JSON.stringify(status, null, 1)).toBe(true);
      for (const job of done.jobs) {
        expect(job.metadata.name).not.toContain('-now-');
        expect(job.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'CronJob', name: `rp-${s.policy}` });
        expect(job.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp']).toBeDefined();
      }

      // Each run's pod ran on the real node; what the status says is what the kubelet read from its termination message.
      const reportOf = async (jobName: string): Promise<{ outcome: string; deleted: Record<string, number>; cutoff: string }> => {
        const pods = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', POL_NS, '-l', `job-name=${jobName}`]);
        expect(pods.items).toHaveLength(1);
        const runPod = pods.items[0]!;
        expect(runPod.spec?.nodeName).toBe(node.name);
        expect(runPod.spec?.securityContext).toMatchObject({ runAsUser: 65532, supplementalGroups: [OWNER_GID] });
        const terminated = runPod.status?.containerStatuses?.[0]?.state?.terminated;
        expect(terminated?.reason).toBe('Completed');
        const report = JSON.parse(terminated!.message!) as { outcome: string; deleted: Record<string, number>; cutoff: string };
        expect(report.outcome).toBe('succeeded');
        return report;
      };
      const lastRun = status.lastRun!;
      const lastReport = await reportOf(lastRun.jobName);
      expect(lastRun.outcome).toBe('Succeeded');
      expect(lastRun.deleted).toEqual(lastReport.deleted);
      expect(lastRun.cutoff).toBe(lastReport.cutoff);
      // The first run (history is newest first) deleted everything eligible; any later one found nothing.
      const history = status.history!;
      const report = await reportOf(history.at(-1)!.jobName);
      expect(history.at(-1)!.deleted).toEqual(report.deleted);
      for (const h of history.slice(0, -1)) expect(h.deleted?.runs, h.jobName).toBe(0);

      // Exactly the eligible runs are gone, as pyworkflow itself reads the store back.
      const purged = expectedPurged(s.facts!, Date.parse(report.cutoff));
      expect(purged.size).toBeGreaterThan(5);
      expect(report.deleted.runs).toBe(purged.size);
      expect(status.totals).toMatchObject({ runs: purged.size, runsSucceeded: history.length, runsFailed: 0 });
      const after = await pyworkflow<Inspection>('inspect', s.storage, ['--run-ids', s.manifest!.runs.map((r) => r.run_id).join(','), '--manifest', '-'], s.manifest);
      for (const r of s.facts!) {
        if (purged.has(r.run_id)) expect(after.runs[r.run_id]?.exists, `${s.kind} ${r.run_id} (${r.status}, ${r.updated_at}) should be purged`).toBe(false);
        else expect(after.runs[r.run_id], `${s.kind} ${r.run_id} (${r.status}, ${r.updated_at}) should be kept intact`).toEqual(s.before!.runs[r.run_id]);
      }

      const table = await kubectlOk(['get', 'rp', s.policy, '-n', POL_NS]);
      const [header, row] = table.trim().split('\n');
      const columns = header!.split(/\s{2,}/);
      const cells = row!.split(/\s{2,}/);
      expect(cells[columns.indexOf('RUNS DELETED')], table).toBe(String(purged.size));
    }

    // The chart's ServiceAccount did the work: it created the CronJobs (no other credential is in the pod).
    const sa = `system:serviceaccount:${REL_NS}:${FULLNAME}`;
    expect(auditByUser(sa, 'create', 'cronjobs', POL_NS)).toBe(stores.length);
    expect(auditByUser(sa, 'patch', 'retentionpolicies', POL_NS) + auditByUser(sa, 'update', 'retentionpolicies', POL_NS)).toBeGreaterThan(0);

    const text = await scrape();
    for (const s of stores) expect(sample(text, 'pyworkflow_retention_runs_total', { namespace: POL_NS, policy: s.policy, outcome: 'Succeeded' })).toBeGreaterThanOrEqual(1);
  });

  it('a run OOM-killed by a small memory limit and a run stopped by its deadline: the status names the cause; the next runs succeed', async () => {
    // A running sweep never reaches activeDeadlineSeconds: it stops itself at --max-duration and reports
    // (src/reconcilers/desired-cronjob.ts), and a run that reported is accounted by its report. The
    // deadline is reached here by a run pod that cannot be scheduled (a node label no node has).
    const sqlite = stores.find((s) => s.kind === 'sqlite')!;
    const jobTemplate = { tolerations: [node.toleration], securityContext: { supplementalGroups: [OWNER_GID] } };
    const rp = (name: string, extra: Record<string, unknown>): RetentionPolicy => ({
      apiVersion: API,
      kind: 'RetentionPolicy',
      metadata: { name },
      spec: { retentionDays: 30, backendRef: { name: sqlite.kind }, schedule: '0 0 1 1 *', ...extra } as RetentionPolicy['spec'],
    });
    await apply(POL_NS,
      // Node.js needs more than this much anonymous memory to start.
      rp('oom', { jobTemplate: { ...jobTemplate, resources: { limits: { memory: '12Mi' } } } }),
      rp('late', { activeDeadlineSeconds: 60, jobTemplate: { ...jobTemplate, nodeSelector: { 'pyworkflow.io/no-such-node': 'true' } } }),
      // Without the store's group the run pod (uid 65532) cannot open it: the ownership is real.
      rp('no-group', { jobTemplate: { tolerations: [node.toleration] } }),
    );
    await eventually('the CronJobs of the oom and late policies', 30_000, async () =>
      (await tryGetJson(['get', 'cronjob', 'rp-oom', '-n', POL_NS])) && (await tryGetJson(['get', 'cronjob', 'rp-late', '-n', POL_NS])) ? true : undefined);

    const runNow = async (policy: string, token: string, timeoutMs: number): Promise<RetentionPolicy> => {
      await kubectlOk(['annotate', '--overwrite', 'rp', policy, '-n', POL_NS, `retention.pyworkflow.io/run-now=${token}`]);
      const job = await eventually(`the Job of run-now ${token}`, 30_000, async () =>
        (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', POL_NS])).items.find((j) => j.metadata.annotations?.['retention.pyworkflow.io/run-now-token'] === token));
      return eventually(`the result of ${job.metadata.name} (run-now ${token} of ${policy}) in status.lastRun`, timeoutMs, async () => {
        const p = await getPolicy(policy);
        return p.status?.lastRun?.jobName === job.metadata.name ? p : undefined;
      });
    };
    const [oom, late, noGroup] = await Promise.all([runNow('oom', 'oom-1', 120_000), runNow('late', 'late-1', 180_000), runNow('no-group', 'no-group-1', 120_000)]);

    expect(noGroup.status?.lastRun, JSON.stringify(noGroup.status?.lastRun)).toMatchObject({ outcome: 'Failed' });
    expect(noGroup.status?.lastRun?.message).toContain('permission denied');

    expect(oom.status?.lastRun, JSON.stringify(oom.status?.lastRun)).toMatchObject({ outcome: 'Failed' });
    expect(oom.status?.lastRun?.message).toContain('OOMKilled');
    expect(oom.status?.conditions?.find((c) => c.type === 'LastRunSucceeded')).toMatchObject({ status: 'False' });
    const oomPods = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', POL_NS, '-l', `job-name=${oom.status!.lastRun!.jobName}`]);
    expect(oomPods.items[0]?.spec?.nodeName).toBe(node.name);
    expect(oomPods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated?.reason).toBe('OOMKilled');

    expect(late.status?.lastRun, JSON.stringify(late.status?.lastRun)).toMatchObject({ outcome: 'Failed' });
    expect(late.status?.lastRun?.message).toContain('DeadlineExceeded');
    expect(late.status?.conditions?.find((c) => c.type === 'LastRunSucceeded')).toMatchObject({ status: 'False', reason: 'DeadlineExceeded' });

    // With the cause gone, the next run of each succeeds (the store was swept already: nothing left to delete).
    await kubectlOk(['patch', 'rp', 'oom', '-n', POL_NS, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/jobTemplate/resources' }])]);
    await kubectlOk(['patch', 'rp', 'late', '-n', POL_NS, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/jobTemplate/nodeSelector' }])]);
    const [oom2, late2] = await Promise.all([runNow('oom', 'oom-2', 120_000), runNow('late', 'late-2', 120_000)]);
    for (const p of [oom2, late2]) {
      expect(p.status?.lastRun, JSON.stringify(p.status?.lastRun)).toMatchObject({ outcome: 'Succeeded', deleted: { runs: 0 } });
      expect(p.status?.totals).toMatchObject({ runsSucceeded: 1, runsFailed: 1 });
    }
  });

  it('helm upgrade with a changed value (the metrics port) rolls the controller one pod at a time on the host network; it leads again and /metrics follows', async () => {
    const before = await controllerPod();
    let newPort = await freePort();
    while (newPort === healthPort || newPort === metricsPort) newPort = await freePort();
    await helmOk(['upgrade', RELEASE, CHART, '-n', REL_NS, '-f', join(work, 'values.json'), '--set', `metrics.port=${newPort}`, '--timeout', '2m']);
    const pod = await eventually('the upgraded controller pod Running and ready', 180_000, async () => {
      const d = await getJson<{ metadata: { generation: number }; status?: { observedGeneration?: number; updatedReplicas?: number; availableReplicas?: number; replicas?: number } }>(['get', 'deployment', FULLNAME, '-n', REL_NS]);
      if (d.status?.observedGeneration !== d.metadata.generation || d.status.updatedReplicas !== 1 || d.status.availableReplicas !== 1 || d.status.replicas !== 1) return undefined;
      const p = await controllerPod();
      return p.metadata.name !== before.metadata.name && p.status?.containerStatuses?.[0]?.ready ? p : undefined;
    });
    expect(pod.spec?.containers[0]?.args).toContain(`--metrics-bind-address=:${newPort}`);
    await eventually('the upgraded controller to lead', 90_000, async () => (controllerLog(pod.metadata.name).some((l) => l.msg === 'acting as leader') ? true : undefined));
    // The Service and its EndpointSlice follow the new port.
    const url = await eventually('the EndpointSlice to name the new port', 60_000, async () => {
      const u = await metricsEndpoint();
      return u.endsWith(`:${newPort}/metrics`) ? u : undefined;
    });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(sample(await res.text(), 'pyworkflow_retention_leader', {})).toBe(1);
    const history = JSON.parse(await helmOk(['history', RELEASE, '-n', REL_NS, '-o', 'json'])) as { revision: number; status: string }[];
    expect(history.map((h) => [h.revision, h.status])).toEqual([[1, 'superseded'], [2, 'deployed']]);
  });

  it('helm uninstall leaves nothing of the release but the CRDs', async () => {
    await helmOk(['uninstall', RELEASE, '-n', REL_NS, '--wait', '--timeout', '120s']);
    const selector = `app.kubernetes.io/instance=${RELEASE}`;
    // The Deployment is gone at once; its pod within the controller's shutdown.
    const stopping = Date.now();
    await eventually('the controller pod to be gone', 90_000, async () => {
      const pods = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', REL_NS]);
      return pods.items.length === 0 ? true : undefined;
    });
    console.log(`controller pod gone ${Date.now() - stopping} ms after helm uninstall returned`);
    for (const ns of [REL_NS, POL_NS]) {
      const left = await kubectlOk(['get', 'all,serviceaccounts,roles,rolebindings,configmaps,secrets,poddisruptionbudgets,endpointslices', '-n', ns, '-l', selector, '-o', 'name']);
      expect(left.trim(), `left in ${ns}`).toBe('');
    }
    const helmSecrets = await kubectlOk(['get', 'secrets', '-n', REL_NS, '-l', `owner=helm,name=${RELEASE}`, '-o', 'name']);
    expect(helmSecrets.trim()).toBe('');
    const cluster = await kubectlOk(['get', 'clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings', '-l', selector, '-o', 'name']);
    expect(cluster.trim()).toBe('');
    // The CRDs stay (helm.sh/resource-policy: keep), and with them the policies.
    for (const crd of ['retentionpolicies.retention.pyworkflow.io', 'storagebackends.retention.pyworkflow.io']) {
      expect(await tryGetJson(['get', 'crd', crd]), crd).toBeDefined();
    }
    expect((await getJson<{ items: unknown[] }>(['get', 'rp', '-n', POL_NS])).items).toHaveLength(5);
  });
});
