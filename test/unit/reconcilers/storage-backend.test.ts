// The StorageBackend reconciler: Ready from its own validation and its volume claim, Reachable and the
// schema version from the newest run results, nothing written in steady state.
import { describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../../src/api/generated/types.js';
import { CRONJOBS, RETENTION_POLICIES, STORAGE_BACKENDS } from '../../../src/controller/resources.js';
import { reconcileRetentionPolicy } from '../../../src/reconcilers/retention-policy.js';
import { reconcileStorageBackend } from '../../../src/reconcilers/storage-backend.js';
import type { CronJob } from '../../../src/reconcilers/workloads.js';
import { NS, policy, sqliteBackend, testBed, type TestBed } from './fake-cluster.js';
import { finishRun, report } from './runs.js';

const signal = new AbortController().signal;
const PVCS = { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim' };
const get = (bed: TestBed): StorageBackend => bed.cluster.get<StorageBackend>(STORAGE_BACKENDS, NS, 'store')!;
const cond = (b: StorageBackend, type: string) => b.status?.conditions?.find((c) => c.type === type);

function setup(withClaim = true): TestBed {
  const bed = testBed();
  bed.cluster.put(STORAGE_BACKENDS, sqliteBackend());
  if (withClaim) bed.cluster.put(PVCS, { metadata: { name: 'wf-data', namespace: NS } });
  return bed;
}

describe('StorageBackend reconciler', () => {
  it('Ready=True for a valid spec whose volume claim exists; nothing written the second time', async () => {
    const bed = setup();
    await reconcileStorageBackend(bed.ctx, `${NS}/store`, signal);
    expect(cond(get(bed), 'Ready')).toMatchObject({ status: 'True', reason: 'Valid', observedGeneration: 1 });
    const writes = bed.cluster.writes.length;
    await reconcileStorageBackend(bed.ctx, `${NS}/store`, signal);
    expect(bed.cluster.writesSince(writes)).toEqual([]);
  });

  it('Ready=False VolumeNotFound while the claim is missing, and policies using it are suspended', async () => {
    const bed = setup(false);
    await reconcileStorageBackend(bed.ctx, `${NS}/store`, signal);
    const ready = cond(get(bed), 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'VolumeNotFound' });
    expect(ready.message).toMatch(/PersistentVolumeClaim wf-data does not exist/);
    expect(bed.events.events.map((e) => e.reason)).toEqual(['VolumeNotFound']);
    bed.cluster.put(RETENTION_POLICIES, policy());
    await reconcileRetentionPolicy(bed.ctx, `${NS}/purge`, signal);
    const p = bed.cluster.get<{ status?: { conditions?: Array<{ type: string; reason: string }> } }>(RETENTION_POLICIES, NS, 'purge')!;
    expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('BackendNotReady');
  });

  it('Ready=False InvalidSpec for a spec that admission should have refused', async () => {
    const bed = setup();
    bed.cluster.put(STORAGE_BACKENDS, { ...sqliteBackend(), spec: { type: 'sqlite', file: { volume: 'x', basePath: '.' } } });
    await reconcileStorageBackend(bed.ctx, `${NS}/store`, signal);
    expect(cond(get(bed), 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
  });

  it('schema version, last reached time and policy from the newest run that reached the store; Reachable follows the newest run', async () => {
    const bed = setup();
    bed.cluster.put(RETENTION_POLICIES, policy());
    await reconcileRetentionPolicy(bed.ctx, `${NS}/purge`, signal);
    const cron = bed.cluster.get<CronJob>(CRONJOBS, NS, 'rp-purge')!;
    finishRun(bed.cluster, cron, { name: 'rp-purge-1', end: { kind: 'Complete' }, endedAt: '2026-03-01T10:00:00Z', pods: [{ exitCode: 0, message: report({ schemaVersion: 'sqlite-v3' }) }] });
    await reconcileStorageBackend(bed.ctx, `${NS}/store`, signal);
    let b = get(bed);
    expect(b.status).toMatchObject({ observedSchemaVersion: 'sqlite-v3', lastReachedTime: '2026-03-01T10:00:00Z', lastReachedBy: 'purge' });
    expect(cond(b, 'Reachable')).toMatchObject({ status: 'True', reason: 'RunConnected' });

    finishRun(bed.cluster, cron, {
      name: 'rp-purge-2', end: { kind: 'Failed', reason: 'BackoffLimitExceeded' }, endedAt: '2026-03-01T11:00:00Z',
      pods: [{ exitCode: 1, message: report({ outcome: 'failed', schemaVersion: '', error: { code: 'CONNECTION_FAILED', message: 'open failed' } }) }],
    });
    await reconcileStorageBackend(bed.ctx, `${NS}/store`, signal);
    b = get(bed);
    expect(cond(b, 'Reachable')).toMatchObject({ status: 'False', reason: 'RunNotConnected' });
    expect(cond(b, 'Reachable')!.message).toMatch(/open failed/);
    expect(b.status?.lastReachedTime).toBe('2026-03-01T10:00:00Z');
    const writes = bed.cluster.writes.length;
    await reconcileStorageBackend(bed.ctx, `${NS}/store`, signal);
    expect(bed.cluster.writesSince(writes)).toEqual([]);
  });
});
