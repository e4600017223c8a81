// The Helm chart with the real helm and kube-apiserver of the test environment (HELM, KUBECTL,
// KUBECONFIG): lint, rendering with default and other values, values.schema.json, and an install that
// creates the CRDs, the Deployment and least-privilege RBAC (checked with kubectl auth can-i).

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CRD_SOURCES, crdFileName } from '../../../src/api/crd.js';
import { parseControllerArgs } from '../../../src/controller/flags.js';
import { createNamespace, deleteNamespace, helm, helmOk, kubectl, kubectlOk } from '../../support/kubectl.js';
import { REPO_ROOT, requireEnv } from '../../support/test-env.js';

const CHART = join(REPO_ROOT, 'helm', 'pyworkflow-retention-operator');
const KUBE_VERSION = ['--kube-version', '1.33.0'];
const suffix = Date.now().toString(36);
const NS = `helm-test-${suffix}`;
const RELEASE = `rel-${suffix}`;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

interface Container {
  name: string;
  image: string;
  args: string[];
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown>;
}

interface DeploymentLike extends K8sObject {
  spec: { replicas: number; template: { spec: { securityContext: Record<string, unknown>; serviceAccountName: string; containers: Container[] } } };
}

async function render(...args: string[]): Promise<K8sObject[]> {
  const out = await helmOk(['template', RELEASE, CHART, '-n', 'ops', ...KUBE_VERSION, ...args]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function find<T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

/** "group resource verb" for every grant, sorted and unique, so rule layouts compare as sets. */
function triples(rules: readonly { apiGroups: readonly string[]; resources: readonly string[]; verbs: readonly string[] }[]): string[] {
  const out = new Set<string>();
  for (const r of rules) for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.add(`${g || 'core'} ${res} ${v}`);
  return [...out].sort();
}

/** The union of every `export const RBAC` in src/controller and src/reconcilers. */
async function declaredRbac(): Promise<string[]> {
  const rules: Rule[] = [];
  for (const dir of ['controller', 'reconcilers']) {
    for (const file of readdirSync(join(REPO_ROOT, 'src', dir)).filter((f) => f.endsWith('.ts'))) {
      if (!readFileSync(join(REPO_ROOT, 'src', dir, file), 'utf8').includes('export const RBAC')) continue;
      const mod = (await import(join(REPO_ROOT, 'src', dir, file))) as { RBAC: Rule[] };
      rules.push(...mod.RBAC);
    }
  }
  return triples(rules);
}

function controllerContainer(objects: K8sObject[]): Container {
  const [deployment] = find<DeploymentLike>(objects, 'Deployment');
  return deployment!.spec.template.spec.containers[0]!;
}

describe('helm lint', () => {
  it('passes', async () => {
    const r = await helm(['lint', CHART, ...KUBE_VERSION]);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.code).toBe(0);
  });
});

describe('helm template', () => {
  it('renders the controller, its service account, RBAC and metrics service with default values', async () => {
    const objects = await render();
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'].sort(),
    );
    const [deployment] = find<DeploymentLike>(objects, 'Deployment');
    expect(deployment!.spec.replicas).toBe(2);
    const pod = deployment!.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0]!;
    expect(c.image).toBe('ghcr.io/pyworkflow/pyworkflow-retention-operator:0.1.0');
    expect(c.args).toEqual([
      'controller',
      '--metrics-bind-address=:8080',
      '--health-probe-bind-address=:8081',
      '--leader-elect=true',
      '--leader-election-namespace=ops',
      `--leader-election-id=${RELEASE}-pyworkflow-retention-operator`,
      '--run-image=ghcr.io/pyworkflow/pyworkflow-retention-operator:0.1.0',
      '--log-level=info',
    ]);
    expect(c.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath])).toEqual([
      ['POD_NAMESPACE', 'metadata.namespace'],
      ['POD_NAME', 'metadata.name'],
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(c.ports).toEqual([
      { name: 'health', containerPort: 8081, protocol: 'TCP' },
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
    ]);
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('grants exactly the RBAC the controller and reconcilers declare next to their code, and no Secrets', async () => {
    const objects = await render();
    const [clusterRole] = find(objects, 'ClusterRole');
    const granted = triples(clusterRole!.rules as Rule[]);
    expect(granted.some((t) => t.includes(' secrets '))).toBe(false);
    expect(granted.some((t) => t.includes('*'))).toBe(false);
    const declared = await declaredRbac();
    // Leases are granted by a Role in the leader-election namespace only, not cluster-wide.
    const [leases, clusterWide] = [declared.filter((t) => t.includes('leases')), declared.filter((t) => !t.includes('leases'))];
    expect(granted).toEqual(clusterWide);
    const [role] = find(objects, 'Role');
    expect(role!.metadata.namespace).toBe('ops');
    expect(triples(role!.rules as Rule[])).toEqual(leases);
  });

  it('passes the controller flags it parses', async () => {
    const args = controllerContainer(await render('--set', 'watchNamespaces={team-a}')).args;
    expect(args[0]).toBe('controller');
    const config = parseControllerArgs(args.slice(1), { POD_NAMESPACE: 'ops' });
    expect(config).toMatchObject({
      metricsBind: { port: 8080 },
      healthBind: { port: 8081 },
      leaderElect: true,
      leaderElectionNamespace: 'ops',
      leaderElectionId: `${RELEASE}-pyworkflow-retention-operator`,
      runImage: 'ghcr.io/pyworkflow/pyworkflow-retention-operator:0.1.0',
      namespaces: ['team-a'],
      logLevel: 'info',
    });
    const disabled = controllerContainer(await render('--set', 'leaderElection.enabled=false', '--set', 'metrics.enabled=false')).args;
    expect(parseControllerArgs(disabled.slice(1), {})).toMatchObject({ leaderElect: false, metricsBind: undefined });
  });

  it('renders a ServiceMonitor only when enabled and the monitoring.coreos.com/v1 API exists', async () => {
    const enabled = ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.serviceMonitor.labels.release=prom'];
    const withApi = await render(...enabled, '--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor');
    const [monitor] = find(withApi, 'ServiceMonitor');
    expect(monitor?.metadata.labels?.release).toBe('prom');
    expect(monitor?.spec).toMatchObject({ endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }] });
    expect(find(await render(...enabled), 'ServiceMonitor')).toEqual([]);
    expect(find(await render('--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor'), 'ServiceMonitor')).toEqual([]);
  });

  it('uses namespaced Roles in exactly the watched namespaces, and passes them to the controller', async () => {
    const objects = await render('--set', 'watchNamespaces={team-a,team-b}', '--set', 'leaderElection.namespace=ops-leases');
    expect(find(objects, 'ClusterRole')).toEqual([]);
    const roles = find(objects, 'Role').map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
    expect(roles.sort()).toEqual([`ops-leases/${RELEASE}-pyworkflow-retention-operator-leader-election`, `team-a/${RELEASE}-pyworkflow-retention-operator`, `team-b/${RELEASE}-pyworkflow-retention-operator`]);
    const args = controllerContainer(objects).args;
    expect(args).toContain('--namespace=team-a');
    expect(args).toContain('--namespace=team-b');
    expect(args).toContain('--leader-election-namespace=ops-leases');
  });

  it('uses runImage for the runs when set, and drops the leader-election flags when disabled', async () => {
    const objects = await render('--set', 'runImage.repository=registry.example.com/run', '--set', 'runImage.tag=1.2.3', '--set', 'leaderElection.enabled=false', '--set', 'replicaCount=1');
    const args = controllerContainer(objects).args;
    expect(args).toContain('--run-image=registry.example.com/run:1.2.3');
    expect(args.filter((a) => a.startsWith('--leader'))).toEqual(['--leader-elect=false']);
    expect(find(objects, 'Role')).toEqual([]);
  });

  it('includes the generated CRDs, byte for byte', async () => {
    const out = await helmOk(['template', RELEASE, CHART, ...KUBE_VERSION, '--include-crds']);
    for (const source of CRD_SOURCES) {
      const committed = readFileSync(join(REPO_ROOT, 'crds', crdFileName(source)), 'utf8');
      expect(out).toContain(committed.replace(/^#.*\n/, ''));
    }
  });
});

describe('deploy/manifests', () => {
  it('is what scripts/render-manifests.sh renders from the chart (re-run it and commit after changing the chart)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'manifests-'));
    try {
      await promisify(execFile)('bash', [join(REPO_ROOT, 'scripts', 'render-manifests.sh'), dir], { env: { ...process.env, HELM: requireEnv('HELM') } });
      for (const file of ['crds.yaml', 'operator.yaml']) {
        expect(readFileSync(join(REPO_ROOT, 'deploy', 'manifests', file), 'utf8'), file).toBe(readFileSync(join(dir, file), 'utf8'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('values.schema.json', () => {
  it.each([
    [['--set-string', 'replicaCount=two'], 'replicaCount'],
    [['--set', 'logLevel=verbose'], 'logLevel'],
    [['--set', 'image.pullPolicy=Sometimes'], 'pullPolicy'],
    [['--set', 'metrics.port=0'], 'port'],
    [['--set', 'replicas=3'], 'replicas'],
    [['--set', 'watchNamespaces={Team_A}'], 'watchNamespaces'],
  ])('rejects %j naming %s', async (args, field) => {
    const r = await helm(['template', RELEASE, CHART, ...KUBE_VERSION, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('values don\'t meet the specifications of the schema');
    expect(r.stderr).toContain(field);
  });
});

describe('helm install', () => {
  const sa = `system:serviceaccount:${NS}:${RELEASE}-pyworkflow-retention-operator`;

  beforeAll(async () => {
    await createNamespace(NS);
    await helmOk(['install', RELEASE, CHART, '-n', NS, '--set', 'replicaCount=1', '--timeout', '2m']);
  });

  afterAll(async () => {
    await helm(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '2m']);
    await deleteNamespace(NS);
  });

  it('creates the CRDs, the Deployment, the service account and the RBAC', async () => {
    for (const source of CRD_SOURCES) {
      const status = await kubectlOk(['get', 'crd', `${source.names.plural}.retention.pyworkflow.io`, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
      expect(status).toBe('True');
    }
    const deployment = JSON.parse(await kubectlOk(['get', 'deployment', '-n', NS, `${RELEASE}-pyworkflow-retention-operator`, '-o', 'json'])) as DeploymentLike;
    expect(deployment.spec.template.spec.containers[0]!.args[0]).toBe('controller');
    await kubectlOk(['get', 'serviceaccount', '-n', NS, `${RELEASE}-pyworkflow-retention-operator`]);
    await kubectlOk(['get', 'clusterrole,clusterrolebinding', `${RELEASE}-pyworkflow-retention-operator`]);
    await kubectlOk(['get', 'role,rolebinding', '-n', NS, `${RELEASE}-pyworkflow-retention-operator-leader-election`]);
    await kubectlOk(['get', 'service', '-n', NS, `${RELEASE}-pyworkflow-retention-operator-metrics`]);
  });

  it.each([
    [['list', 'retentionpolicies.retention.pyworkflow.io', '-A'], 'yes'],
    [['watch', 'storagebackends.retention.pyworkflow.io', '-A'], 'yes'],
    [['update', 'retentionpolicies.retention.pyworkflow.io', '--subresource=status', '-n', 'default'], 'yes'],
    [['update', 'storagebackends.retention.pyworkflow.io', '--subresource=status', '-n', 'default'], 'yes'],
    [['update', 'retentionpolicies.retention.pyworkflow.io', '-n', 'default'], 'no'],
    [['delete', 'retentionpolicies.retention.pyworkflow.io', '-n', 'default'], 'no'],
    [['create', 'cronjobs.batch', '-n', 'default'], 'yes'],
    [['create', 'jobs.batch', '-n', 'default'], 'yes'],
    [['get', 'pods', '-n', 'default'], 'yes'],
    [['delete', 'pods', '-n', 'default'], 'no'],
    [['get', 'persistentvolumeclaims', '-n', 'default'], 'yes'],
    [['create', 'events.events.k8s.io', '-n', 'default'], 'yes'],
    [['get', 'secrets', '-n', 'default'], 'no'],
    [['list', 'secrets', '-A'], 'no'],
    [['update', 'leases.coordination.k8s.io', '-n', NS], 'yes'],
    [['update', 'leases.coordination.k8s.io', '-n', 'default'], 'no'],
  ])('the controller may %j: %s', async (args, expected) => {
    const r = await kubectl(['auth', 'can-i', ...args, '--as', sa]);
    expect(r.stdout.trim()).toBe(expected);
  });

  it('uninstalls the controller and keeps the CRDs (and so every policy)', async () => {
    await helmOk(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '2m']);
    const r = await kubectl(['get', 'deployment', '-n', NS, `${RELEASE}-pyworkflow-retention-operator`]);
    expect(r.stderr).toContain('NotFound');
    await kubectlOk(['get', 'crd', 'retentionpolicies.retention.pyworkflow.io']);
  });
});
