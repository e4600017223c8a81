// The reconcilers across the object's lifecycle, against an in-memory API server: objects of a newer
// CRD (unknown spec and status fields) read tolerantly, a CronJob the API server refuses reported as
// CronJobInvalid with Stalled, and observedGeneration taken from what the reconcile read.
import { describe, expect, it } from 'vitest';
import type { RetentionPolicy, StorageBackend } from '../../../src/api/generated/types.js';
import { ApiError } from '../../../src/controller/kube-api.js';
import { CRONJOBS, RETENTION_POLICIES, STORAGE_BACKENDS } from '../../../src/controller/resources.js';
import { reconcileRetentionPolicy } from '../../../src/reconcilers/retention-policy.js';
import { reconcileStorageBackend } from '../../../src/reconcilers/storage-backend.js';
import type { CronJob } from '../../../src/reconcilers/workloads.js';
import { NS, policy, sqliteBackend, testBed, type TestBed } from './fake-cluster.js';

const signal = new AbortController().signal;
const PVCS = { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim' };
const getPolicy = (bed: TestBed): RetentionPolicy => bed.cluster.get<RetentionPolicy>(RETENTION_POLICIES, NS, 'purge')!;
const getBackend = (bed: TestBed): StorageBackend => bed.cluster.get<StorageBackend>(STORAGE_BACKENDS, NS, 'store')!;
const getCron = (bed: TestBed): CronJob | undefined => bed.cluster.get<CronJob>(CRONJOBS, NS, 'rp-purge');
type Cond = { type: string; status: string; reason: string; message: string; observedGeneration?: number };
const cond = (o: { status?: { conditions?: Cond[] } }, type: string): Cond | undefined => o.status?.conditions?.find((c) => c.type === type);
const reconcilePolicy = (bed: TestBed) => reconcileRetentionPolicy(bed.ctx, `${NS}/purge`, signal);
const reconcileBackend = (bed: TestBed) => reconcileStorageBackend(bed.ctx, `${NS}/store`, signal);

function setup(): TestBed {
  const bed = testBed();
  bed.cluster.put(STORAGE_BACKENDS, sqliteBackend());
  bed.cluster.put(PVCS, { metadata: { name: 'wf-data', namespace: NS } });
  bed.cluster.put(RETENTION_POLICIES, policy('purge'));
  return bed;
}

/** What a newer CRD adds: a defaulted spec field everywhere and a status field its controller wrote. */
function upgrade<T extends { spec: object; status?: object }>(o: T, extra: { spec: object; status: object }): T {
  return { ...o, spec: { ...o.spec, ...extra.spec }, status: { ...o.status, ...extra.status } };
}

describe('objects of a newer CRD version (finding 1)', () => {
  it('a policy and backend with unknown spec and status fields stay Ready, keep their CronJob running, and nothing is written', async () => {
    const bed = setup();
    await reconcileBackend(bed);
    await reconcilePolicy(bed);
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'True', reason: 'Scheduled' });
    const cronBefore = getCron(bed)!;

    bed.cluster.put(RETENTION_POLICIES, upgrade(getPolicy(bed), { spec: { parallelism: 1, jobTemplate: { runtimeClassName: 'gvisor' } }, status: { newerObservation: { seen: true } } }));
    bed.cluster.put(STORAGE_BACKENDS, upgrade(getBackend(bed), { spec: { readOnlyReplica: false }, status: { newerCounter: 0 } }));
    const writes = bed.cluster.writes.length;
    await reconcileBackend(bed);
    await reconcilePolicy(bed);
    await bed.clock.advance(60_000);
    await reconcileBackend(bed);
    await reconcilePolicy(bed);

    expect(bed.cluster.writesSince(writes)).toEqual([]);
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'True', reason: 'Scheduled' });
    expect(cond(getBackend(bed), 'Ready')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(getCron(bed)!.spec).toEqual(cronBefore.spec);
    expect(getCron(bed)!.spec.suspend).toBe(false);
  });

  it('a status write keeps the status fields of a newer version (a rollback does not erase them)', async () => {
    const bed = setup();
    await reconcilePolicy(bed);
    bed.cluster.put(RETENTION_POLICIES, upgrade(getPolicy(bed), { spec: {}, status: { newerObservation: 'kept' } }));
    const p = getPolicy(bed);
    // A spec change makes the status change (observedGeneration, Ready's message): a write happens.
    bed.cluster.put(RETENTION_POLICIES, { ...p, metadata: { ...p.metadata, generation: 2 }, spec: { ...p.spec, schedule: '@weekly' } });
    await reconcilePolicy(bed);
    const after = getPolicy(bed);
    expect(after.status?.observedGeneration).toBe(2);
    expect((after.status as Record<string, unknown>).newerObservation).toBe('kept');
  });

  it('unknown fields are ignored, but a known field out of range still makes the spec invalid', async () => {
    const bed = setup();
    await reconcilePolicy(bed);
    const p = getPolicy(bed);
    bed.cluster.put(RETENTION_POLICIES, { ...p, spec: { ...p.spec, retentionDays: 0, parallelism: 1 } as RetentionPolicy['spec'] });
    await reconcilePolicy(bed);
    const ready = cond(getPolicy(bed), 'Ready')!;
    expect(ready.reason).toBe('InvalidSpec');
    expect(ready.message).toContain('spec.retentionDays');
    expect(ready.message).not.toContain('parallelism');
  });
});

describe('a CronJob the API server refuses (finding 6)', () => {
  const refusal = () => new ApiError(422, 'Invalid', 'CronJob.batch "rp-purge" is invalid: spec.jobTemplate.spec.template.spec.containers[0].image: Invalid value: "bad image": denied by policy');

  it('create refused: Ready=False CronJobInvalid with the message, Stalled=True, one Warning, no error and no write when retried', async () => {
    const bed = setup();
    bed.cluster.failNext = { match: (r) => r.method === 'POST' && r.path.endsWith('/cronjobs'), error: refusal() };
    const result = await reconcilePolicy(bed);
    expect(result.requeueAfterMs).toBeUndefined();
    const p = getPolicy(bed);
    expect(cond(p, 'Ready')).toMatchObject({ status: 'False', reason: 'CronJobInvalid', observedGeneration: 1 });
    expect(cond(p, 'Ready')!.message).toContain('spec.jobTemplate.spec.template.spec.containers[0].image: Invalid value');
    expect(cond(p, 'Stalled')).toMatchObject({ status: 'True', reason: 'CronJobInvalid', observedGeneration: 1 });
    expect(bed.events.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'CronJobInvalid']]);

    // Refused again on the next attempt (the spec has not changed): the status is already right.
    const writes = bed.cluster.writes.length;
    bed.cluster.failNext = { match: (r) => r.method === 'POST' && r.path.endsWith('/cronjobs'), error: refusal() };
    await reconcilePolicy(bed);
    expect(bed.cluster.writesSince(writes).filter((w) => !w.path.endsWith('/cronjobs'))).toEqual([]);
    expect(bed.events.events).toHaveLength(1);

    // Accepted once the cause is gone: Ready again and Stalled removed.
    await reconcilePolicy(bed);
    expect(getCron(bed)).toBeDefined();
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'True', reason: 'Scheduled' });
    expect(cond(getPolicy(bed), 'Stalled')).toBeUndefined();
  });

  it('update refused: CronJobInvalid, and the CronJob of the previous spec is suspended', async () => {
    const bed = setup();
    await reconcilePolicy(bed);
    const p = getPolicy(bed);
    bed.cluster.put(RETENTION_POLICIES, { ...p, spec: { ...p.spec, schedule: '@weekly' } });
    bed.cluster.failNext = { match: (r) => r.method === 'PUT' && r.path.endsWith('/cronjobs/rp-purge'), error: refusal() };
    await reconcilePolicy(bed);
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'False', reason: 'CronJobInvalid' });
    expect(getCron(bed)!.spec.suspend).toBe(true);
    expect(getCron(bed)!.spec.schedule).toBe('0 3 * * *');
  });

  it('an invalid spec whose CronJob cannot be suspended (the update refused too): InvalidSpec and Stalled, no error', async () => {
    const bed = setup();
    await reconcilePolicy(bed);
    const p = getPolicy(bed);
    bed.cluster.put(RETENTION_POLICIES, { ...p, spec: { ...p.spec, retentionDays: 0 } });
    bed.cluster.failNext = { match: (r) => r.method === 'PUT' && r.path.endsWith('/cronjobs/rp-purge'), error: refusal() };
    await reconcilePolicy(bed);
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(cond(getPolicy(bed), 'Stalled')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
  });

  it('a 403 denial is CronJobForbidden (not Stalled); a 500 stays an error for the work queue to retry', async () => {
    const bed = setup();
    bed.cluster.failNext = { match: (r) => r.method === 'POST', error: new ApiError(403, 'Forbidden', 'admission webhook "deny.example" denied the request') };
    await reconcilePolicy(bed);
    expect(cond(getPolicy(bed), 'Ready')).toMatchObject({ status: 'False', reason: 'CronJobForbidden' });
    expect(cond(getPolicy(bed), 'Stalled')).toBeUndefined();

    const other = setup();
    other.cluster.failNext = { match: (r) => r.method === 'POST', error: new ApiError(500, 'InternalError', 'etcd timeout') };
    await expect(reconcilePolicy(other)).rejects.toThrow('etcd timeout');
  });
});

describe('observedGeneration (finding 9)', () => {
  it('is the generation the reconcile read, also when a Conflict made it re-read a newer one', async () => {
    const bed = setup();
    await reconcilePolicy(bed);
    const p = getPolicy(bed);
    bed.cluster.put(RETENTION_POLICIES, { ...p, metadata: { ...p.metadata, generation: 2 }, spec: { ...p.spec, schedule: '@weekly' } });
    // While this reconcile (of generation 2) runs, the user changes the spec again (generation 3).
    bed.cluster.beforeNext = {
      match: (r) => r.method === 'PUT' && r.path.endsWith('/status'),
      run: () => {
        const now = getPolicy(bed);
        bed.cluster.put(RETENTION_POLICIES, { ...now, metadata: { ...now.metadata, generation: 3 }, spec: { ...now.spec, retentionDays: 7 } });
      },
    };
    await reconcilePolicy(bed);
    const after = getPolicy(bed);
    expect(after.metadata.generation).toBe(3);
    expect(after.status?.observedGeneration).toBe(2);
    expect(cond(after, 'Ready')).toMatchObject({ observedGeneration: 2 });
    // The next reconcile (the watch event of generation 3) catches up.
    await reconcilePolicy(bed);
    expect(getPolicy(bed).status?.observedGeneration).toBe(3);
  });

  it('the same for a StorageBackend', async () => {
    const bed = setup();
    await reconcileBackend(bed);
    const b = getBackend(bed);
    bed.cluster.put(STORAGE_BACKENDS, { ...b, metadata: { ...b.metadata, generation: 2 }, spec: { type: 'sqlite' } });
    bed.cluster.beforeNext = {
      match: (r) => r.method === 'PUT' && r.path.endsWith('/status'),
      run: () => {
        const now = getBackend(bed);
        bed.cluster.put(STORAGE_BACKENDS, { ...now, metadata: { ...now.metadata, generation: 3 }, spec: sqliteBackend().spec });
      },
    };
    await reconcileBackend(bed);
    const after = getBackend(bed);
    expect(after.status?.observedGeneration).toBe(2);
    expect(cond(after, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec', observedGeneration: 2 });
    expect(cond(after, 'Stalled')).toMatchObject({ status: 'True', reason: 'InvalidSpec', observedGeneration: 2 });
    await reconcileBackend(bed);
    expect(cond(getBackend(bed), 'Ready')).toMatchObject({ status: 'True', observedGeneration: 3 });
    expect(cond(getBackend(bed), 'Stalled')).toBeUndefined();
  });
});
