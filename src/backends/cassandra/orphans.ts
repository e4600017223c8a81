// The Cassandra orphan sweep (docs/storage.md H24, semantics in backend.ts at OrphanRequest):
// token-range scans of the partition keys of events, steps, hooks, cancellation_flags and checkpoints
// (`{run_id}:...` keys only), each distinct run_id looked up once in workflow_runs; the ids without a
// row there are orphan groups, purged in batches by orphan-purge.ts.
//
// Lookup tables (hooks_by_token, hooks_by_id, steps_by_id) are cleaned with their group but not scanned:
// pyworkflow's own Cassandra retention never gets to delete anything (H1), and our run purge deletes
// lookup rows before the partitions that lead to them, so no lookup row outlives its group.
// Memory: every run_id found with a workflow_runs row (so each is looked up once), and the groups.

import { CancelledError } from '../../errors.js';
import type { OrphanRequest } from '../backend.js';
import type { CassandraSession } from './connection.js';
import { purgeOrphanGroup, type OrphanCounts } from './orphan-purge.js';
import type { PurgeContext } from './purge.js';
import { mapLimit } from './throttle.js';

/** Scan pages stay small (tombstone thresholds, see candidates.ts). */
const MAX_SCAN_PAGE = 500;
/** Run ids per `IN` lookup of workflow_runs: small multi-partition reads. */
const IN_CHUNK = 50;

export async function sweepCassandraOrphans(ctx: PurgeContext, request: OrphanRequest): Promise<void> {
  const groups = await findOrphanGroups(ctx, request);
  const ids = [...groups.keys()].sort();
  const cutoffMs = request.orphanCutoff.getTime();
  for (let from = 0; from < ids.length; from += request.batchSize) {
    throwIfAborted(request);
    const batch = ids.slice(from, from + request.batchSize);
    const counts: OrphanCounts = { events: 0, steps: 0, hooks: 0, cancellationFlags: 0, checkpoints: 0 };
    try {
      await mapLimit(batch, ctx.concurrency, async (id) => {
        const r = await purgeOrphanGroup(ctx, id, groups.get(id)!, cutoffMs, request.dryRun);
        if (r !== null) for (const k of Object.keys(counts) as (keyof OrphanCounts)[]) counts[k] += r[k];
      });
    } finally {
      // Also when a group failed: the groups that finished are gone and counted (mapLimit waits for them).
      // A group that failed partway is not: its rows' deletes are not tracked one by one.
      request.onBatch(counts);
    }
  }
}

/** Orphan run ids, each with the checkpoint keys (`{run_id}:...`) found for it. */
async function findOrphanGroups(ctx: PurgeContext, request: OrphanRequest): Promise<Map<string, string[]>> {
  const { session, layout } = ctx;
  const t = (name: string): string => session.table(name);
  const withRecord = new Set<string>();
  const orphans = new Map<string, string[]>();
  // [table, statement, the run id (and checkpoint key) of a row]
  const sources: [string, string, (key: string) => string | null][] = [
    ['events', `SELECT DISTINCT run_id AS k FROM ${t('events')}`, (k) => k],
    ['steps', `SELECT DISTINCT run_id AS k FROM ${t('steps')}`, (k) => k],
    ['hooks', `SELECT DISTINCT run_id AS k FROM ${t('hooks')}`, (k) => k],
    ['cancellation_flags', `SELECT run_id AS k FROM ${t('cancellation_flags')}`, (k) => k],
    // Only `{run_id}:{step_id}` belongs to a run; stream-step checkpoints (no `:`) do not (H9).
    ['checkpoints', `SELECT step_run_id AS k FROM ${t('checkpoints')}`, (k) => (k.indexOf(':') > 0 ? k.slice(0, k.indexOf(':')) : null)],
  ];
  const fetchSize = Math.max(1, Math.min(request.batchSize, MAX_SCAN_PAGE));
  for (const [table, cql, owner] of sources) {
    if (!layout.tables.has(table)) continue;
    let state: string | undefined;
    do {
      throwIfAborted(request);
      const page = await session.page(cql, [], fetchSize, state);
      state = page.pageState ?? undefined;
      const rows = page.rows.flatMap((r) => {
        const key = r.get('k') as string;
        const runId = owner(key);
        return runId === null ? [] : [{ key, runId }];
      });
      const unknown = [...new Set(rows.map((r) => r.runId))].filter((id) => !withRecord.has(id) && !orphans.has(id));
      const existing = await existingRuns(session, unknown, ctx.concurrency);
      for (const id of unknown) {
        if (existing.has(id)) withRecord.add(id);
        else orphans.set(id, []);
      }
      if (table === 'checkpoints') for (const r of rows) orphans.get(r.runId)?.push(r.key);
    } while (state);
  }
  return orphans;
}

/** The ids among `runIds` that have a workflow_runs row. */
async function existingRuns(session: CassandraSession, runIds: readonly string[], concurrency: number): Promise<Set<string>> {
  const chunks: string[][] = [];
  for (let i = 0; i < runIds.length; i += IN_CHUNK) chunks.push(runIds.slice(i, i + IN_CHUNK));
  const found = await mapLimit(chunks, concurrency, (c) => session.all(`SELECT run_id FROM ${session.table('workflow_runs')} WHERE run_id IN ?`, [c]));
  return new Set(found.flat().map((r) => r.get('run_id') as string));
}

function throwIfAborted(request: OrphanRequest): void {
  if (request.signal.aborted) throw new CancelledError('stop requested during the orphan sweep');
}
