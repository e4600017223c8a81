// Stream and schedule housekeeping for the Cassandra store (rules in src/engine/housekeeping.ts, docs/storage.md#housekeeping).
// pyworkflow's own version uses ALLOW FILTERING scans, an IN on a non-key column and an uppercase
// 'DELETED' (H1, H10, H19); here every table is read by a paged token-range scan with small pages, and
// each row goes with a conditional delete so that of two concurrent sweeps only one counts it.

import {
  DELETED_SCHEDULE_STATUS, isPurgeableAcknowledgment, isPurgeableSchedule, isPurgeableSignal, isPurgeableSubscription,
} from '../../engine/housekeeping.js';
import type { RecordKind } from '../../engine/records.js';
import { CancelledError } from '../../errors.js';
import type { HousekeepingRequest } from '../backend.js';
import { hourBucket } from './buckets.js';
import type { CassandraSession, Row } from './connection.js';
import type { PurgeContext } from './purge.js';
import { mapLimit } from './throttle.js';

/** Scan pages stay small whatever the batch size: each page's rows are re-checked and deleted before the next is read. */
const MAX_SCAN_PAGE = 500;
const SCHEDULE_STATUSES = ['active', 'paused', DELETED_SCHEDULE_STATUS];

export async function housekeepCassandra(ctx: PurgeContext, request: HousekeepingRequest): Promise<void> {
  const tables = ctx.layout.tables;
  // The acknowledgment rule needs the signals that stay; a signal is looked up by id nowhere in Cassandra,
  // so the signal scan remembers them (memory grows with the signals kept, not with the table).
  const keptSignals = new Set<string>();
  if (tables.has('signals')) await housekeepSignals(ctx, request, keptSignals);
  if (tables.has('signal_acknowledgments')) {
    await housekeepRows(ctx, request, 'streamRecords', {
      select: `SELECT signal_id, step_run_id, acknowledged_at FROM ${ctx.session.table('signal_acknowledgments')}`,
      doomed: (r) => isPurgeableAcknowledgment(
        { signal_id: r.get('signal_id') as string, acknowledged_at: r.get('acknowledged_at') as Date },
        (id) => keptSignals.has(id),
        request.cutoff,
      ),
      remove: (r) => ctx.session.conditional(
        `DELETE FROM ${ctx.session.table('signal_acknowledgments')} WHERE signal_id = ? AND step_run_id = ? IF EXISTS`,
        [r.get('signal_id'), r.get('step_run_id')],
      ),
    });
  }
  if (tables.has('stream_subscriptions')) {
    await housekeepRows(ctx, request, 'streamRecords', {
      select: `SELECT stream_id, step_run_id, status, created_at FROM ${ctx.session.table('stream_subscriptions')}`,
      doomed: (r) => isPurgeableSubscription({ status: (r.get('status') as string | null) ?? '', created_at: r.get('created_at') as Date }, request.cutoff),
      remove: (r) => ctx.session.conditional(
        `DELETE FROM ${ctx.session.table('stream_subscriptions')} WHERE stream_id = ? AND step_run_id = ? IF status = ?`,
        [r.get('stream_id'), r.get('step_run_id'), r.get('status')],
      ),
    });
  }
  if (tables.has('schedules')) {
    await housekeepRows(ctx, request, 'schedules', {
      select: `SELECT schedule_id, workflow_name, status, updated_at, next_run_time FROM ${ctx.session.table('schedules')}`,
      doomed: (r) => {
        const updated = r.get('updated_at') as Date | null;
        // Cassandra schedules have no deleted_at (H10): the soft delete is dated by updated_at.
        return updated !== null && isPurgeableSchedule({ status: (r.get('status') as string | null) ?? '', deleted_at: null, updated_at: updated }, request.cutoff);
      },
      remove: (r) => removeSchedule(ctx.session, r),
    });
  }
}

interface RowRule {
  select: string;
  doomed: (row: Row) => boolean;
  /** Deletes the row; `applied` says whether this sweep deleted it (and so counts it). */
  remove: (row: Row) => Promise<{ applied: boolean }>;
}

async function housekeepRows(ctx: PurgeContext, request: HousekeepingRequest, kind: RecordKind, rule: RowRule): Promise<void> {
  await scan(ctx.session, rule.select, request, async (rows) => {
    const doomed = rows.filter((r) => rule.doomed(r));
    await settle(ctx, request, kind, doomed, rule.remove);
  });
}

/**
 * Signals: rows of one (stream_id, stream_run_id) partition come back together in sequence order, so the
 * row seen before the next row of its partition is never the newest (H11), and the last row of each
 * partition is. Only the newest needs holding back, across pages if need be.
 */
async function housekeepSignals(ctx: PurgeContext, request: HousekeepingRequest, kept: Set<string>): Promise<void> {
  const { session } = ctx;
  let prev: Row | null = null;
  const samePartition = (a: Row, b: Row): boolean => a.get('stream_id') === b.get('stream_id') && a.get('stream_run_id') === b.get('stream_run_id');
  const asSignal = (r: Row): { stream_id: string; stream_run_id: string; sequence: number; published_at: Date } => ({
    stream_id: r.get('stream_id') as string,
    stream_run_id: r.get('stream_run_id') as string,
    sequence: r.get('sequence') as number,
    published_at: r.get('published_at') as Date,
  });
  const remove = (r: Row): Promise<{ applied: boolean }> =>
    session.conditional(`DELETE FROM ${session.table('signals')} WHERE stream_id = ? AND stream_run_id = ? AND sequence = ? IF EXISTS`, [
      r.get('stream_id'), r.get('stream_run_id'), r.get('sequence'),
    ]);
  await scan(session, `SELECT stream_id, stream_run_id, sequence, signal_id, published_at FROM ${session.table('signals')}`, request, async (rows) => {
    const doomed: Row[] = [];
    for (const row of rows) {
      if (prev !== null) {
        // The newest sequence of prev's partition is at least row's when they share it, else prev's own.
        const newest = samePartition(prev, row) ? (row.get('sequence') as number) : (prev.get('sequence') as number);
        if (isPurgeableSignal(asSignal(prev), () => newest, request.cutoff)) doomed.push(prev);
        else kept.add(prev.get('signal_id') as string);
      }
      prev = row;
    }
    await settle(ctx, request, 'streamRecords', doomed, remove);
  });
  if (prev !== null) kept.add((prev as Row).get('signal_id') as string);
}

async function removeSchedule(session: CassandraSession, r: Row): Promise<{ applied: boolean }> {
  const id = r.get('schedule_id') as string;
  const workflowName = r.get('workflow_name') as string | null;
  const next = r.get('next_run_time') as Date | null;
  const t = (name: string): string => session.table(name);
  // Index rows first, the schedules row (by which a re-run finds them) last. update_schedule moves the
  // schedules_by_status row on every status change; read which exist rather than leave a tombstone in
  // the busy 'active' partition for nothing.
  const statusRows = await session.all(`SELECT status FROM ${t('schedules_by_status')} WHERE status IN ? AND schedule_id = ?`, [SCHEDULE_STATUSES, id]);
  await Promise.all([
    ...statusRows.map((s) => session.write(`DELETE FROM ${t('schedules_by_status')} WHERE status = ? AND schedule_id = ?`, [s.get('status'), id])),
    workflowName !== null ? session.write(`DELETE FROM ${t('schedules_by_workflow')} WHERE workflow_name = ? AND schedule_id = ?`, [workflowName, id]) : null,
    // delete_schedule leaves the due_schedules row of the last next_run_time behind (next_run_time is unchanged).
    next !== null ? session.write(`DELETE FROM ${t('due_schedules')} WHERE hour_bucket = ? AND next_run_time = ? AND schedule_id = ?`, [hourBucket(next), next, id]) : null,
  ]);
  return session.conditional(`DELETE FROM ${t('schedules')} WHERE schedule_id = ? IF status = ? AND updated_at = ?`, [id, r.get('status'), r.get('updated_at')]);
}

/** Deletes (or, in a dry run, counts) one page's doomed rows and reports what this sweep removed. */
async function settle(
  ctx: PurgeContext, request: HousekeepingRequest, kind: RecordKind, doomed: readonly Row[], remove: (r: Row) => Promise<{ applied: boolean }>,
): Promise<void> {
  if (doomed.length === 0) return;
  let n = request.dryRun ? doomed.length : 0;
  try {
    if (!request.dryRun) {
      await mapLimit(doomed, ctx.concurrency, async (r) => {
        if ((await remove(r)).applied) n += 1;
      });
    }
  } finally {
    // Also when a delete failed: mapLimit lets the others in flight finish, and those that went are counted.
    if (n > 0) request.onBatch({ [kind]: n });
  }
}

async function scan(session: CassandraSession, cql: string, request: HousekeepingRequest, onPage: (rows: Row[]) => Promise<void>): Promise<void> {
  const fetchSize = Math.max(1, Math.min(request.batchSize, MAX_SCAN_PAGE));
  let state: string | undefined;
  do {
    if (request.signal.aborted) throw new CancelledError('stop requested during housekeeping');
    const page = await session.page(cql, [], fetchSize, state);
    state = page.pageState ?? undefined;
    await onPage(page.rows);
  } while (state);
}
