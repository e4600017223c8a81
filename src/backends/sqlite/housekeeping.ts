// Stream and schedule housekeeping for the SQLite store (rules in src/engine/housekeeping.ts), in
// short IMMEDIATE transactions. SQL narrows by text comparison; the exact age test runs on parsed
// instants so odd timestamp text never purges something younger than the cutoff.

import type Database from 'better-sqlite3';
import { CancelledError, backendError } from '../../errors.js';
import { DELETED_SCHEDULE_STATUS, TERMINAL_SUBSCRIPTION_STATUSES } from '../../engine/housekeeping.js';
import type { RecordKind } from '../../engine/records.js';
import type { HousekeepingRequest } from '../backend.js';
import { COARSE_MARGIN_MS, formatPythonUtc, parsePythonTimestamp } from '../python-time.js';
import type { SqliteLayout } from './layout.js';

interface Rule {
  table: string;
  kind: RecordKind;
  /** Selects `rowid AS rid, <time> AS t[, signal_id]` for rows the rule may purge; params: after, coarse. */
  select: string;
  /** Signals: remember ids so a dry run counts their acknowledgments as going too. */
  tracksSignalIds?: boolean;
  /** Acknowledgments: the row's signal must be gone (or be going in this dry run). */
  needsSignalGone?: boolean;
}

export async function runSqliteHousekeeping(db: Database.Database, layout: SqliteLayout, request: HousekeepingRequest, target: string): Promise<void> {
  const coarse = formatPythonUtc(new Date(request.cutoff.getTime() + COARSE_MARGIN_MS));
  const rules: Rule[] = [];
  if (layout.tables.has('signals')) {
    rules.push({
      table: 'signals',
      kind: 'streamRecords',
      // Never the newest signal of a stream run: pyworkflow numbers the next one max(sequence)+1 (H11).
      select: `SELECT s.rowid AS rid, s.published_at AS t, s.signal_id AS signal_id FROM signals s
        WHERE s.rowid > ? AND s.published_at < ?
          AND s.sequence < (SELECT MAX(x.sequence) FROM signals x WHERE x.stream_id = s.stream_id AND x.stream_run_id = s.stream_run_id)`,
      tracksSignalIds: true,
    });
  }
  if (layout.tables.has('signal_acknowledgments')) {
    rules.push({
      table: 'signal_acknowledgments',
      kind: 'streamRecords',
      select: `SELECT a.rowid AS rid, a.acknowledged_at AS t, a.signal_id AS signal_id FROM signal_acknowledgments a
        WHERE a.rowid > ? AND a.acknowledged_at < ?`,
      needsSignalGone: true,
    });
  }
  if (layout.tables.has('stream_subscriptions')) {
    const statuses = TERMINAL_SUBSCRIPTION_STATUSES.map((s) => `'${s}'`).join(', ');
    rules.push({
      table: 'stream_subscriptions',
      kind: 'streamRecords',
      select: `SELECT rowid AS rid, created_at AS t FROM stream_subscriptions WHERE rowid > ? AND created_at < ? AND status IN (${statuses})`,
    });
  }
  if (layout.tables.has('schedules')) {
    const when = layout.hasScheduleDeletedAt ? 'COALESCE(deleted_at, updated_at)' : 'updated_at';
    rules.push({
      table: 'schedules',
      kind: 'schedules',
      select: `SELECT rowid AS rid, ${when} AS t FROM schedules WHERE rowid > ? AND ${when} < ? AND status = '${DELETED_SCHEDULE_STATUS}'`,
    });
  }

  const goingSignals = new Set<string>();
  const signalExists = layout.tables.has('signals') ? db.prepare('SELECT 1 FROM signals WHERE signal_id = ? LIMIT 1') : null;
  for (const rule of rules) {
    const select = db.prepare(`${rule.select} ORDER BY rid LIMIT ?`);
    const remove = db.prepare(`DELETE FROM ${rule.table} WHERE rowid IN (SELECT value FROM json_each(?))`);
    let after = 0;
    for (;;) {
      // better-sqlite3 is synchronous: a turn of the event loop between transactions lets a stop
      // request (SIGTERM, --max-duration) be seen at all.
      await new Promise((resolve) => setImmediate(resolve));
      if (request.signal.aborted) throw new CancelledError('stop requested during housekeeping');
      const batch = db.transaction((): { n: number; last: number | null } => {
        const rows = select.all(after, coarse, request.batchSize) as { rid: number; t: unknown; signal_id?: string }[];
        if (rows.length === 0) return { n: 0, last: null };
        const doomed = rows.filter((r) => {
          const t = parsePythonTimestamp(r.t);
          if (t === null || t.getTime() >= request.cutoff.getTime()) return false;
          if (rule.needsSignalGone && r.signal_id !== undefined) {
            const present = signalExists?.get(r.signal_id) !== undefined;
            return !present || (request.dryRun && goingSignals.has(r.signal_id));
          }
          return true;
        });
        if (rule.tracksSignalIds && request.dryRun) for (const r of doomed) goingSignals.add(r.signal_id!);
        const n = request.dryRun ? doomed.length : remove.run(JSON.stringify(doomed.map((r) => r.rid))).changes;
        return { n, last: rows[rows.length - 1]!.rid };
      });
      let result: { n: number; last: number | null };
      try {
        result = request.dryRun ? batch.deferred() : batch.immediate();
      } catch (err) {
        throw backendError(target, `housekeeping of ${rule.table}`, err);
      }
      if (result.last === null) break;
      after = result.last;
      if (result.n > 0) request.onBatch({ [rule.kind]: result.n });
    }
  }
}
