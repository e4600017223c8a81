// Admission by the real kube-apiserver of the test environment (KUBECONFIG, KUBECTL): the generated CRDs
// install, every example is accepted, every invalid case is rejected with a message naming its field,
// kubectl explain documents every field, and kubectl get shows the printer columns.

import { ApiException, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { API_GROUP, API_VERSION } from '../../../src/api/common.js';
import type { Schema } from '../../../src/api/openapi.js';
import { RETENTION_POLICY_NAMES, RETENTION_POLICY_SPEC } from '../../../src/api/retention-policy.js';
import { STORAGE_BACKEND_NAMES, STORAGE_BACKEND_SPEC } from '../../../src/api/storage-backend.js';
import { readRetentionPolicy, readStorageBackend, validateRetentionPolicy, validateStorageBackend } from '../../../src/api/validate.js';
import { desiredCronJob } from '../../../src/reconcilers/desired-cronjob.js';
import type { CronJob } from '../../../src/reconcilers/workloads.js';
import { WORKLOAD_REFUSED_CASES, INVALID_CASES, manifestOf, VALID_JOB_TEMPLATE, VALID_SPECS, VALID_TIME_ZONES, type InvalidCase } from '../../support/api-cases.js';
import { createNamespace, deleteNamespace, installCrds, kubectl, kubectlOk, eventually } from '../../support/kubectl.js';
import { REPO_ROOT, requireEnv } from '../../support/test-env.js';

const NS = `api-admission-${Date.now().toString(36)}`;
const CRDS = `${REPO_ROOT}/crds`;

const kc = new KubeConfig();
kc.loadFromFile(requireEnv('KUBECONFIG'));
const custom = kc.makeApiClient(CustomObjectsApi);

/** The API server's rejection message for one case, from a strict server-side dry-run create (what kubectl sends). */
async function rejection(c: InvalidCase): Promise<string> {
  const plural = c.kind === 'RetentionPolicy' ? RETENTION_POLICY_NAMES.plural : STORAGE_BACKEND_NAMES.plural;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await custom.createNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        namespace: NS,
        plural,
        body: manifestOf(c, NS),
        dryRun: 'All',
        fieldValidation: 'Strict',
      });
      return '(accepted)';
    } catch (err) {
      if (err instanceof ApiException) {
        const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body);
        try {
          return (JSON.parse(body) as { message?: string }).message ?? body;
        } catch {
          return body;
        }
      }
      // The API server restarting under another suite: retry, as kubectl users would.
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return out;
}

const normalise = (s: string): string => s.replace(/\s+/g, ' ');

beforeAll(async () => {
  await installCrds(CRDS);
  await createNamespace(NS);
});

afterAll(async () => {
  await deleteNamespace(NS);
});

describe('examples', () => {
  it('are all accepted by the API server (server-side dry run, strict field validation)', async () => {
    const r = await kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', NS, '-R', '-f', `${REPO_ROOT}/examples`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const created = r.stdout.split('\n').filter((l) => l.includes('(server dry run)'));
    expect(created.filter((l) => l.startsWith('storagebackend.'))).toHaveLength(8);
    expect(created.filter((l) => l.startsWith('retentionpolicy.'))).toHaveLength(6);
  });
});

describe('invalid manifests', () => {
  let messages = new Map<string, string>();

  beforeAll(async () => {
    const results = await mapLimit(INVALID_CASES, 8, rejection);
    messages = new Map(INVALID_CASES.map((c, i) => [c.name, results[i]!]));
  });

  it(`has at least 30 cases`, () => {
    expect(INVALID_CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(INVALID_CASES.map((c) => [c.name, c] as const))('%s is rejected with a message naming the field', (_name, c) => {
    const message = messages.get(c.name) ?? '';
    expect(message).not.toBe('(accepted)');
    expect(message).toContain(c.field);
    for (const text of c.server) expect(message).toContain(text);
    // Runtime validation is at least as strict as admission.
    const runtime = c.kind === 'RetentionPolicy' ? validateRetentionPolicy(manifestOf(c, NS)) : validateStorageBackend(manifestOf(c, NS));
    expect(runtime.ok).toBe(false);
  });

  it('kubectl (strict field validation by default) rejects an inline password as an unknown field', async () => {
    const manifest = stringify(
      manifestOf({ name: 'inline-password', kind: 'StorageBackend', field: '', server: [], spec: { type: 'mysql', mysql: { host: 'db', password: 'hunter2' } } }, NS),
    );
    const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], manifest);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown field "spec.mysql.password"');
    expect(r.stderr).not.toContain('hunter2');
  });
});

/** The API server's answer to a server-side dry-run create of `objects` (exit code and stderr). */
async function dryRunCreate(...objects: unknown[]): Promise<{ code: number; stderr: string }> {
  const r = await kubectl(['create', '--dry-run=server', '-n', NS, '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n'));
  return { code: r.code, stderr: r.stderr };
}

/** A pod as the CronJob's Jobs would create it from the CronJob's pod template. */
function podOf(cronJob: CronJob): unknown {
  const template = cronJob.spec.jobTemplate.spec!.template;
  return { apiVersion: 'v1', kind: 'Pod', metadata: { ...template.metadata, name: `${cronJob.metadata.name}-pod` }, spec: template.spec };
}

/** The CronJob the controller would write for a policy spec, validated or not (defaults from a valid base). */
function cronJobFor(spec: Record<string, unknown>): CronJob {
  const base = readRetentionPolicy(manifestOf({ name: 'p', kind: 'RetentionPolicy', spec: VALID_SPECS.RetentionPolicy, field: '', server: [] }, NS));
  const backend = readStorageBackend(manifestOf({ name: 'pg', kind: 'StorageBackend', spec: VALID_SPECS.StorageBackend, field: '', server: [] }, NS));
  if (!base.ok || !backend.ok) throw new Error('the valid bases must validate');
  const policy = { ...base.value, metadata: { ...base.value.metadata, uid: '00000000-0000-0000-0000-000000000001' }, spec: { ...base.value.spec, ...spec } };
  return desiredCronJob({ policy: policy, backend: backend.value, runImage: 'registry.example/pyworkflow-retention:1.0' });
}

describe('what admission lets through, the CronJob API accepts (issue 10, finding 6)', () => {
  const policies: Array<[string, Record<string, unknown>]> = [
    ['every jobTemplate field', { ...VALID_SPECS.RetentionPolicy, jobTemplate: VALID_JOB_TEMPLATE }],
    ...VALID_TIME_ZONES.map((timeZone): [string, Record<string, unknown>] => [`timeZone ${timeZone}`, { ...VALID_SPECS.RetentionPolicy, timeZone }]),
  ];

  it.each(policies)(
    'a policy with %s is admitted, and so is its CronJob',
    async (_what, spec) => {
      const policy = manifestOf({ name: `valid-${Math.random().toString(36).slice(2, 8)}`, kind: 'RetentionPolicy', spec, field: '', server: [] }, NS);
      expect(await dryRunCreate(policy)).toEqual({ code: 0, stderr: '' });
      const cronJob = cronJobFor(spec);
      expect(await dryRunCreate(cronJob)).toEqual({ code: 0, stderr: '' });
      expect(await dryRunCreate(podOf(cronJob))).toEqual({ code: 0, stderr: '' });
    },
  );

  // Each of these passed admission before the rules of issue 10 and was then refused in the CronJob or in
  // its pods: what the controller would build from it (admission bypassed) is refused by the API server.
  it.each(WORKLOAD_REFUSED_CASES.map((name) => [name, INVALID_CASES.find((c) => c.name === name)!] as const))(
    '%s: its CronJob, or the pods of its Jobs, would be refused too',
    async (_name, c) => {
      const cronJob = cronJobFor(c.spec);
      let r = await dryRunCreate(cronJob);
      if (r.code === 0) r = await dryRunCreate(podOf(cronJob));
      expect(r.code, `accepted: ${JSON.stringify(c.spec)}`).not.toBe(0);
      expect(r.stderr).toMatch(/is invalid|Invalid value|Unsupported value|Required value/);
    },
  );
});

describe('kubectl explain', () => {
  async function explain(path: string): Promise<string> {
    // The OpenAPI document is published a moment after the CRD is Established.
    return eventually(`kubectl explain ${path}`, 60_000, async () => {
      const r = await kubectl(['explain', path]);
      return r.code === 0 ? normalise(r.stdout) : undefined;
    });
  }

  function expectDocumented(text: string, schema: Schema): void {
    for (const [field, prop] of Object.entries(schema.properties ?? {})) {
      expect(text, field).toMatch(new RegExp(` ${field} <`));
      expect(text, field).toContain(normalise(prop.description ?? '').slice(0, 60));
    }
  }

  it('documents every field of retentionpolicy.spec', async () => {
    expectDocumented(await explain('retentionpolicy.spec'), RETENTION_POLICY_SPEC);
  });

  it('documents every field of retentionpolicy.spec.jobTemplate and storagebackend.spec and its blocks', async () => {
    expectDocumented(await explain('retentionpolicy.spec.jobTemplate'), RETENTION_POLICY_SPEC.properties!.jobTemplate!);
    expectDocumented(await explain('storagebackend.spec'), STORAGE_BACKEND_SPEC);
    for (const block of ['postgres', 'sqlite', 'file', 'cassandra', 'dynamodb']) {
      expectDocumented(await explain(`storagebackend.spec.${block}`), STORAGE_BACKEND_SPEC.properties![block]!);
    }
  });
});

describe('kubectl get', () => {
  it('shows days, backend, schedule, last run, runs deleted, ready and age for rp, and type, schema, ready for wfsb', async () => {
    const objects = [
      { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'StorageBackend', metadata: { name: 'pg', namespace: NS }, spec: { type: 'postgres', postgres: { host: 'pg' } } },
      {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: 'RetentionPolicy',
        metadata: { name: 'monthly', namespace: NS },
        spec: { retentionDays: 30, backendRef: { name: 'pg' }, schedule: '0 3 * * *' },
      },
    ];
    await kubectlOk(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const counts = { runs: 42, events: 100, steps: 50, hooks: 0, cancellationFlags: 0, checkpoints: 3, streamRecords: 0, schedules: 0 };
    const condition = { type: 'Ready', status: 'True', reason: 'CronJobReady', message: 'ok', lastTransitionTime: now };
    await kubectlOk(['patch', '-n', NS, 'rp', 'monthly', '--subresource=status', '--type=merge', '-p', JSON.stringify({
      status: {
        conditions: [condition],
        lastRun: { jobName: 'monthly-1', outcome: 'Succeeded', completionTime: now, deleted: counts },
        totals: { ...counts, runsSucceeded: 1, runsFailed: 0 },
      },
    })]);
    await kubectlOk(['patch', '-n', NS, 'wfsb', 'pg', '--subresource=status', '--type=merge', '-p', JSON.stringify({
      status: { conditions: [condition], observedSchemaVersion: '7' },
    })]);

    const rp = (await kubectlOk(['get', 'rp', '-n', NS])).trim().split('\n');
    expect(rp[0]!.split(/\s{2,}/)).toEqual(['NAME', 'DAYS', 'BACKEND', 'SCHEDULE', 'LAST RUN', 'RUNS DELETED', 'READY', 'AGE']);
    expect(rp[1]).toMatch(/^monthly\s+30\s+pg\s+0 3 \* \* \*\s+\d+s\s+42\s+True\s+\d+s$/);

    const wfsb = (await kubectlOk(['get', 'wfsb', '-n', NS])).trim().split('\n');
    expect(wfsb[0]!.split(/\s{2,}/)).toEqual(['NAME', 'TYPE', 'SCHEMA', 'READY', 'AGE']);
    expect(wfsb[1]).toMatch(/^pg\s+postgres\s+7\s+True\s+\d+s$/);

    // The category lists both kinds.
    const all = await kubectlOk(['get', 'pyworkflow', '-n', NS, '-o', 'name']);
    expect(all.trim().split('\n').sort()).toEqual([
      'retentionpolicy.retention.pyworkflow.io/monthly',
      'storagebackend.retention.pyworkflow.io/pg',
    ]);
  });
});
