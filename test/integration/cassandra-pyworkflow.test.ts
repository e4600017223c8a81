// Needs: the Cassandra test server (CASSANDRA_* in .test-env/env), real pyworkflow (PYWORKFLOW_PYTHON,
// PYWORKFLOW_DRIVER) and the built CLI. pyworkflow's own CassandraStorageBackend writes runs in every
// status and age, our CLI sweeps, and pyworkflow reads back what is left; CQL then shows that no row
// anywhere still names a purged run. Also: pyworkflow's own retention cannot run on Cassandra (H1), and
// layouts we do not know are refused with nothing deleted.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { pyworkflow, type Inspection, type Manifest } from '../support/pyworkflow.js';
import {
  cassandraStorageConfig, dropCassandraTestKeyspaces, dumpKeyspace, newTestKeyspaceName, testClient,
} from '../support/stores/cassandra-store.js';
import { createPyworkflowKeyspace } from '../../src/backends/cassandra/seed.js';
import { requireEnv } from '../support/test-env.js';

const DAY = 86_400_000;
const STATUSES = ['pending', 'running', 'suspended', 'completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted'];
const RETENTION_DAYS = 5;

afterAll(dropCassandraTestKeyspaces);

interface SweepJson {
  outcome: string;
  schemaVersion: string;
  cutoff: string;
  deleted: Record<string, number>;
  error?: { code: string; message: string };
}

async function sweep(storage: object, ...args: string[]): Promise<{ code: number | null; json: SweepJson; stderr: string }> {
  const r = await runCli(['sweep', '--storage', JSON.stringify(storage), '--retention-days', String(RETENTION_DAYS), '--output', 'json', '--progress', 'none', ...args]);
  return { code: r.code, json: JSON.parse(r.stdout) as SweepJson, stderr: r.stderr };
}

/** Runs Python with pyworkflow and the driver's helpers (its `token` shim, make_storage) importable. */
function python(code: string, ...args: string[]): string {
  const driver = requireEnv('PYWORKFLOW_DRIVER');
  const prelude = [
    'import sys, os, json, asyncio',
    'from datetime import UTC, datetime, timedelta',
    `sys.path.insert(0, os.path.dirname(${JSON.stringify(driver)}))`,
    'import pyworkflow_driver as drv',
    'drv.install_cassandra_shim()',
  ].join('\n');
  const r = spawnSync(requireEnv('PYWORKFLOW_PYTHON'), ['-c', `${prelude}\n${code}`, ...args], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout.trim();
}

/** Every row of every table that names one of `ids`, except the continue-as-new links pyworkflow tolerates dangling (H18). */
async function rowsNaming(keyspace: string, ids: ReadonlySet<string>): Promise<string[]> {
  const c = await testClient();
  const hits: string[] = [];
  const tables = (await c.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace], { prepare: true })).rows.map((r) => r.get('table_name') as string);
  for (const t of tables) {
    const rs = await c.execute(`SELECT * FROM ${keyspace}.${t}`, [], { prepare: true, fetchSize: 1000 });
    for await (const row of rs) {
      for (const col of rs.columns) {
        if (t === 'workflow_runs' && (col.name === 'continued_from_run_id' || col.name === 'continued_to_run_id')) continue;
        const v = row.get(col.name) as unknown;
        if (typeof v !== 'string') continue;
        for (const id of ids) if (v.includes(id)) hits.push(`${t}.${col.name} = ${v}`);
      }
    }
  }
  return hits;
}

describe('cassandra interop with real pyworkflow', () => {
  const keyspace = newTestKeyspaceName('interop');
  // No local_data_center: the backend discovers it, as it must for a config copied from a pyworkflow worker.
  const storage = cassandraStorageConfig(keyspace);
  const now = new Date();
  const iso = (daysAgo: number): string => new Date(now.getTime() - daysAgo * DAY).toISOString();
  let n = 0;
  const id = (): string => `run_${(0xcafe000000000000n + BigInt(++n)).toString(16)}`;
  const runs: Record<string, unknown>[] = [];
  for (const status of STATUSES) {
    for (const age of [10, 1]) {
      const lifecycle = status === 'pending' ? 'direct' : 'full';
      runs.push({ run_id: id(), status, lifecycle, updated_at: iso(age), created_at: iso(age + 0.5), hooks: 2, cancel: n % 2 === 0, checkpoints: 2, steps: 1, idempotency_key: `key-${n}` });
    }
  }
  // Outside list_runs' 30 day buckets: only CQL can tell whether its index rows went.
  const ancient = id();
  runs.push({ run_id: ancient, status: 'completed', updated_at: iso(45), created_at: iso(46), hooks: 1, checkpoints: 1, cancel: true });
  // The only run with a third hook: hooks_by_id('hook_approval_3') names it and must go with it.
  runs.push({ run_id: id(), status: 'failed', updated_at: iso(9), created_at: iso(9.5), hooks: 3 });
  const keptParent = id();
  const purgedParent = id();
  const purgedChild = id();
  const g = id();
  const p = id();
  runs.push(
    { run_id: keptParent, status: 'completed', updated_at: iso(10), created_at: iso(11), hooks: 1 },
    { run_id: id(), status: 'running', updated_at: iso(1), created_at: iso(2), parent_run_id: keptParent },
    { run_id: purgedParent, status: 'failed', updated_at: iso(10), created_at: iso(11) },
    { run_id: purgedChild, status: 'completed', updated_at: iso(9), created_at: iso(10), parent_run_id: purgedParent, hooks: 1, checkpoints: 1 },
    { run_id: id(), status: 'cancelled', updated_at: iso(9), created_at: iso(10), parent_run_id: purgedChild },
    { run_id: g, status: 'completed', updated_at: iso(10), created_at: iso(11) },
    { run_id: p, status: 'completed', updated_at: iso(10), created_at: iso(11), parent_run_id: g },
    { run_id: id(), status: 'completed', updated_at: iso(1), created_at: iso(2), parent_run_id: p },
  );
  const oldLink = id();
  runs.push(
    { run_id: oldLink, status: 'continued_as_new', updated_at: iso(10), created_at: iso(11) },
    { run_id: id(), status: 'running', updated_at: iso(1), created_at: iso(10), continued_from_run_id: oldLink },
  );
  // Two runs with one idempotency key: the lookup row names the newer, which is kept.
  const dupOld = id();
  const dupNew = id();
  runs.push(
    { run_id: dupOld, status: 'completed', updated_at: iso(10), created_at: iso(11), idempotency_key: 'shared-key' },
    { run_id: dupNew, status: 'completed', updated_at: iso(1), created_at: iso(2), idempotency_key: 'shared-key', hooks: 2 },
  );
  // Suspended runs claimed back by recovery (try_claim_run), then completed: see beforeAll.
  const claimedOld = id();
  const claimedNew = id();
  runs.push(
    { run_id: claimedOld, status: 'suspended', created_at: iso(11), hooks: 1 },
    { run_id: claimedNew, status: 'suspended', created_at: iso(2), hooks: 1 },
  );
  const spec = {
    runs,
    schedules: [
      { schedule_id: 'sched_old_deleted', status: 'deleted', updated_at: iso(10), created_at: iso(20) },
      { schedule_id: 'sched_new_deleted', status: 'deleted', updated_at: iso(1), created_at: iso(20) },
      { schedule_id: 'sched_old_active', status: 'active', updated_at: iso(10), created_at: iso(20) },
      { schedule_id: 'sched_old_paused', status: 'paused', updated_at: iso(10), created_at: iso(20) },
    ],
    // pyworkflow cannot publish a signal on Cassandra (its MAX(sequence) query lacks ALLOW FILTERING),
    // so a real store holds subscriptions but never signals or their acknowledgments.
    streams: [
      {
        stream_id: 'orders',
        subscriptions: [
          { step_run_id: 'stream_step_consume_aaaaaaaaaaaa', status: 'terminated', created_at: iso(10) },
          { step_run_id: 'stream_step_consume_bbbbbbbbbbbb', status: 'waiting', created_at: iso(10) },
          { step_run_id: 'stream_step_consume_cccccccccccc', status: 'terminated', created_at: iso(1) },
        ],
      },
    ],
  };

  let manifest: Manifest;
  let ids: string;
  let before: Inspection;
  const listedBefore = new Map<string, string[]>();

  beforeAll(async () => {
    manifest = await pyworkflow<Manifest>('populate', storage, ['--spec', '-'], spec);
    // pyworkflow's try_claim_run sends its LWT with SERIAL as the commit consistency, which Cassandra
    // rejects, so recovery cannot claim a run on a real server; the same CQL with a valid commit
    // consistency shows what it would leave behind: a runs_by_status row under 'suspended' forever.
    python(
      [
        'from cassandra.query import SimpleStatement',
        'from pyworkflow.storage.schemas import RunStatus',
        'async def main(cfg, ids, old):',
        '    s = drv.make_storage(cfg); await s.connect()',
        '    for rid in ids:',
        '        r = s._session.execute(SimpleStatement("UPDATE workflow_runs SET status = %s, updated_at = %s WHERE run_id = %s IF status = %s"), ("running", datetime.now(UTC), rid, "suspended")).one()',
        '        assert r[0] is True, rid',
        '        await s.update_run_status(rid, RunStatus.COMPLETED)',
        '    s._session.execute("UPDATE workflow_runs SET updated_at = %s, completed_at = %s WHERE run_id = %s", (old, old, ids[0]))',
        '    await s.disconnect()',
        'asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2].split(","), datetime.fromisoformat(sys.argv[3])))',
      ].join('\n'),
      JSON.stringify(storage), `${claimedOld},${claimedNew}`, iso(10),
    );
    ids = manifest.runs.map((r) => r.run_id).join(',');
    before = await pyworkflow<Inspection>('inspect', storage, ['--run-ids', ids, '--manifest', '-'], manifest);
    for (const status of STATUSES) {
      listedBefore.set(status, (await pyworkflow<{ runs: { run_id: string }[] }>('list-runs', storage, ['--status', status])).runs.map((r) => r.run_id).sort());
    }
  });

  it('purges exactly the eligible runs from every table, and pyworkflow reads the rest unchanged', async () => {
    const c = await testClient();
    const stale = await c.execute(`SELECT run_id FROM ${keyspace}.runs_by_status WHERE status = 'suspended' AND date_bucket IN ?`, [
      [iso(11).slice(0, 10), iso(2).slice(0, 10)],
    ], { prepare: true });
    const staleIds = stale.rows.map((r) => r.get('run_id') as string);
    expect([claimedOld, claimedNew].filter((r) => staleIds.includes(r)), 'claimed runs leave a suspended row').toEqual([claimedOld, claimedNew]);
    expect([before.runs[claimedOld]?.status, before.runs[claimedNew]?.status]).toEqual(['completed', 'completed']);

    const snapshot = await dumpKeyspace(c, keyspace);
    const dry = await sweep(storage, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(await dumpKeyspace(c, keyspace), 'a dry run changes nothing').toEqual(snapshot);
    const real = await sweep(storage);
    expect(real.code, real.stderr).toBe(0);
    expect(real.json.schemaVersion).toBe('21 tables');
    expect(real.json.deleted).toEqual(dry.json.deleted);

    // The truth is what pyworkflow reads back; the expected purge follows the product rules.
    const cutoff = Date.parse(real.json.cutoff);
    const facts = manifest.runs.map((r) => ({ ...r, seen: before.runs[r.run_id]! }));
    const terminal = new Set(['completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted']);
    const doomed = new Set(facts.filter((f) => terminal.has(f.seen.status!) && Date.parse(f.seen.updated_at!) < cutoff).map((f) => f.run_id));
    for (let changed = true; changed; ) {
      changed = false;
      for (const f of facts) {
        if (f.seen.parent_run_id && doomed.has(f.seen.parent_run_id) && !doomed.has(f.run_id)) {
          doomed.delete(f.seen.parent_run_id);
          changed = true;
        }
      }
    }
    for (const must of [ancient, purgedParent, purgedChild, oldLink, dupOld, claimedOld]) expect(doomed.has(must), must).toBe(true);
    for (const must of [keptParent, g, p, dupNew, claimedNew]) expect(doomed.has(must), must).toBe(false);

    const after = await pyworkflow<Inspection>('inspect', storage, ['--run-ids', ids, '--manifest', '-'], manifest);
    const want = { runs: 0, events: 0, hooks: 0, cancellationFlags: 0, checkpoints: 0, steps: 0 };
    for (const f of facts) {
      const seen = after.runs[f.run_id]!;
      if (!doomed.has(f.run_id)) {
        expect(seen, `${f.run_id} (${f.seen.status}) kept intact`).toEqual(f.seen);
        continue;
      }
      want.runs += 1;
      want.events += f.seen.events;
      want.hooks += f.seen.hooks;
      want.cancellationFlags += f.seen.cancel_flag ? 1 : 0;
      want.checkpoints += Object.values(f.seen.checkpoints).filter(Boolean).length;
      want.steps += (manifest.runs.find((m) => m.run_id === f.run_id) as unknown as { step_records: string[] }).step_records.length;
      expect(seen.exists, `${f.run_id} purged`).toBe(false);
      expect([seen.events, seen.hooks, seen.cancel_flag], f.run_id).toEqual([0, 0, false]);
      expect(Object.values(seen.hook_tokens).filter(Boolean), `${f.run_id} get_hook_by_token`).toEqual([]);
      expect(Object.values(seen.checkpoints).filter(Boolean), `${f.run_id} load_checkpoint`).toEqual([]);
    }
    expect(real.json.deleted).toEqual({ ...want, streamRecords: 1, schedules: 1 });

    // No index row, lookup row or checkpoint anywhere still names a purged run.
    expect(await rowsNaming(keyspace, doomed)).toEqual([]);
    // Lookup rows of kept runs survived the conditional deletes.
    const lookup = async (cql: string, key: string): Promise<string | null> =>
      ((await c.execute(cql, [key], { prepare: true })).first()?.get('run_id') as string | undefined) ?? null;
    expect(await lookup(`SELECT run_id FROM ${keyspace}.runs_by_idempotency_key WHERE idempotency_key = ?`, 'shared-key')).toBe(dupNew);
    const hookOwner = await lookup(`SELECT run_id FROM ${keyspace}.hooks_by_id WHERE hook_id = ?`, 'hook_approval_1');
    expect(hookOwner !== null && !doomed.has(hookOwner), `hooks_by_id(hook_approval_1) -> ${hookOwner}`).toBe(true);
    expect(await lookup(`SELECT run_id FROM ${keyspace}.hooks_by_id WHERE hook_id = ?`, 'hook_approval_3')).toBeNull();

    // list_runs by status: what it listed before, minus the purged runs.
    for (const status of STATUSES) {
      const listed = (await pyworkflow<{ runs: { run_id: string }[] }>('list-runs', storage, ['--status', status])).runs.map((r) => r.run_id).sort();
      expect(listed, `list_runs(${status})`).toEqual(listedBefore.get(status)!.filter((r) => !doomed.has(r)));
    }
    expect(after.schedules).toEqual({ ...before.schedules, sched_old_deleted: null });
    const subs = (await c.execute(`SELECT step_run_id FROM ${keyspace}.stream_subscriptions WHERE stream_id = 'orders'`)).rows.map((r) => r.get('step_run_id') as string);
    expect(subs.sort()).toEqual(['stream_step_consume_bbbbbbbbbbbb', 'stream_step_consume_cccccccccccc']);

    // A second sweep finds nothing left to do.
    const again = await sweep(storage);
    expect(again.code, again.stderr).toBe(0);
    expect(Object.values(again.json.deleted).every((v) => v === 0), JSON.stringify(again.json.deleted)).toBe(true);
  });

  it("pyworkflow's own delete_old_runs raises on Cassandra and deletes nothing (H1)", async () => {
    const c = await testClient();
    const snapshot = await dumpKeyspace(c, keyspace);
    const out = JSON.parse(
      python(
        [
          'async def main(cfg):',
          '    s = drv.make_storage(cfg); await s.connect()',
          '    try:',
          '        n = await s.delete_old_runs(datetime.now(UTC) - timedelta(days=1))',
          '        print(json.dumps({"raised": False, "deleted": n}))',
          '    except Exception as e:',
          '        print(json.dumps({"raised": True, "type": type(e).__name__, "error": str(e)}))',
          '    finally:',
          '        await s.disconnect()',
          'asyncio.run(main(json.loads(sys.argv[1])))',
        ].join('\n'),
        JSON.stringify(storage),
      ),
    ) as { raised: boolean; type?: string; error?: string };
    expect(out.raised, JSON.stringify(out)).toBe(true);
    expect(out.type).toBe('InvalidRequest');
    expect(out.error).toMatch(/ALLOW FILTERING/);
    expect(await dumpKeyspace(c, keyspace)).toEqual(snapshot);
  });
});

describe('cassandra layouts the backend does not know', () => {
  it('refuses an altered or extended keyspace with nothing deleted, and names what differs', async () => {
    const c = await testClient();
    for (const [change, message] of [
      ['ALTER TABLE %.hooks ADD priority int', /hooks has unexpected column priority/],
      ['CREATE TABLE %.workflow_tags (run_id text PRIMARY KEY, tag text)', /unexpected workflow_tags/],
      ['DROP TABLE %.runs_by_parent', /missing runs_by_parent/],
    ] as const) {
      const keyspace = newTestKeyspaceName('unknown');
      const storage = cassandraStorageConfig(keyspace);
      await pyworkflow('populate', storage, ['--spec', '-'], { runs: [{ status: 'completed', updated_at: new Date(Date.now() - 40 * DAY).toISOString(), hooks: 1 }] });
      await c.execute(change.replace('%', keyspace));
      const snapshot = await dumpKeyspace(c, keyspace);
      const r = await sweep(storage);
      expect(r.code, r.stderr).toBe(1);
      expect(r.json.error?.code).toBe('UNKNOWN_SCHEMA');
      expect(r.json.error?.message).toMatch(message);
      expect(await dumpKeyspace(c, keyspace)).toEqual(snapshot);
    }
  });

  it('names a missing keyspace, and treats the keyspace unmodified pyworkflow leaves (stopped at `token`) as empty', async () => {
    const missing = await sweep(cassandraStorageConfig('pywr_no_such_keyspace'));
    expect(missing.code).toBe(1);
    expect(missing.json.error?.message).toMatch(/keyspace "pywr_no_such_keyspace" does not exist/);

    // pyworkflow as released, without the driver's shim: connect() fails at CREATE TABLE hooks.
    const keyspace = newTestKeyspaceName('broken');
    const storage = cassandraStorageConfig(keyspace);
    await expect(pyworkflow('init', storage, ['--no-shims'])).rejects.toThrow(/token/);
    const r = await sweep(storage);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.schemaVersion).toBe('incomplete (5 of 21 tables)');
  });

  it("creates exactly pyworkflow's schema in the seed", async () => {
    const c = await testClient();
    const theirs = newTestKeyspaceName('theirs');
    const ours = newTestKeyspaceName('ours');
    await pyworkflow('init', cassandraStorageConfig(theirs));
    await createPyworkflowKeyspace(c, ours);
    const schema = async (ks: string): Promise<string[]> =>
      (await c.execute('SELECT table_name, column_name, kind, position, type, clustering_order FROM system_schema.columns WHERE keyspace_name = ?', [ks], { prepare: true })).rows
        .map((r) => JSON.stringify(r.values()))
        .sort();
    expect(await schema(ours)).toEqual(await schema(theirs));
  });
});
