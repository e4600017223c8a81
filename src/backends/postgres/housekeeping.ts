// Stream and schedule housekeeping for PostgreSQL/Citus, the rules of src/engine/housekeeping.ts in
// SQL: keyset pages over each table's primary key, one short transaction per page, deletes by literal
// key arrays that repeat the rule's predicate (so a key matched twice can never widen what goes), and
// counts from the rows each statement removed. Acknowledgments go only once their signal is gone.

import type pg from 'pg';
import { CancelledError } from '../../errors.js';
import { DELETED_SCHEDULE_STATUS, TERMINAL_SUBSCRIPTION_STATUSES } from '../../engine/housekeeping.js';
import type { RecordKind } from '../../engine/records.js';
import type { Logger } from '../../log.js';
import type { HousekeepingRequest } from '../backend.js';
import type { PostgresLayout } from './layout.js';
import { inTransaction } from './transaction.js';

interface KeyColumn {
  name: string;
  type: 'text' | 'int';
}

interface Rule {
  table: string;
  kind: RecordKind;
  key: KeyColumn[];
  /** The rule over alias `t`; $1 is the cutoff. */
  predicate: string;
  /** The rule as the DELETE repeats it (no self-referencing subquery: Citus routes plain predicates only). */
  deletePredicate: string;
  /** Key columns the DELETE names by array (a superset match is safe: the predicate is repeated). */
  deleteBy: string[];
  /** Extra column read per row. */
  extra?: string;
}

/** A signal is the newest of its stream run when no later sequence exists there (H11). */
const NOT_NEWEST = `t.sequence < (SELECT max(x.sequence) FROM signals x WHERE x.stream_id = t.stream_id AND x.stream_run_id = t.stream_run_id)`;

function rulesFor(layout: PostgresLayout): Rule[] {
  const has = (t: string): boolean => layout.tables.has(t);
  const rules: Rule[] = [];
  if (has('signals')) {
    rules.push({
      table: 'signals',
      kind: 'streamRecords',
      key: [{ name: 'stream_id', type: 'text' }, { name: 'stream_run_id', type: 'text' }, { name: 'sequence', type: 'int' }],
      predicate: `t.published_at < $1 AND ${NOT_NEWEST}`,
      // Newest-ness only moves on: a signal that was not the newest when selected never becomes it.
      deletePredicate: 'published_at < $1',
      deleteBy: ['signal_id', 'stream_run_id'],
      extra: 'signal_id',
    });
  }
  if (has('signal_acknowledgments')) {
    rules.push({
      table: 'signal_acknowledgments',
      kind: 'streamRecords',
      key: [{ name: 'signal_id', type: 'text' }, { name: 'step_run_id', type: 'text' }],
      predicate: 't.acknowledged_at < $1',
      // Every old acknowledgment of a signal that is gone may go: the ids passed are checked gone.
      deletePredicate: 'acknowledged_at < $1',
      deleteBy: ['signal_id'],
    });
  }
  if (has('stream_subscriptions')) {
    const statuses = TERMINAL_SUBSCRIPTION_STATUSES.map((s) => `'${s}'`).join(', ');
    rules.push({
      table: 'stream_subscriptions',
      kind: 'streamRecords',
      key: [{ name: 'stream_id', type: 'text' }, { name: 'step_run_id', type: 'text' }],
      predicate: `t.status IN (${statuses}) AND t.created_at < $1`,
      deletePredicate: `status IN (${statuses}) AND created_at < $1`,
      deleteBy: ['stream_id', 'step_run_id'],
    });
  }
  if (has('scheduled_signals')) {
    rules.push({
      table: 'scheduled_signals',
      kind: 'streamRecords',
      key: [{ name: 'id', type: 'text' }],
      predicate: 't.delivered AND t.created_at < $1',
      deletePredicate: 'delivered AND created_at < $1',
      deleteBy: ['id'],
    });
  }
  if (has('schedules')) {
    const when = layout.columns.get('schedules')?.has('deleted_at') ? 'COALESCE(deleted_at, updated_at)' : 'updated_at';
    rules.push({
      table: 'schedules',
      kind: 'schedules',
      key: [{ name: 'schedule_id', type: 'text' }],
      predicate: `t.status = '${DELETED_SCHEDULE_STATUS}' AND ${when.replace(/(deleted_at|updated_at)/g, 't.$1')} < $1`,
      deletePredicate: `status = '${DELETED_SCHEDULE_STATUS}' AND ${when} < $1`,
      deleteBy: ['schedule_id'],
    });
  }
  return rules;
}

type Row = Record<string, string | number>;

export async function runPostgresHousekeeping(client: pg.Client, layout: PostgresLayout, request: HousekeepingRequest, logger: Logger): Promise<void> {
  const cutoff = request.cutoff.toISOString();
  for (const rule of rulesFor(layout)) {
    const keys = rule.key.map((k) => k.name);
    const select = (first: boolean): string => {
      const cursor = first ? '' : `(${keys.map((k) => `t.${k}`).join(', ')}) > (${rule.key.map((k, i) => `$${i + 3}::${k.type}`).join(', ')}) AND `;
      return `SELECT ${[...keys, ...(rule.extra ? [rule.extra] : [])].map((k) => `t.${k}`).join(', ')} FROM ${rule.table} t
               WHERE ${cursor}${rule.predicate} ORDER BY ${keys.map((k) => `t.${k}`).join(', ')} LIMIT $2`;
    };
    let after: Row | null = null;
    for (;;) {
      if (request.signal.aborted) throw new CancelledError('stop requested during housekeeping');
      const cursorValues: unknown[] = after === null ? [] : keys.map((k) => after![k]);
      const page = await inTransaction(client, { what: `housekeeping ${rule.table}`, readOnly: request.dryRun, logger }, async () => {
        const rows = (await client.query<Row>({ text: select(after === null), values: [cutoff, request.batchSize, ...cursorValues] })).rows;
        if (rows.length === 0) return null;
        let doomed = rows;
        if (rule.table === 'signal_acknowledgments') doomed = await withoutLiveSignal(client, layout, rows, cutoff, request.dryRun);
        let n = doomed.length;
        if (!request.dryRun && doomed.length > 0) {
          const by = rule.deleteBy.map((col, i) => `${col} = ANY($${i + 2}::${rule.key.find((k) => k.name === col)?.type ?? 'text'}[])`);
          const values = rule.deleteBy.map((col) => [...new Set(doomed.map((r) => r[col]))]);
          const res = await client.query({ text: `DELETE FROM ${rule.table} WHERE ${by.join(' AND ')} AND ${rule.deletePredicate}`, values: [cutoff, ...values] });
          n = res.rowCount ?? 0;
        }
        return { n, last: rows[rows.length - 1]! };
      });
      if (page === null) break;
      after = page.last;
      if (page.n > 0) request.onBatch({ [rule.kind]: page.n });
    }
  }
}

/**
 * Drops acknowledgments whose signal remains. In a real sweep signals were purged first, so a signal
 * that still exists remains; a dry run deleted nothing and asks whether the signal would remain.
 */
async function withoutLiveSignal(client: pg.Client, layout: PostgresLayout, rows: Row[], cutoff: string, dryRun: boolean): Promise<Row[]> {
  if (!layout.tables.has('signals')) return rows;
  const ids = [...new Set(rows.map((r) => String(r.signal_id)))];
  const wouldGo = dryRun ? ` AND NOT (t.published_at < $2 AND ${NOT_NEWEST})` : '';
  const live = await client.query<{ signal_id: string }>({
    text: `SELECT DISTINCT t.signal_id FROM signals t WHERE t.signal_id = ANY($1::text[])${wouldGo}`,
    values: dryRun ? [ids, cutoff] : [ids],
  });
  const remaining = new Set(live.rows.map((r) => r.signal_id));
  return rows.filter((r) => !remaining.has(String(r.signal_id)));
}
