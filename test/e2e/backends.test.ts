// Needs: the real control plane (`npm run env:up kube`), PostgreSQL (PG_URL) and the test node.
//
// The operator against a pyworkflow file store and a PostgreSQL store: the run deletes what the oracle
// says, the StorageBackend reports the schema version it found, a database that is down shows as
// LastRunSucceeded=False with the cause (and Reachable=False), the next run after fixing it succeeds,
// and /metrics counts the runs and deleted records.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy, StorageBackend } from '../../src/api/generated/types.js';
import { seedFileStore } from '../../src/backends/file/seed.js';
import { seedPostgresStore } from '../../src/backends/postgres/seed.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import type { Dataset } from '../../src/model/dataset.js';
import { generateDataset } from '../../src/model/generate.js';
import type { Job } from '../../src/reconcilers/workloads.js';
import { createNamespace, deleteNamespace, eventually, installCrds, kubectlOk } from '../support/kubectl.js';
import { expectedAfterSweep } from '../support/oracle.js';
import { fileFixture } from '../support/stores/file-store.js';
import { createPgDatabase, dropPgDatabase, pgAdminConfig, withPgClient } from '../support/stores/postgres-store.js';
import type { TestNode } from '../support/test-node.js';
import { REPO_ROOT } from '../support/test-env.js';
import { apply, buildOnce, ControllerProcess, controllerArgs, getJson, startNode } from './harness.js';

const API = 'retention.pyworkflow.io/v1alpha1';
const ns = `e2e-be-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'pywr-e2e-be-'));
const fileBase = join(work, 'files', 'pyworkflow_data');
let node: TestNode;
let controller: ControllerProcess;
let database = '';

const policy = (name: string, backend: string): RetentionPolicy => ({
  apiVersion: API,
  kind: 'RetentionPolicy',
  metadata: { name },
  spec: { retentionDays: 20, backendRef: { name: backend }, schedule: '0 0 1 1 *' } as RetentionPolicy['spec'],
});
const condition = (o: { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }, type: string) =>
  o.status?.conditions?.find((c) => c.type === type);

async function runNow(policyName: string, token: string): Promise<RetentionPolicy> {
  await kubectlOk(['annotate', '--overwrite', 'rp', policyName, '-n', ns, `retention.pyworkflow.io/run-now=${token}`]);
  const job = await eventually(`Job for ${policyName}/${token}`, 30_000, async () =>
    (await getJson<{ items: Job[] }>(['get', 'jobs', '-n', ns])).items.find((j) => j.metadata.annotations?.['retention.pyworkflow.io/run-now-token'] === token),
  );
  return eventually(`result of ${job.metadata.name}`, 60_000, async () => {
    const p = await getJson<RetentionPolicy>(['get', 'rp', policyName, '-n', ns]);
    return p.status?.lastRun?.jobName === job.metadata.name ? p : undefined;
  });
}

function dataset(seed: number): Dataset {
  return generateDataset({ seed, runs: 250, now: new Date(), spanDays: 40, eventsPerRun: 3, extras: true });
}

describe('RetentionPolicy runs against file and PostgreSQL stores (real control plane)', () => {
  beforeAll(async () => {
    buildOnce();
    await installCrds(join(REPO_ROOT, 'crds'));
    await createNamespace(ns);
    node = await startNode(`pywr-e2e-${ns}`, ns, join(work, 'node'), { 'pyworkflow-files': join(work, 'files') });
    controller = ControllerProcess.start('backends', controllerArgs(ns));
    await controller.waitFor('acting as leader', (l) => l.msg === 'acting as leader');
  });

  afterAll(async () => {
    await controller?.stop();
    await node?.stop();
    await deleteNamespace(ns);
    if (database) await dropPgDatabase(database);
    rmSync(work, { recursive: true, force: true });
  });

  it('file store: the run deletes exactly the eligible runs and the backend records the layout it found', async () => {
    const data = fileFixture().adapt(dataset(77));
    seedFileStore(fileBase, data);
    // runs/ holds run records (<id>.json) and cancellation flags (<id>.cancel).
    const runFiles = (): number => readdirSync(join(fileBase, 'runs')).filter((f) => f.endsWith('.json')).length;
    const before = runFiles();
    await apply(
      ns,
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'pyworkflow-files' }, spec: { accessModes: ['ReadWriteMany'], storageClassName: '', resources: { requests: { storage: '1Gi' } } } },
      { apiVersion: API, kind: 'StorageBackend', metadata: { name: 'files' }, spec: { type: 'file', file: { volume: 'pyworkflow-files', basePath: 'pyworkflow_data' } } } satisfies StorageBackend,
      policy('files-purge', 'files'),
    );
    const p = await runNow('files-purge', 'f1');
    expect(p.status?.lastRun?.outcome).toBe('Succeeded');
    const expected = expectedAfterSweep(data, { cutoff: new Date(p.status!.lastRun!.cutoff!), statuses: TERMINAL_STATUSES, housekeeping: true });
    expect(expected.counts.runs).toBeGreaterThan(20);
    expect(p.status?.lastRun?.deleted).toEqual(expected.counts);
    expect(before - runFiles()).toBe(expected.counts.runs);
    const backend = await eventually('file backend status', 20_000, async () => {
      const b = await getJson<StorageBackend>(['get', 'wfsb', 'files', '-n', ns]);
      return b.status?.lastReachedBy === 'files-purge' ? b : undefined;
    });
    expect(backend.status?.observedSchemaVersion).not.toBe('');
    expect(condition(backend, 'Reachable')).toMatchObject({ status: 'True', reason: 'RunConnected' });
  });

  it('PostgreSQL down: LastRunSucceeded=False with the cause; pointed at the live server, the next run succeeds', async () => {
    const data = dataset(78);
    database = await createPgDatabase('pywr_e2e');
    await withPgClient(database, (c) => seedPostgresStore(c, data, { layout: 'v7' }));
    const admin = pgAdminConfig(database);
    await kubectlOk(['create', 'secret', 'generic', 'pg-credentials', '-n', ns, `--from-literal=password=${String(admin.password)}`]);
    const backend = (port: number): StorageBackend => ({
      apiVersion: API,
      kind: 'StorageBackend',
      metadata: { name: 'pg' },
      spec: { type: 'postgres', postgres: { host: String(admin.host), port, database, user: String(admin.user), passwordSecretRef: { name: 'pg-credentials', key: 'password' }, tls: { mode: 'disable' }, connectTimeoutSeconds: 5 } } as StorageBackend['spec'],
    });
    // Port 1 on localhost: nothing listens, the connection is refused at once.
    await apply(ns, backend(1), policy('pg-purge', 'pg'));
    const down = await runNow('pg-purge', 'down');
    expect(down.status?.lastRun?.outcome).toBe('Failed');
    const lrs = condition(down, 'LastRunSucceeded')!;
    expect(lrs).toMatchObject({ status: 'False', reason: 'RunFailed' });
    expect(lrs.message).toMatch(/ECONNREFUSED|refused|connect/i);
    expect(lrs.message).not.toContain(String(admin.password));
    const unreachable = await eventually('Reachable=False', 20_000, async () => {
      const b = await getJson<StorageBackend>(['get', 'wfsb', 'pg', '-n', ns]);
      return condition(b, 'Reachable')?.status === 'False' ? b : undefined;
    });
    expect(condition(unreachable, 'Reachable')!.reason).toBe('RunNotConnected');

    await apply(ns, backend(Number(admin.port)));
    // The CronJob follows the backend; the next run uses the new port.
    await eventually('CronJob with the new port', 20_000, async () => {
      const cj = await getJson<{ spec: { jobTemplate: { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } } } }>(['get', 'cronjob', 'rp-pg-purge', '-n', ns]);
      return cj.spec.jobTemplate.spec.template.spec.containers[0]!.args.join(' ').includes(`"port":${admin.port}`) ? true : undefined;
    });
    const up = await runNow('pg-purge', 'up');
    expect(up.status?.lastRun?.outcome).toBe('Succeeded');
    expect(condition(up, 'LastRunSucceeded')).toMatchObject({ status: 'True', reason: 'RunSucceeded' });
    const expected = expectedAfterSweep(data, { cutoff: new Date(up.status!.lastRun!.cutoff!), statuses: TERMINAL_STATUSES, housekeeping: true });
    expect(up.status?.lastRun?.deleted).toEqual(expected.counts);
    const left = await withPgClient(database, async (c) => (await c.query<{ n: string }>('SELECT count(*) AS n FROM workflow_runs')).rows[0]!.n);
    expect(Number(left)).toBe(expected.remaining.runs.length);
    expect(up.status?.totals).toMatchObject({ runs: expected.counts.runs, runsSucceeded: 1, runsFailed: 1 });
    const reached = await eventually('Reachable=True with the schema version', 20_000, async () => {
      const b = await getJson<StorageBackend>(['get', 'wfsb', 'pg', '-n', ns]);
      return condition(b, 'Reachable')?.status === 'True' ? b : undefined;
    });
    expect(reached.status?.observedSchemaVersion).toMatch(/\S/);
    expect(reached.status?.lastReachedBy).toBe('pg-purge');
  });

  it('/metrics counts runs by outcome and deleted records by kind, per policy', async () => {
    const started = await controller.waitFor('startup', (l) => l.msg === 'controller starting');
    const text = await (await fetch(`http://${String(started.metricsAddress)}/metrics`)).text();
    const pg = await getJson<RetentionPolicy>(['get', 'rp', 'pg-purge', '-n', ns]);
    expect(text).toContain(`pyworkflow_retention_runs_total{namespace="${ns}",policy="pg-purge",outcome="Failed"} 1`);
    expect(text).toContain(`pyworkflow_retention_runs_total{namespace="${ns}",policy="pg-purge",outcome="Succeeded"} 1`);
    expect(text).toContain(`pyworkflow_retention_deleted_records_total{namespace="${ns}",policy="pg-purge",kind="runs"} ${pg.status!.totals!.runs}`);
    expect(text).toMatch(new RegExp(`pyworkflow_retention_last_success_timestamp_seconds\\{namespace="${ns}",policy="files-purge"\\} \\d+`));
    expect(text).toMatch(/pyworkflow_retention_reconcile_total\{kind="RetentionPolicy",result="(success|requeue)"\} \d+/);
    expect(text).toContain('pyworkflow_retention_leader 1');
    const health = await controller.waitFor('startup', (l) => l.msg === 'controller starting');
    expect((await fetch(`http://${String(health.healthAddress)}/readyz`)).status).toBe(200);
    expect((await fetch(`http://${String(health.healthAddress)}/healthz`)).status).toBe(200);
  });
});
