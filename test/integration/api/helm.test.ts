// The Helm chart with the real helm and kube-apiserver of the test environment (HELM, KUBECTL,
// KUBECONFIG): lint, rendering with default and other values (no --kube-version: the environment's helm
// reports a current Kubernetes, like an official release), values.schema.json, every rendered object
// accepted by the API server (server-side dry-run, ValidatingAdmissionPolicy included), the alert and
// dashboard queries naming only exported metrics, and an install that creates the CRDs, the
// Deployment and least-privilege RBAC, upgrades the CRDs, and whose admission policy refuses the
// operator's ServiceAccount every Job and CronJob it was not made for.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildCrd, CRD_SOURCES } from '../../../src/api/crd.js';
import { parseControllerArgs } from '../../../src/controller/flags.js';
import { ControllerMetrics } from '../../../src/controller/metrics.js';
import { createNamespace, deleteNamespace, eventually, helm, helmOk, kubectl, kubectlOk } from '../../support/kubectl.js';
import { REPO_ROOT, requireEnv } from '../../support/test-env.js';

const CHART = join(REPO_ROOT, 'helm', 'pyworkflow-retention-operator');
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
  return renderIn('ops', ...args);
}

async function renderIn(namespace: string, ...args: string[]): Promise<K8sObject[]> {
  const out = await helmOk(['template', RELEASE, CHART, '-n', namespace, ...args]);
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
  it('passes --strict with no extra flags, with default values and in watchNamespaces mode', async () => {
    for (const values of [[], ['--set', 'watchNamespaces={team-a}', '--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.grafanaDashboard.enabled=true']]) {
      const r = await helm(['lint', '--strict', CHART, ...values]);
      expect(r.stdout, r.stdout + r.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(r.code).toBe(0);
    }
  });

  it('the environment\'s helm reports a current Kubernetes by default (built with the release\'s version ldflags)', async () => {
    const out = await helmOk(['template', RELEASE, CHART, '--show-only', 'templates/tests/readyz.yaml', '--set', 'tests.enabled=true']);
    expect(out).toContain('kind: Pod');
    const chartYaml = readFileSync(join(CHART, 'Chart.yaml'), 'utf8');
    expect(chartYaml).toContain('kubeVersion: ">=1.28.0-0"');
    // A Kubernetes older than the chart allows is refused by name.
    const old = await helm(['template', RELEASE, CHART, '--kube-version', '1.27.9']);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('chart requires kubeVersion: >=1.28.0-0');
  });
});

describe('helm template', () => {
  it('renders the controller, its service account, RBAC and metrics service with default values', async () => {
    const objects = await render();
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'CustomResourceDefinition', 'Deployment', 'Pod', 'PodDisruptionBudget',
        'Role', 'RoleBinding', 'Service', 'Service', 'ServiceAccount', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
      ].sort(),
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

  it('renders the CRDs generated from src/api as templates, kept on uninstall, unless switched off', async () => {
    const crds = find(await render(), 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(CRD_SOURCES.map((s) => buildCrd(s)).map((c) => (c.metadata as { name: string }).name).sort());
    for (const source of CRD_SOURCES) {
      const expected = buildCrd(source);
      const crd = crds.find((c) => c.metadata.name === (expected.metadata as { name: string }).name)!;
      expect(crd.spec).toEqual(expected.spec);
      expect((crd.metadata as { annotations?: Record<string, string> }).annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
      expect(crd.metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': RELEASE, 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/part-of': 'pyworkflow' });
    }
    const notKept = find(await render('--set', 'crds.keep=false'), 'CustomResourceDefinition');
    expect(notKept).toHaveLength(2);
    expect(notKept.every((c) => (c.metadata as { annotations?: unknown }).annotations === undefined)).toBe(true);
    expect(find(await render('--set', 'crds.enabled=false'), 'CustomResourceDefinition')).toEqual([]);
  });

  it('names objects by nameOverride/fullnameOverride and pins images by digest', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const objects = await render('--set', 'fullnameOverride=retention', '--set', `image.digest=${digest}`, '--set', 'extraArgs={--resync-period=10m}', '--set', 'extraEnv[0].name=TZ', '--set', 'extraEnv[0].value=UTC');
    expect(find(objects, 'Deployment')[0]!.metadata.name).toBe('retention');
    expect(find(objects, 'Service').map((o) => o.metadata.name).sort()).toEqual(['retention-health', 'retention-metrics']);
    const c = controllerContainer(objects);
    expect(c.image).toBe(`ghcr.io/pyworkflow/pyworkflow-retention-operator@${digest}`);
    expect(c.args).toContain(`--run-image=ghcr.io/pyworkflow/pyworkflow-retention-operator@${digest}`);
    expect(c.args.at(-1)).toBe('--resync-period=10m');
    expect(parseControllerArgs(c.args.slice(1), {}).resyncMs).toBe(600_000);
    expect(c.env.at(-1)).toEqual({ name: 'TZ', value: 'UTC' });
    const [vap] = find(objects, 'ValidatingAdmissionPolicy');
    expect(JSON.stringify(vap)).toContain(`'ghcr.io/pyworkflow/pyworkflow-retention-operator@${digest}'`);
    const named = await render('--set', 'nameOverride=prr');
    expect(find(named, 'Deployment')[0]!.metadata.name).toBe(`${RELEASE}-prr`);
    expect(find(named, 'Deployment')[0]!.metadata.labels?.['app.kubernetes.io/name']).toBe('prr');
  });

  it('spreads the replicas and protects them with a PodDisruptionBudget only when there is more than one', async () => {
    const objects = await render();
    const [pdb] = find(objects, 'PodDisruptionBudget');
    expect(pdb!.spec).toEqual({ minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'pyworkflow-retention-operator', 'app.kubernetes.io/instance': RELEASE, 'app.kubernetes.io/component': 'controller' } } });
    const [deployment] = find<DeploymentLike>(objects, 'Deployment');
    const spread = (deployment!.spec.template.spec as unknown as { topologySpreadConstraints: { topologyKey: string; labelSelector: unknown; matchLabelKeys: string[] }[] }).topologySpreadConstraints;
    expect(spread.map((t) => t.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    expect(spread[0]!.labelSelector).toEqual(pdb!.spec && (pdb!.spec as { selector: unknown }).selector);
    expect(spread[0]!.matchLabelKeys).toEqual(['pod-template-hash']);
    expect(find(await render('--set', 'replicaCount=1'), 'PodDisruptionBudget')).toEqual([]);
    const [maxU] = find(await render('--set', 'podDisruptionBudget.minAvailable=null', '--set', 'podDisruptionBudget.maxUnavailable=50%'), 'PodDisruptionBudget');
    expect(maxU!.spec).toMatchObject({ maxUnavailable: '50%' });
    expect((maxU!.spec as Record<string, unknown>).minAvailable).toBeUndefined();
  });

  it('renders the ValidatingAdmissionPolicy by default, bound to the operator\'s ServiceAccount, and not when switched off', async () => {
    const objects = await render('--set', 'admissionPolicy.allowedImages={registry.example.com/custom-run:1}');
    const [vap] = find(objects, 'ValidatingAdmissionPolicy');
    const text = JSON.stringify(vap);
    expect(text).toContain(`request.userInfo.username == \\"system:serviceaccount:ops:${RELEASE}-pyworkflow-retention-operator\\"`);
    expect(text).toContain("['ghcr.io/pyworkflow/pyworkflow-retention-operator:0.1.0', 'registry.example.com/custom-run:1']");
    const [binding] = find(objects, 'ValidatingAdmissionPolicyBinding');
    expect(binding!.spec).toEqual({ policyName: vap!.metadata.name, validationActions: ['Deny'] });
    expect(find(await render('--set', 'admissionPolicy.enabled=false'), 'ValidatingAdmissionPolicy')).toEqual([]);
  });

  it('hostNetwork (for clusters whose pods cannot reach the API server otherwise; the e2e suites use the pod network): the node\'s network namespace, cluster DNS kept, one pod replaced at a time', async () => {
    type Spec = { hostNetwork?: boolean; dnsPolicy?: string };
    type Strategy = { strategy?: { type: string; rollingUpdate?: { maxSurge: number; maxUnavailable: number } } };
    const [plain] = find<DeploymentLike>(await render(), 'Deployment');
    expect((plain!.spec.template.spec as Spec).hostNetwork).toBeUndefined();
    expect((plain!.spec as Strategy).strategy).toBeUndefined();
    const [host] = find<DeploymentLike>(await render('--set', 'hostNetwork=true'), 'Deployment');
    expect(host!.spec.template.spec).toMatchObject({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' });
    // A surge pod would need the ports its predecessor holds on the same node.
    expect((host!.spec as Strategy).strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
  });

  it('renders the helm test pod: restricted, the operator\'s own image, /readyz through the health Service', async () => {
    const [pod] = find(await render(), 'Pod');
    expect((pod!.metadata as unknown as { annotations: Record<string, string> }).annotations['helm.sh/hook']).toBe('test');
    const spec = pod!.spec as { securityContext: Record<string, unknown>; automountServiceAccountToken: boolean; containers: (Container & { command: string[] })[] };
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.automountServiceAccountToken).toBe(false);
    const c = spec.containers[0]!;
    expect(c.image).toBe('ghcr.io/pyworkflow/pyworkflow-retention-operator:0.1.0');
    expect(c.command.slice(0, 2)).toEqual(['node', '-e']);
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    // The kubelet's service variables first (no cluster DNS needed), the DNS name as the fallback.
    expect(c.env).toEqual([
      { name: 'READYZ_URL', value: `http://${RELEASE}-pyworkflow-retention-operator-health.ops.svc:8081/readyz` },
      { name: 'HEALTH_SERVICE_ENV_PREFIX', value: `${RELEASE.toUpperCase().replaceAll('-', '_')}_PYWORKFLOW_RETENTION_OPERATOR_HEALTH` },
    ]);
    expect((pod!.spec as { enableServiceLinks?: boolean }).enableServiceLinks).toBe(true);
  });
});

/** Every series name the controller exports (histograms with their _bucket/_sum/_count series). */
async function exportedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await new ControllerMetrics().registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
  }
  return names;
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: identifiers left after removing strings, label
 * matchers, range/offset brackets, Grafana variables, grouping label lists and function calls.
 */
function promqlMetricNames(expr: string): string[] {
  let text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  text = text.replace(/\b[a-zA-Z_][a-zA-Z0-9_]*\s*\(/g, '(');
  const names = text.match(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n.toLowerCase()) && !/^\d/.test(n)))];
}

describe('alerts and dashboard', () => {
  it('the PromQL reader finds the metric names, and only them', () => {
    expect(promqlMetricNames('sum by (kind) (rate(a_total{job="x", kind=~"b|c"}[5m])) > 0 and on (pod) (leader{job="$job"} == 1)')).toEqual(['a_total', 'leader']);
    expect(promqlMetricNames('(max(up_metric) or vector(0)) < 1')).toEqual(['up_metric']);
    expect(promqlMetricNames('histogram_quantile(0.95, sum by (le) (rate(x_bucket[$__rate_interval])))')).toEqual(['x_bucket']);
  });

  it('every alert and dashboard query names only metrics the controller exports, and every alert the brief asks for exists', async () => {
    const exported = await exportedMetricNames();
    expect(exported.has('pyworkflow_retention_schedule_interval_seconds')).toBe(true);
    const objects = await render('--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.grafanaDashboard.enabled=true', '--api-versions', 'monitoring.coreos.com/v1/PrometheusRule');
    const [rule] = find(objects, 'PrometheusRule');
    const rules = (rule!.spec as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert).sort()).toEqual(['PyworkflowRetentionNoLeader', 'PyworkflowRetentionReconcileErrors', 'PyworkflowRetentionRunFailed', 'PyworkflowRetentionRunOverdue']);
    const [dashboardMap] = find(objects, 'ConfigMap');
    expect(dashboardMap!.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse((dashboardMap!.data as Record<string, string>)['pyworkflow-retention.json']!) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const queries = [
      ...rules.map((r) => [`alert ${r.alert}`, r.expr] as const),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => [`panel ${p.title}`, t.expr] as const)),
    ];
    expect(queries.length).toBeGreaterThan(10);
    for (const [where, expr] of queries) {
      const names = promqlMetricNames(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${where} names ${name}, which the controller does not export: ${expr}`).toBe(true);
    }
    expect(find(await render('--set', 'metrics.prometheusRule.enabled=true'), 'PrometheusRule')).toEqual([]);
  });

  it('fails for a query naming a metric that does not exist (the check can fail)', async () => {
    const exported = await exportedMetricNames();
    expect(promqlMetricNames('pyworkflow_retention_last_sucess_timestamp_seconds > 0').filter((n) => !exported.has(n))).toEqual(['pyworkflow_retention_last_sucess_timestamp_seconds']);
  });
});

describe('the API server accepts every rendered object (server-side dry-run)', () => {
  const ns = `helm-dry-${suffix}`;
  const watched = [`${ns}-a`, `${ns}-b`];

  beforeAll(async () => {
    for (const n of [ns, ...watched]) await createNamespace(n);
  });
  afterAll(async () => {
    for (const n of [ns, ...watched]) await deleteNamespace(n);
  });

  it.each([
    ['default values', [] as string[]],
    ['watchNamespaces mode', ['--set', `watchNamespaces={${watched.join(',')}}`]],
    ['everything on', ['--set', 'metrics.grafanaDashboard.enabled=true', '--set', 'admissionPolicy.allowedImages={registry.example.com/run:2}', '--set', 'replicaCount=3', '--set', 'podDisruptionBudget.minAvailable=null', '--set', 'podDisruptionBudget.maxUnavailable=1']],
  ])('%s', async (_what, values) => {
    const objects = await renderIn(ns, ...values);
    expect(objects.some((o) => o.kind === 'ValidatingAdmissionPolicy')).toBe(true);
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
    const r = await kubectl(['apply', '--server-side', '--dry-run=server', '--force-conflicts', '--field-manager', 'helm-dry-run-test', '-f', '-'], list);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(objects.length);
    if (values.length > 0 && values[1]!.startsWith('watchNamespaces')) {
      // Namespaced mode: nothing cluster-wide but the CRDs and the admission policy.
      const clusterScoped = objects.filter((o) => o.metadata.namespace === undefined).map((o) => o.kind).sort();
      expect(clusterScoped).toEqual(['CustomResourceDefinition', 'CustomResourceDefinition', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
      expect(find(objects, 'Role').filter((o) => watched.includes(o.metadata.namespace ?? '')).length).toBe(2);
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
    [['--set', 'image.digest=latest'], 'digest'],
    [['--set', 'podDisruptionBudget.minAvailble=1'], 'minAvailble'],
    [['--set', 'admissionPolicy.validationActions={Block}'], 'validationActions'],
    [['--set', 'crds.upgrade=true'], 'upgrade'],
    [['--set', 'extraArgs={resync}'], 'extraArgs'],
    [['--set', 'topologySpreadConstraints[0].maxSkew=1'], 'topologySpreadConstraints'],
  ])('rejects %j naming %s', async (args, field) => {
    const r = await helm(['template', RELEASE, CHART, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('values don\'t meet the specifications of the schema');
    expect(r.stderr).toContain(field);
  });
});

describe('helm install', () => {
  const sa = `system:serviceaccount:${NS}:${RELEASE}-pyworkflow-retention-operator`;

  beforeAll(async () => {
    await createNamespace(NS);
    // --take-ownership: other suites apply the same CRDs from crds/ with kubectl.
    await helmOk(['install', RELEASE, CHART, '-n', NS, '--set', 'replicaCount=1', '--take-ownership', '--timeout', '2m']);
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

  it('owns the CRDs, and helm upgrade brings them back to the chart (Helm never upgrades crds/)', async () => {
    const crd = 'retentionpolicies.retention.pyworkflow.io';
    const meta = async (): Promise<{ labels: Record<string, string>; annotations: Record<string, string> }> =>
      (JSON.parse(await kubectlOk(['get', 'crd', crd, '-o', 'json'])) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } }).metadata;
    expect((await meta()).annotations).toMatchObject({ 'helm.sh/resource-policy': 'keep', 'meta.helm.sh/release-name': RELEASE, 'meta.helm.sh/release-namespace': NS });
    // Drift a field the chart sets; an upgrade that renders the same CRD must put it back.
    await kubectlOk(['label', 'crd', crd, 'app.kubernetes.io/part-of-']);
    expect((await meta()).labels['app.kubernetes.io/part-of']).toBeUndefined();
    await helmOk(['upgrade', RELEASE, CHART, '-n', NS, '--reuse-values', '--set', 'logLevel=debug', '--timeout', '2m']);
    expect((await meta()).labels['app.kubernetes.io/part-of']).toBe('pyworkflow');
  });

  describe('the ValidatingAdmissionPolicy, as the operator\'s ServiceAccount', () => {
    const image = 'ghcr.io/pyworkflow/pyworkflow-retention-operator:0.1.0';
    const managed = { 'app.kubernetes.io/managed-by': 'pyworkflow-retention-operator' };
    type Pod = Record<string, unknown> & { containers: Record<string, unknown>[] };
    const pod = (change: (p: Pod) => void = () => {}): Pod => {
      const p: Pod = {
        restartPolicy: 'Never',
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{ name: 'sweep', image, command: ['node', '/app/dist/src/cli/main.js'], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
        volumes: [{ name: 'tmp', emptyDir: {} }],
      };
      change(p);
      return p;
    };
    const job = (name: string, labels: Record<string, string>, spec: Pod): string =>
      JSON.stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: NS, labels }, spec: { template: { metadata: { labels }, spec } } });
    const cronJob = (name: string, labels: Record<string, string>, spec: Pod): string =>
      JSON.stringify({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name, namespace: NS, labels }, spec: { schedule: '0 3 * * *', jobTemplate: { metadata: { labels }, spec: { template: { metadata: { labels }, spec } } } } });
    const createAs = (manifest: string, as?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
      kubectl(['create', '--dry-run=server', '-o', 'name', '-f', '-', ...(as ? ['--as', as] : [])], manifest);

    beforeAll(async () => {
      // The API server loads a new policy asynchronously: wait until it refuses a Job it must refuse.
      await eventually('the admission policy to be enforced', 60_000, async () => ((await createAs(job('probe', {}, pod()), sa)).stderr.includes('ValidatingAdmissionPolicy') ? true : undefined));
    });

    it.each([
      ['a Job without the managed-by label', () => job('no-label', {}, pod()), 'labelled app.kubernetes.io/managed-by=pyworkflow-retention-operator'],
      ['a Job with another image', () => job('other-image', managed, pod((p) => (p.containers[0]!.image = 'docker.io/library/busybox:1'))), 'may only run its own image (ghcr.io/pyworkflow/pyworkflow-retention-operator:0.1.0; more in the chart value admissionPolicy.allowedImages), not docker.io/library/busybox:1'],
      ['a Job with an init container of another image', () => job('init-image', managed, pod((p) => (p.initContainers = [{ name: 'x', image: 'evil:1' }]))), 'not evil:1'],
      ['a Job with a hostPath volume', () => job('host-path', managed, pod((p) => (p.volumes = [{ name: 'root', hostPath: { path: '/' } }]))), 'may not mount hostPath volumes'],
      ['a Job on the host network', () => job('host-net', managed, pod((p) => (p.hostNetwork = true))), 'may not use the host\'s network, PID or IPC namespace'],
      ['a Job in the host PID namespace', () => job('host-pid', managed, pod((p) => (p.hostPID = true))), 'may not use the host\'s network, PID or IPC namespace'],
      ['a privileged Job', () => job('privileged', managed, pod((p) => (p.containers[0]!.securityContext = { privileged: true }))), 'may not run privileged containers'],
      ['a Job adding a capability', () => job('cap-add', managed, pod((p) => (p.containers[0]!.securityContext = { capabilities: { add: ['NET_ADMIN'] } }))), 'may not run privileged containers, allow privilege escalation or add capabilities'],
      ['a CronJob with another image', () => cronJob('cron-image', managed, pod((p) => (p.containers[0]!.image = 'evil:1'))), 'not evil:1'],
      ['a CronJob with a hostPath volume', () => cronJob('cron-host-path', managed, pod((p) => (p.volumes = [{ name: 'root', hostPath: { path: '/var/run' } }]))), 'may not mount hostPath volumes'],
    ])('refuses %s', async (_what, manifest, message) => {
      const r = await createAs(manifest(), sa);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('ValidatingAdmissionPolicy');
      expect(r.stderr).toContain(message);
    });

    it('lets the operator mark a Job from an earlier image, and refuses changing a CronJob to a foreign image', async () => {
      // Created by an admin, as an earlier operator version would have: an image no longer allowed.
      const old = (p: Pod): void => void (p.containers[0]!.image = 'ghcr.io/pyworkflow/pyworkflow-retention-operator:0.0.9');
      const oldJob = JSON.parse(job('old-run', managed, pod(old))) as { spec: Record<string, unknown> };
      oldJob.spec.suspend = true; // no pod is ever started
      await kubectlOk(['create', '-f', '-'], JSON.stringify(oldJob));
      await kubectlOk(['create', '-f', '-'], cronJob('old-cron', managed, pod(old)));
      const marked = await kubectl(['annotate', 'job', '-n', NS, 'old-run', 'retention.pyworkflow.io/accounted=true', '--dry-run=server', '--as', sa]);
      expect(marked.stderr).toBe('');
      expect(marked.code).toBe(0);
      const current = JSON.parse(await kubectlOk(['get', 'cronjob', '-n', NS, 'old-cron', '-o', 'json'])) as { metadata: { labels: Record<string, string> }; spec: { jobTemplate: { spec: { template: { spec: Pod } } } } };
      current.metadata.labels.touched = 'yes';
      const relabelled = await kubectl(['replace', '--dry-run=server', '-f', '-', '--as', sa], JSON.stringify(current));
      expect(relabelled.stderr).toBe('');
      expect(relabelled.code).toBe(0);
      current.spec.jobTemplate.spec.template.spec.containers[0]!.image = 'evil:2';
      const reimaged = await kubectl(['replace', '--dry-run=server', '-f', '-', '--as', sa], JSON.stringify(current));
      expect(reimaged.code).not.toBe(0);
      expect(reimaged.stderr).toContain('not evil:2');
    });

    it('allows a conforming Job and CronJob, and does not confine anybody else', async () => {
      for (const manifest of [job('ok', managed, pod()), cronJob('ok', managed, pod())]) {
        const r = await createAs(manifest, sa);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
      const admin = await createAs(job('admin-busybox', {}, pod((p) => (p.containers[0]!.image = 'docker.io/library/busybox:1'))));
      expect(admin.stderr).toBe('');
      expect(admin.code).toBe(0);
    });
  });

  it('uninstalls the controller and keeps the CRDs (and so every policy)', async () => {
    await helmOk(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '2m']);
    const r = await kubectl(['get', 'deployment', '-n', NS, `${RELEASE}-pyworkflow-retention-operator`]);
    expect(r.stderr).toContain('NotFound');
    await kubectlOk(['get', 'crd', 'retentionpolicies.retention.pyworkflow.io']);
  });
});
