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
// The node's pod network is the normal one (scripts/env/components/node.sh): kube-proxy makes ClusterIP
// Services work from pods and from the host, and the API server is the `kubernetes` Service of the
// in-cluster config. So the controller runs as on any cluster: two replicas in a `restricted` release
// namespace electing a leader, /metrics and `helm test` through the chart's Services, and a PostgreSQL
// store reached from a run pod through a Service (its password from a Secret). There is no cluster DNS:
// Services are found by ClusterIP (and by the kubelet's service variables in `helm test`).
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy, StorageBackend } from '../../src/api/generated/types.js';
import { seedPostgresStore } from '../../src/backends/postgres/seed.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { generateDataset } from '../../src/model/generate.js';
import type { CronJob, Job } from '../../src/reconcilers/workloads.js';
import { eventually, helm, helmOk, kubectl, kubectlOk } from '../support/kubectl.js';
import { expectedPurged, interopSpec, type RunFacts } from '../support/interop.js';
import { expectedAfterSweep } from '../support/oracle.js';
import { pyworkflow, type Inspection, type Manifest } from '../support/pyworkflow.js';
import { runProcess } from '../support/process.js';
import { createLocalVolume, podLog, realNode } from '../support/real-node.js';
import { createPgDatabase, dropPgDatabase, pgAdminConfig, withPgClient } from '../support/stores/postgres-store.js';
import { REPO_ROOT, requireEnv } from '../support/test-env.js';
import { apply, getJson, tryGetJson, USER_AGENT_PREFIX } from './harness.js';

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
let pgDatabase = '';
const stores: Store[] = [];
/** The chart's default ports (no host network: every pod has its own). */
const METRICS_PORT = 8080;

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

/** The controller pods that run and are not being deleted. */
async function controllerPods(): Promise<Pod[]> {
  const pods = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', REL_NS, '-l', `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component!=test`]);
  return pods.items.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
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

/** The leader-election identity a controller pod logged at startup (pod name + a per-process suffix). */
function identityOf(podName: string): string | undefined {
  // The last start: a container the kubelet restarted logs again, under a new identity.
  const started = controllerLog(podName).findLast((l) => l.msg === 'controller starting');
  return typeof started?.identity === 'string' ? started.identity : undefined;
}

/** The holder of the chart's leader-election Lease ('' when none). */
async function leaseHolder(): Promise<string> {
  const lease = await tryGetJson<{ spec?: { holderIdentity?: string } }>(['get', 'lease', FULLNAME, '-n', REL_NS]);
  return lease?.spec?.holderIdentity ?? '';
}

/**
 * Exactly one of the given ready pods leads: the Lease names its identity, it logged 'acting as
 * leader', and no other pod did. Waits for that, returns the leader and the others.
 */
async function oneLeader(what: string, timeoutMs: number, want: number): Promise<{ leader: Pod; standbys: Pod[]; identity: string }> {
  return eventually(what, timeoutMs, async () => {
    const pods = (await controllerPods()).filter((p) => p.status?.containerStatuses?.[0]?.ready);
    if (pods.length !== want) return undefined;
    const holder = await leaseHolder();
    const leaders = pods.filter((p) => identityOf(p.metadata.name) === holder);
    if (leaders.length !== 1) return undefined;
    const leader = leaders[0]!;
    if (!controllerLog(leader.metadata.name).some((l) => l.msg === 'acting as leader')) return undefined;
    const standbys = pods.filter((p) => p !== leader);
    expect(standbys.filter((p) => controllerLog(p.metadata.name).some((l) => l.msg === 'acting as leader')).map((p) => p.metadata.name)).toEqual([]);
    return { leader, standbys, identity: holder };
  });
}

/** A Service's ClusterIP. */
async function clusterIP(namespace: string, name: string): Promise<string> {
  const svc = await getJson<{ spec: { clusterIP: string } }>(['get', 'service', name, '-n', namespace]);
  expect(svc.spec.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  return svc.spec.clusterIP;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  expect(res.status, url).toBe(200);
  return res.text();
}

/** The leader's own /metrics (the run counters move there only), at its pod IP on the pod network. */
async function scrapeLeader(): Promise<string> {
  const { leader } = await oneLeader('one leader among the controller pods', 60_000, 2);
  return scrape(`http://${leader.status!.podIP!}:${METRICS_PORT}/metrics`);
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

interface Audit {
  verb?: string;
  stage?: string;
  userAgent?: string;
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

/** Successful writes (the audit policy of kube.sh logs writes only) by the given user, in log order. */
function auditWrites(username: string): Audit[] {
  const out: Audit[] = [];
  for (const l of readFileSync(requireEnv('KUBE_AUDIT_LOG'), 'utf8').split('\n')) {
    if (!l.includes(username)) continue;
    const e = JSON.parse(l) as Audit;
    if (e.stage === 'ResponseComplete' && e.user?.username === username && (e.responseStatus?.code ?? 0) < 300) out.push(e);
  }
  return out;
}

/** Audit events of requests by the given user since the suite started. */
function auditByUser(username: string, verb: string, resource: string, namespace: string): number {
  return auditWrites(username).filter((e) => e.verb === verb && e.objectRef?.resource === resource && e.objectRef.namespace === namespace).length;
}

/** The controller identity in a request's user agent (src/controller/main.ts: `.../<version> (<identity>)`). */
function agentIdentity(e: Audit): string | undefined {
  if (!e.userAgent?.startsWith(USER_AGENT_PREFIX)) return undefined;
  return /\(([^()]+)\)$/.exec(e.userAgent)?.[1];
}

const getPolicy = (name: string): Promise<RetentionPolicy> => getJson<RetentionPolicy>(['get', 'rp', name, '-n', POL_NS]);

/** Annotates a policy for a run-now and waits until the Job's result is the policy's lastRun. */
async function runNow(policy: string, token: string, timeoutMs: number): Promise<RetentionPolicy> {
  await kubectlOk(['annotate', '--overwrite', 'rp', policy, '-n', POL_NS, `retention.pyworkflow.io/run-now=${token}`]);
  const job = await eventually(`the Job of run-now ${token}`, 30_000, async () =>
    (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', POL_NS])).items.find((j) => j.metadata.annotations?.['retention.pyworkflow.io/run-now-token'] === token));
  return eventually(`the result of ${job.metadata.name} (run-now ${token} of ${policy}) in status.lastRun`, timeoutMs, async () => {
    const p = await getPolicy(policy);
    return p.status?.lastRun?.jobName === job.metadata.name ? p : undefined;
  });
}

beforeAll(async () => {
  const t0 = Date.now();
  const built = await runProcess('npm', ['--prefix', REPO_ROOT, 'run', '--silent', 'image'], { timeoutMs: 1_200_000 });
  if (built.code !== 0) throw new Error(`npm run image failed (${built.code}):\n${built.stderr.slice(-4000)}`);
  image = built.stdout.trim().split('\n').at(-1) ?? '';
  expect(image).toMatch(/^localhost\/pyworkflow-retention-operator:\d+\.\d+\.\d+-[0-9a-f]{12}$/);
  console.log(`npm run image: ${image} in ${Date.now() - t0} ms`);
  work = mkdtempSync(join(tmpdir(), 'pywr-shipped-'));

  // Both the release namespace and the policies' enforce the restricted Pod Security Standard.
  await apply('default',
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: REL_NS, labels: { 'pyworkflow-retention-test': 'true', 'pod-security.kubernetes.io/enforce': 'restricted' } } },
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
  if (pgDatabase) await dropPgDatabase(pgDatabase);
}, 300_000);

describe('the operator as shipped, on the real node', () => {
  it('helm install with the built image: two replicas become Available in a restricted namespace, run as the chart\'s ServiceAccount with in-cluster credentials, and elect one leader', async () => {
    const [repository, tag] = [image.slice(0, image.lastIndexOf(':')), image.slice(image.lastIndexOf(':') + 1)];
    const values = {
      image: { repository, tag, pullPolicy: 'Never' },
      replicaCount: 2,
      tolerations: [node.toleration],
      watchNamespaces: [POL_NS],
      extraArgs: ['--log-format=json'],
    };
    const valuesFile = join(work, 'values.json');
    writeFileSync(valuesFile, JSON.stringify(values));
    // --take-ownership: other suites apply the same CRDs from crds/ with kubectl.
    await helmOk(['install', RELEASE, CHART, '-n', REL_NS, '-f', valuesFile, '--take-ownership', '--timeout', '2m']);

    const deployment = await eventually('the controller Deployment to become Available with 2 replicas', 180_000, async () => {
      const d = await getJson<{ spec: { template: { spec: V1Pod['spec'] } }; status?: { conditions?: { type: string; status: string }[]; availableReplicas?: number } }>(['get', 'deployment', FULLNAME, '-n', REL_NS]);
      return d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') && d.status.availableReplicas === 2 ? d : undefined;
    });
    expect(deployment.spec.template.spec?.serviceAccountName).toBe(FULLNAME);
    expect(deployment.spec.template.spec?.hostNetwork).toBeUndefined();

    const pods = await controllerPods();
    expect(pods).toHaveLength(2);
    const kubernetesIP = await clusterIP('default', 'kubernetes');
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toBe(node.name);
      expect(pod.spec?.serviceAccountName).toBe(FULLNAME);
      expect(pod.spec?.hostNetwork).toBeUndefined();
      // An address of the node's pod network, not the node's own.
      expect(pod.status?.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(pod.status?.podIP).not.toBe(pod.status?.hostIP);
      expect(pod.spec?.containers[0]?.image).toBe(image);
      expect(pod.status?.containerStatuses?.[0]?.ready).toBe(true);
      // No admin kubeconfig, no API server address from us: the projected ServiceAccount token and the
      // `kubernetes` Service the kubelet announces (KUBERNETES_SERVICE_HOST), reached through kube-proxy.
      expect(JSON.stringify(pod.spec)).not.toContain('kubeconfig');
      expect(JSON.stringify(pod.spec)).not.toContain('KUBERNETES_SERVICE');
      const started = await eventually(`the startup line of ${pod.metadata.name}`, 30_000, async () => controllerLog(pod.metadata.name).find((l) => l.msg === 'controller starting'));
      expect(started, podLog(REL_NS, pod.metadata.name, 'controller').slice(-3000)).toMatchObject({
        kubeconfig: 'in-cluster service account',
        server: `https://${kubernetesIP}:443`,
        namespaces: [POL_NS],
        leaderElection: `${REL_NS}/${FULLNAME}`,
      });
    }
    // Exactly one holds the Lease and acts; the other watches (its caches are synced: it is ready) and waits.
    const { standbys, identity } = await oneLeader('one of the two replicas to lead', 90_000, 2);
    expect(identity).toMatch(new RegExp(`^(${pods.map((p) => p.metadata.name).join('|')})_`));
    const standby = standbys[0]!;
    expect(controllerLog(standby.metadata.name).some((l) => l.msg === 'leader observed' && l.leader === identity)).toBe(true);
  });

  it('helm test: the chart\'s test pod gets 200 from /readyz through the health Service', async () => {
    const t0 = Date.now();
    const r = await helm(['test', RELEASE, '-n', REL_NS, '--timeout', '2m']);
    const testPod = `${FULLNAME}-test-readyz`;
    expect(r.code, `${r.stdout}${r.stderr}\n${podLog(REL_NS, testPod, 'readyz')}`).toBe(0);
    expect(r.stdout).toMatch(/TEST SUITE:\s+\S+-test-readyz[\s\S]*Phase:\s+Succeeded/);
    console.log(`helm test in ${Date.now() - t0} ms`);
  });

  it('/metrics through the chart\'s metrics Service ClusterIP (kube-proxy); each replica reports whether it leads', async () => {
    const ip = await clusterIP(REL_NS, `${FULLNAME}-metrics`);
    // From the host, as a Prometheus outside the pod network would; kube-proxy picks a ready replica.
    const text = await scrape(`http://${ip}:${METRICS_PORT}/metrics`);
    expect([0, 1]).toContain(sample(text, 'pyworkflow_retention_leader', {}));
    expect(text).toContain('pyworkflow_retention_reconcile_total');
    // Each replica at its own pod address: the leader says 1, the standby 0.
    const { leader, standbys } = await oneLeader('one leader', 60_000, 2);
    expect(sample(await scrape(`http://${leader.status!.podIP!}:${METRICS_PORT}/metrics`), 'pyworkflow_retention_leader', {})).toBe(1);
    expect(sample(await scrape(`http://${standbys[0]!.status!.podIP!}:${METRICS_PORT}/metrics`), 'pyworkflow_retention_leader', {})).toBe(0);
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

    const text = await scrapeLeader();
    for (const s of stores) expect(sample(text, 'pyworkflow_retention_runs_total', { namespace: POL_NS, policy: s.policy, outcome: 'Succeeded' })).toBeGreaterThanOrEqual(1);
  });

  it('a PostgreSQL store reached from the restricted namespace through a Service, its password from a Secret: a run deletes exactly the eligible runs', async () => {
    const admin = pgAdminConfig();
    const pgPort = Number(admin.port);
    const password = String(admin.password);
    // node.sh forwards this 127.0.0.1 port on the pod network's gateway (PYWR_NODE_HOST_PORTS).
    const gateway = requireEnv('PYWR_NODE_GATEWAY_IP');
    expect(requireEnv('PYWR_NODE_HOST_PORTS').split(',')).toContain(String(pgPort));
    const data = generateDataset({ seed: 91, runs: 250, now: new Date(), spanDays: 40, eventsPerRun: 3, extras: true });
    pgDatabase = await createPgDatabase('pywr_shipped');
    await withPgClient(pgDatabase, (c) => seedPostgresStore(c, data, { layout: 'v7' }));
    await kubectlOk(['create', 'secret', 'generic', 'pg-credentials', '-n', POL_NS, `--from-literal=password=${password}`]);
    // A database outside the cluster, as a Service: no selector, an EndpointSlice naming its address.
    await apply(POL_NS,
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'postgres' }, spec: { ports: [{ name: 'postgres', port: 5432, targetPort: pgPort, protocol: 'TCP' }] } },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'postgres-external', labels: { 'kubernetes.io/service-name': 'postgres', 'endpointslice.kubernetes.io/managed-by': 'as-shipped.test' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: [gateway], conditions: { ready: true } }],
        ports: [{ name: 'postgres', port: pgPort, protocol: 'TCP' }],
      },
    );
    // No cluster DNS here: the backend names the Service by its ClusterIP.
    const host = await clusterIP(POL_NS, 'postgres');
    await apply(POL_NS,
      {
        apiVersion: API,
        kind: 'StorageBackend',
        metadata: { name: 'pg' },
        spec: { type: 'postgres', postgres: { host, port: 5432, database: pgDatabase, user: String(admin.user), passwordSecretRef: { name: 'pg-credentials', key: 'password' }, tls: { mode: 'disable' }, connectTimeoutSeconds: 5 } } as StorageBackend['spec'],
      } satisfies StorageBackend,
      {
        apiVersion: API,
        kind: 'RetentionPolicy',
        metadata: { name: 'purge-pg' },
        spec: { retentionDays: 20, backendRef: { name: 'pg' }, schedule: '0 0 1 1 *', jobTemplate: { tolerations: [node.toleration] } } as RetentionPolicy['spec'],
      } satisfies RetentionPolicy,
    );
    const p = await runNow('purge-pg', 'pg-1', 180_000);
    expect(p.status?.lastRun, JSON.stringify(p.status?.lastRun)).toMatchObject({ outcome: 'Succeeded' });
    const expected = expectedAfterSweep(data, { cutoff: new Date(p.status!.lastRun!.cutoff!), statuses: TERMINAL_STATUSES, housekeeping: true });
    expect(expected.counts.runs).toBeGreaterThan(20);
    expect(p.status?.lastRun?.deleted).toEqual(expected.counts);
    const left = await withPgClient(pgDatabase, async (c) => (await c.query<{ n: string }>('SELECT count(*) AS n FROM workflow_runs')).rows[0]!.n);
    expect(Number(left)).toBe(expected.remaining.runs.length);
    expect(JSON.stringify(p.status)).not.toContain(password);

    // The run pod: on the real node, in its own network namespace, the password only as a secretKeyRef.
    const pods = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', POL_NS, '-l', `job-name=${p.status!.lastRun!.jobName}`]);
    expect(pods.items).toHaveLength(1);
    const runPod = pods.items[0]!;
    expect(runPod.spec?.nodeName).toBe(node.name);
    expect(runPod.spec?.hostNetwork).toBeUndefined();
    expect(runPod.status?.containerStatuses?.[0]?.state?.terminated?.reason).toBe('Completed');
    expect(JSON.stringify(runPod.spec)).not.toContain(password);
    expect(JSON.stringify(runPod.spec?.containers[0]?.env)).toContain(JSON.stringify({ secretKeyRef: { key: 'password', name: 'pg-credentials' } }));
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

  it('leader election on the real node: deleting the leader pod hands the Lease to another replica, which then acts; only the holder of the Lease ever writes', async () => {
    const before = await oneLeader('one leader', 60_000, 2);
    const standbyIdentity = identityOf(before.standbys[0]!.metadata.name)!;
    expect(standbyIdentity).toBeDefined();
    const t0 = Date.now();
    await kubectlOk(['delete', 'pod', before.leader.metadata.name, '-n', REL_NS, '--wait=false']);
    // The leaving leader releases the Lease on SIGTERM. Whoever tries first then takes it: usually the
    // standby (it retries every 2 s), but the Deployment's replacement pod tries as soon as it starts and
    // has been seen to win (1.3 s after the deletion). Either is correct; the old leader never again.
    let seen = '';
    const taker = await eventually('another replica to hold the Lease', 60_000, async () => {
      seen = await leaseHolder();
      return seen !== '' && seen !== before.identity ? seen : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}; the Lease names '${seen}' (the deleted leader was ${before.identity}, the standby ${standbyIdentity})`);
    });
    console.log(`failover: ${taker === standbyIdentity ? 'the standby' : 'the replacement pod'} holds the Lease ${Date.now() - t0} ms after the leader pod's deletion`);
    // The Deployment replaces the deleted pod: two replicas again, one leading, the other standing by.
    const after = await oneLeader('a new leader next to a standby', 180_000, 2);
    expect(after.identity).toBe(taker);
    expect(after.leader.metadata.name).not.toBe(before.leader.metadata.name);
    const newStandby = after.standbys[0]!;
    expect(newStandby.metadata.name).not.toBe(before.leader.metadata.name);
    // The new leader acts: a run-now starts a Job and its result is recorded.
    const p = await runNow('purge-sqlite', 'after-failover', 120_000);
    expect(p.status?.lastRun?.outcome).toBe('Succeeded');

    // The audit log, replayed in completion order: a successful Lease write makes its writer the
    // holder; every other write of the chart's ServiceAccount comes from the holder at that moment.
    const sa = `system:serviceaccount:${REL_NS}:${FULLNAME}`;
    let holder: string | undefined;
    const writers = new Map<string, number>();
    const foreign: string[] = [];
    for (const e of auditWrites(sa)) {
      const id = agentIdentity(e);
      expect(id, JSON.stringify(e)).toBeDefined();
      if (e.objectRef?.resource === 'leases' && e.objectRef.name === FULLNAME) {
        holder = id;
        continue;
      }
      writers.set(id!, (writers.get(id!) ?? 0) + 1);
      if (id !== holder) foreign.push(`${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name} by ${id} while ${holder ?? 'nobody'} held the Lease`);
    }
    expect(foreign).toEqual([]);
    // Both leaders wrote (the first its CronJobs, the second the run-now Job); the standby never did.
    expect(writers.get(before.identity)).toBeGreaterThan(0);
    expect(writers.get(taker)).toBeGreaterThan(0);
    expect(writers.get(identityOf(newStandby.metadata.name)!)).toBeUndefined();
  });

  it('helm upgrade with a changed value (the metrics port) rolls both replicas; one new pod leads and /metrics follows through the Service', async () => {
    const before = new Set((await controllerPods()).map((p) => p.metadata.name));
    const newPort = 9090;
    await helmOk(['upgrade', RELEASE, CHART, '-n', REL_NS, '-f', join(work, 'values.json'), '--set', `metrics.port=${newPort}`, '--timeout', '2m']);
    const pods = await eventually('both replicas replaced, Running and ready', 240_000, async () => {
      const d = await getJson<{ metadata: { generation: number }; status?: { observedGeneration?: number; updatedReplicas?: number; availableReplicas?: number; replicas?: number } }>(['get', 'deployment', FULLNAME, '-n', REL_NS]);
      if (d.status?.observedGeneration !== d.metadata.generation || d.status.updatedReplicas !== 2 || d.status.availableReplicas !== 2 || d.status.replicas !== 2) return undefined;
      const ps = await controllerPods();
      return ps.length === 2 && ps.every((p) => !before.has(p.metadata.name) && p.status?.containerStatuses?.[0]?.ready) ? ps : undefined;
    });
    for (const pod of pods) expect(pod.spec?.containers[0]?.args).toContain(`--metrics-bind-address=:${newPort}`);
    const { leader, standbys } = await oneLeader('one of the new pods to lead', 90_000, 2);
    expect(before.has(leader.metadata.name)).toBe(false);
    // The Service follows the new port; kube-proxy routes it to a new pod.
    const ip = await clusterIP(REL_NS, `${FULLNAME}-metrics`);
    const text = await eventually(`/metrics at ${ip}:${newPort}`, 60_000, async () => scrape(`http://${ip}:${newPort}/metrics`));
    expect([0, 1]).toContain(sample(text, 'pyworkflow_retention_leader', {}));
    expect(sample(await scrape(`http://${leader.status!.podIP!}:${newPort}/metrics`), 'pyworkflow_retention_leader', {})).toBe(1);
    expect(sample(await scrape(`http://${standbys[0]!.status!.podIP!}:${newPort}/metrics`), 'pyworkflow_retention_leader', {})).toBe(0);
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
    expect((await getJson<{ items: unknown[] }>(['get', 'rp', '-n', POL_NS])).items).toHaveLength(6);
  });
});
