// The orphan sweep of a SQLite store (`--orphans`, semantics at OrphanRequest in backend.ts): per-run
// rows whose run record is gone. With pyworkflow's foreign keys these are mostly checkpoints (no FK,
// and pyworkflow's own retention never deletes them, H9), plus rows written with enforcement off.

import type Database from 'better-sqlite3';
import { CancelledError, backendError } from '../../errors.js';
import type { KindCounts } from '../../engine/records.js';
import type { OrphanRequest } from '../backend.js';
import { parsePythonTimestamp } from '../python-time.js';
import type { SqliteLayout } from './layout.js';

/** Per-run tables, the column naming the run, the kind they count as, and their timestamp columns. */
const PER_RUN: readonly { table: string; kind: keyof KindCounts; times: string[] }[] = [
  { table: 'events', kind: 'events', times: ['timestamp'] },
  { table: 'steps', kind: 'steps', times: ['created_at', 'started_at', 'completed_at'] },
  { table: 'hooks', kind: 'hooks', times: ['created_at', 'received_at'] },
  { table: 'cancellation_flags', kind: 'cancellationFlags', times: ['created_at'] },
];

// The run id of a checkpoint key `{run_id}:{step_id}`; keys without ':' (stream steps) belong to no run.
const CHECKPOINT_RUN = "substr(step_run_id, 1, instr(step_run_id, ':') - 1)";

export async function runSqliteOrphanSweep(db: Database.Database, layout: SqliteLayout, request: OrphanRequest, target: string): Promise<void> {
  const tables = PER_RUN.filter((t) => layout.tables.has(t.table));
  const checkpoints = layout.tables.has('checkpoints');
  const sources = [
    ...tables.map((t) => `SELECT DISTINCT run_id AS rid FROM ${t.table}`),
    ...(checkpoints ? [`SELECT DISTINCT ${CHECKPOINT_RUN} AS rid FROM checkpoints WHERE instr(step_run_id, ':') > 1`] : []),
  ];
  if (sources.length === 0) return;
  // One pass over the run-id indexes: candidate groups are run ids with data but no run record.
  const groups = (
    db.prepare(`SELECT rid FROM (${sources.join(' UNION ')}) WHERE rid NOT IN (SELECT run_id FROM workflow_runs) ORDER BY rid`).all() as { rid: string }[]
  ).map((r) => r.rid);

  const hasRun = db.prepare('SELECT 1 FROM workflow_runs WHERE run_id = ?');
  const timesOf = tables.map((t) => ({ ...t, stmt: db.prepare(`SELECT ${t.times.join(', ')} FROM ${t.table} WHERE run_id = ?`) }));
  const range = 'step_run_id >= ? AND step_run_id < ?'; // the exact prefix `{run_id}:` as a key range
  const checkpointTimes = checkpoints ? db.prepare(`SELECT created_at, updated_at FROM checkpoints WHERE ${range}`) : null;
  const deleteRows = tables.map((t) => ({ ...t, stmt: db.prepare(`DELETE FROM ${t.table} WHERE run_id = ?`) }));
  const deleteCheckpoints = checkpoints ? db.prepare(`DELETE FROM checkpoints WHERE ${range}`) : null;
  const cutoff = request.orphanCutoff.getTime();

  const oldEnough = (rows: Record<string, unknown>[]): { ok: boolean; n: number } => {
    for (const row of rows) {
      for (const value of Object.values(row)) {
        if (value === null || value === undefined) continue;
        const t = parsePythonTimestamp(value);
        if (t === null || t.getTime() >= cutoff) return { ok: false, n: rows.length };
      }
    }
    return { ok: true, n: rows.length };
  };

  for (let i = 0; i < groups.length; i += request.batchSize) {
    // A turn of the event loop between transactions (better-sqlite3 is synchronous), so a stop request is seen.
    await new Promise((resolve) => setImmediate(resolve));
    if (request.signal.aborted) throw new CancelledError('stop requested during the orphan sweep');
    const batch = groups.slice(i, i + request.batchSize);
    const work = db.transaction((): Partial<KindCounts> => {
      const counts: Partial<KindCounts> = {};
      for (const runId of batch) {
        // Re-checked inside the write transaction: a run record that appeared keeps its data.
        if (hasRun.get(runId) !== undefined) continue;
        const found: { kind: keyof KindCounts; n: number }[] = [];
        let ok = true;
        for (const t of timesOf) {
          const r = oldEnough(t.stmt.all(runId) as Record<string, unknown>[]);
          ok &&= r.ok;
          found.push({ kind: t.kind, n: r.n });
        }
        const lo = `${runId}:`;
        const hi = `${runId};`;
        if (checkpointTimes) {
          const r = oldEnough(checkpointTimes.all(lo, hi) as Record<string, unknown>[]);
          ok &&= r.ok;
          found.push({ kind: 'checkpoints', n: r.n });
        }
        if (!ok) continue;
        if (request.dryRun) {
          for (const f of found) counts[f.kind] = (counts[f.kind] ?? 0) + f.n;
          continue;
        }
        for (const t of deleteRows) counts[t.kind] = (counts[t.kind] ?? 0) + t.stmt.run(runId).changes;
        if (deleteCheckpoints) counts.checkpoints = (counts.checkpoints ?? 0) + deleteCheckpoints.run(lo, hi).changes;
      }
      return counts;
    });
    let counts: Partial<KindCounts>;
    try {
      counts = request.dryRun ? work.deferred() : work.immediate();
    } catch (err) {
      throw backendError(target, 'the orphan sweep', err);
    }
    request.onBatch(counts);
  }
}
