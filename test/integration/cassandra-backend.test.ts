// Needs: the Cassandra test server (CASSANDRA_* in .test-env/env). What the property
// test cannot reach: lookup rows shared between runs, concurrent sweeps, and runs that come back to
// life while their rows are being deleted (no transactions: the conditional deletes must catch it).
import { afterAll, describe, expect, it } from 'vitest';
import type { CassandraConfig } from '../../src/backends/cassandra/config.js';
import { CassandraSession, type ConditionalResult, type Row } from '../../src/backends/cassandra/connection.js';
import { detectCassandraLayout } from '../../src/backends/cassandra/layout.js';
import { purgeCassandraBatch } from '../../src/backends/cassandra/purge.js';
import { readRun } from '../../src/backends/cassandra/runs.js';
import type { RunState } from '../../src/backends/backend.js';
import { confirmBatch } from '../../src/engine/selection.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';
import { sweep } from '../../src/engine/sweep.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { emptyDataset, type Dataset, type RunRecord } from '../../src/model/dataset.js';
import { generateDataset } from '../../src/model/generate.js';
import { expectedAfterSweep } from '../support/oracle.js';
import { raceGate } from '../support/race.js';
import { cassandraFixture, dropCassandraTestKeyspaces, testClient } from '../support/stores/cassandra-store.js';
import type { StoreHandle } from '../support/stores/store-fixture.js';

afterAll(dropCassandraTestKeyspaces);

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = 86_400_000;
const CUTOFF = new Date(NOW.getTime() - 10 * DAY);
const fixture = cassandraFixture();

function run(run_id: string, status: string, daysAgo: number, extra: Partial<RunRecord> = {}): RunRecord {
  const updated = new Date(NOW.getTime() - daysAgo * DAY);
  return {
    run_id, workflow_name: 'wf', status, created_at: new Date(updated.getTime() - 3_600_000), updated_at: updated, started_at: null,
    completed_at: null, idempotency_key: null, parent_run_id: null, nesting_depth: 0, continued_from_run_id: null, continued_to_run_id: null,
    input_args: '[]', input_kwargs: '{}', result: null, error: null, context: '{}', ...extra,
  };
}

function withHook(d: Dataset, runId: string, hookId: string): void {
  d.hooks.push({ run_id: runId, hook_id: hookId, token: `${runId}:${hookId}`, status: 'received', created_at: NOW });
}

const options = (dryRun: boolean): Parameters<typeof sweep>[1] => ({
  cutoff: CUTOFF, statuses: TERMINAL_STATUSES, batchSize: 10, dryRun, housekeeping: true, lockWaitMs: 1000,
  signal: new AbortController().signal, now: () => NOW, logger: silentLogger,
});

async function lookup(store: StoreHandle, table: string, key: string, value: string): Promise<string | null> {
  const ks = store.storageConfig.keyspace as string;
  const row = (await (await testClient()).execute(`SELECT run_id FROM ${ks}.${table} WHERE ${key} = ?`, [value], { prepare: true })).first();
  return (row?.get('run_id') as string | undefined) ?? null;
}

describe('cassandra lookup rows shared between runs', () => {
  it('deletes a hooks_by_id / idempotency row only while it names the purged run', async () => {
    const d = emptyDataset();
    // Seeded in this order, so each lookup row names the last of its writers.
    d.runs.push(
      run('run_0000000000000a01', 'completed', 30, { idempotency_key: 'k1' }),
      run('run_0000000000000a02', 'completed', 1, { idempotency_key: 'k1' }), // k1 -> young a02
      run('run_0000000000000a04', 'completed', 2, { idempotency_key: 'k2' }),
      run('run_0000000000000a03', 'failed', 30, { idempotency_key: 'k2' }), // k2 -> old a03
    );
    withHook(d, 'run_0000000000000a02', 'hook_approval_1');
    withHook(d, 'run_0000000000000a03', 'hook_approval_1'); // hook_approval_1 -> old a03
    withHook(d, 'run_0000000000000a03', 'hook_approval_2');
    withHook(d, 'run_0000000000000a04', 'hook_approval_2'); // hook_approval_2 -> young a04
    const store = await fixture.create(d);
    try {
      expect(await lookup(store, 'hooks_by_id', 'hook_id', 'hook_approval_1')).toBe('run_0000000000000a03');
      expect(await lookup(store, 'runs_by_idempotency_key', 'idempotency_key', 'k2')).toBe('run_0000000000000a03');
      const report = await sweep(store.backend(), options(false));
      expect(report.outcome, report.error?.message).toBe('succeeded');
      expect(report.deleted.runs).toBe(2);
      expect(await lookup(store, 'runs_by_idempotency_key', 'idempotency_key', 'k1')).toBe('run_0000000000000a02');
      expect(await lookup(store, 'runs_by_idempotency_key', 'idempotency_key', 'k2')).toBeNull();
      expect(await lookup(store, 'hooks_by_id', 'hook_id', 'hook_approval_1')).toBeNull();
      expect(await lookup(store, 'hooks_by_id', 'hook_id', 'hook_approval_2')).toBe('run_0000000000000a04');
      expect(await lookup(store, 'hooks_by_token', '"token"', 'run_0000000000000a02:hook_approval_1')).toBe('run_0000000000000a02');
      expect(await lookup(store, 'hooks_by_token', '"token"', 'run_0000000000000a03:hook_approval_1')).toBeNull();
      expect(await lookup(store, 'hooks_by_token', '"token"', 'run_0000000000000a03:hook_approval_2')).toBeNull();
    } finally {
      await store.destroy();
    }
  });
});

describe('two cassandra sweeps at once', () => {
  it('end in the oracle state, count every run exactly once between them and no kind twice', async () => {
    const data = fixture.adapt(generateDataset({ seed: 5, runs: 300, now: NOW, spanDays: 30, eventsPerRun: 3, edges: [CUTOFF] }));
    const expected = expectedAfterSweep(data, { cutoff: CUTOFF, statuses: TERMINAL_STATUSES, housekeeping: true });
    const store = await fixture.create(data);
    const want = await fixture.create(expected.remaining);
    try {
      // Both start deleting only when both hold their first candidates (support/race.ts).
      const gated = raceGate(2);
      const [a, b] = await Promise.all([sweep(gated(store.backend()), { ...options(false), batchSize: 7 }), sweep(gated(store.backend()), { ...options(false), batchSize: 7 })]);
      const seen = JSON.stringify([a.deleted, b.deleted]);
      expect([a.outcome, b.outcome], `${a.error?.message} ${b.error?.message}`).toEqual(['succeeded', 'succeeded']);
      expect(await store.dump()).toEqual(await want.dump());
      // Each run record is deleted by one conditional delete, so exactly one sweep counts it.
      expect(a.deleted.runs + b.deleted.runs, seen).toBe(expected.counts.runs);
      for (const [kind, n] of Object.entries(expected.counts) as [keyof typeof a.deleted, number][]) {
        expect(a.deleted[kind] + b.deleted[kind], `${kind}: ${seen}`).toBeLessThanOrEqual(n);
      }
    } finally {
      await store.destroy();
      await want.destroy();
    }
  });
});

/** A session that lets a "live pyworkflow writer" update one run at a chosen moment of the purge. */
class MeddlingSession extends CassandraSession {
  constructor(
    config: ConstructorParameters<typeof CassandraSession>[0],
    private readonly victim: string,
    private readonly when: 'reread' | 'record',
  ) {
    super(config);
  }

  private runReads = 0;

  override async one(cql: string, params: readonly unknown[]): Promise<Row | null> {
    // The batch's re-read is the first read of the run, the per-run re-read the second.
    if (this.when === 'reread' && cql.includes('FROM') && cql.includes('.workflow_runs WHERE run_id') && params[0] === this.victim && ++this.runReads === 2) {
      await this.revive();
    }
    return super.one(cql, params);
  }

  override async conditional(cql: string, params: readonly unknown[]): Promise<ConditionalResult> {
    if (this.when === 'record' && cql.includes('.workflow_runs WHERE run_id') && params[0] === this.victim) await this.revive();
    return super.conditional(cql, params);
  }

  /** What recovery does to an interrupted run: claims it back to running. */
  private async revive(): Promise<void> {
    await this.write(`UPDATE ${this.table('workflow_runs')} SET status = 'running', updated_at = ? WHERE run_id = ?`, [NOW, this.victim]);
  }
}

describe('a run that comes back to life during its purge', () => {
  for (const when of ['reread', 'record'] as const) {
    it(`is kept with its parent, and not counted (changed before the ${when === 'reread' ? 'per-run re-read' : 'run record delete'})`, async () => {
      const d = emptyDataset();
      d.runs.push(
        run('run_00000000000b0001', 'completed', 30),
        run('run_00000000000b0002', 'interrupted', 30, { parent_run_id: 'run_00000000000b0001', nesting_depth: 1 }),
        run('run_00000000000b0003', 'failed', 30),
      );
      for (const r of d.runs) d.events.push({ event_id: `evt_${r.run_id}`, run_id: r.run_id, sequence: 0, type: 'workflow.started', timestamp: r.created_at, data: {}, step_id: null });
      const store = await fixture.create(d);
      const session = new MeddlingSession(store.storageConfig as unknown as CassandraConfig, 'run_00000000000b0002', when);
      await session.open();
      try {
        const layout = await detectCassandraLayout(session);
        const states: RunState[] = d.runs.map((r) => ({ runId: r.run_id, status: r.status, updatedAt: r.updated_at, parentRunId: r.parent_run_id }));
        const planned = [states[1]!, states[0]!, states[2]!];
        const selection = { statuses: new Set<string>(TERMINAL_STATUSES), cutoff: CUTOFF };
        const logged: string[] = [];
        const logger = createLogger({ level: 'debug', write: (l) => logged.push(l) });
        const result = await purgeCassandraBatch(
          { session, layout, concurrency: 4, logger },
          { runs: planned, confirm: (current, outside) => confirmBatch(planned, current, new Set(outside.map((o) => o.parentRunId!)), selection) },
          false,
        );
        expect(result.purgedRunIds).toEqual(['run_00000000000b0003']);
        expect(result.counts).toEqual({ runs: 1, events: 1, steps: 0, hooks: 0, cancellationFlags: 0, checkpoints: 0 });
        expect((await readRun(session, 'run_00000000000b0002'))?.status).toBe('running');
        expect(await readRun(session, 'run_00000000000b0001'), 'the parent of a revived child stays').not.toBeNull();
        expect(logged.join('\n')).toMatch(when === 'reread' ? /changed since it was selected/ : /changed while its related rows were being deleted/);
      } finally {
        await session.close();
        await store.destroy();
      }
    });
  }
});
