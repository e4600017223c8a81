// Stream and schedule housekeeping for MySQL/MariaDB, the rules of src/engine/housekeeping.ts in SQL.
// A store pyworkflow populated (v2, H7) has only `schedules`; the stream tables are handled when a
// v3+ layout has them. Keyset pages over each primary key (spelled out as OR-ed comparisons, which the
// range optimizer uses), one transaction per page, deletes by literal key lists repeating the rule.

import type mysql from 'mysql2/promise';
import { CancelledError } from '../../errors.js';
import { DELETED_SCHEDULE_STATUS, TERMINAL_SUBSCRIPTION_STATUSES } from '../../engine/housekeeping.js';
import type { RecordKind } from '../../engine/records.js';
import type { Logger } from '../../log.js';
import type { HousekeepingRequest } from '../backend.js';
import type { MysqlLayout } from './layout.js';
import { formatDatetime6 } from './time.js';
import { inTransaction } from './transaction.js';

interface Rule {
  table: string;
  kind: RecordKind;
  key: string[];
  /** The rule over alias `t`, with one `?` for the cutoff. */
  predicate: string;
  /** The rule as the DELETE repeats it, without a subquery on its own table (error 1093). */
  deletePredicate: string;
  deleteBy: string[];
  extra?: string;
}

const NOT_NEWEST = 't.sequence < (SELECT MAX(x.sequence) FROM signals x WHERE x.stream_id = t.stream_id AND x.stream_run_id = t.stream_run_id)';

function rulesFor(layout: MysqlLayout): Rule[] {
  const rules: Rule[] = [];
  if (layout.tables.has('signals')) {
    rules.push({
      table: 'signals', kind: 'streamRecords', key: ['stream_id', 'stream_run_id', 'sequence'],
      predicate: `t.published_at < ? AND ${NOT_NEWEST}`, deletePredicate: 'published_at < ?', deleteBy: ['signal_id'], extra: 'signal_id',
    });
  }
  if (layout.tables.has('signal_acknowledgments')) {
    rules.push({
      table: 'signal_acknowledgments', kind: 'streamRecords', key: ['signal_id', 'step_run_id'],
      predicate: 't.acknowledged_at < ?', deletePredicate: 'acknowledged_at < ?', deleteBy: ['signal_id'],
    });
  }
  if (layout.tables.has('stream_subscriptions')) {
    const statuses = TERMINAL_SUBSCRIPTION_STATUSES.map((s) => `'${s}'`).join(', ');
    rules.push({
      table: 'stream_subscriptions', kind: 'streamRecords', key: ['stream_id', 'step_run_id'],
      predicate: `t.created_at < ? AND t.status IN (${statuses})`, deletePredicate: `created_at < ? AND status IN (${statuses})`,
      deleteBy: ['stream_id', 'step_run_id'],
    });
  }
  if (layout.tables.has('scheduled_signals')) {
    rules.push({
      table: 'scheduled_signals', kind: 'streamRecords', key: ['id'],
      predicate: 't.created_at < ? AND t.delivered', deletePredicate: 'created_at < ? AND delivered', deleteBy: ['id'],
    });
  }
  if (layout.tables.has('schedules')) {
    const hasDeletedAt = layout.columns.get('schedules')?.has('deleted_at') === true;
    const when = (alias: string): string => (hasDeletedAt ? `COALESCE(${alias}deleted_at, ${alias}updated_at)` : `${alias}updated_at`);
    rules.push({
      table: 'schedules', kind: 'schedules', key: ['schedule_id'],
      predicate: `${when('t.')} < ? AND t.status = '${DELETED_SCHEDULE_STATUS}'`,
      deletePredicate: `${when('')} < ? AND status = '${DELETED_SCHEDULE_STATUS}'`, deleteBy: ['schedule_id'],
    });
  }
  return rules;
}

/** `(k1, k2, k3) > (a, b, c)` spelled out so MySQL's range optimizer can use the primary key. */
function keysetAfter(key: string[], after: Record<string, unknown>): { sql: string; params: unknown[] } {
  const ors: string[] = [];
  const params: unknown[] = [];
  for (let i = 0; i < key.length; i++) {
    const eqs = key.slice(0, i).map((k) => `t.${k} = ?`);
    ors.push(`(${[...eqs, `t.${key[i]} > ?`].join(' AND ')})`);
    params.push(...key.slice(0, i).map((k) => after[k]), after[key[i]!]);
  }
  return { sql: `(${ors.join(' OR ')}) AND `, params };
}

export async function runMysqlHousekeeping(conn: mysql.Connection, layout: MysqlLayout, request: HousekeepingRequest, logger: Logger): Promise<void> {
  const cutoff = formatDatetime6(request.cutoff);
  for (const rule of rulesFor(layout)) {
    let after: mysql.RowDataPacket | null = null;
    for (;;) {
      if (request.signal.aborted) throw new CancelledError('stop requested during housekeeping');
      const cursor: { sql: string; params: unknown[] } = after === null ? { sql: '', params: [] } : keysetAfter(rule.key, after);
      const cols = [...rule.key, ...(rule.extra ? [rule.extra] : [])].map((k) => `t.${k}`).join(', ');
      const page: { n: number; last: mysql.RowDataPacket } | null = await inTransaction(conn, { what: `housekeeping ${rule.table}`, readOnly: request.dryRun, logger }, async () => {
        const [rows] = await conn.query<mysql.RowDataPacket[]>(
          `SELECT ${cols} FROM ${rule.table} t WHERE ${cursor.sql}${rule.predicate}
            ORDER BY ${rule.key.map((k) => `t.${k}`).join(', ')} LIMIT ${Math.floor(request.batchSize)}`,
          [...cursor.params, cutoff],
        );
        if (rows.length === 0) return null;
        const doomed = rule.table === 'signal_acknowledgments' ? await withoutLiveSignal(conn, layout, rows, cutoff, request.dryRun) : rows;
        let n = doomed.length;
        if (!request.dryRun && doomed.length > 0) {
          const by = rule.deleteBy.map((c) => `${c} IN (?)`).join(' AND ');
          const lists = rule.deleteBy.map((c) => [...new Set(doomed.map((r) => r[c] as unknown))]);
          const [res] = await conn.query<mysql.ResultSetHeader>(`DELETE FROM ${rule.table} WHERE ${by} AND ${rule.deletePredicate}`, [...lists, cutoff]);
          n = res.affectedRows;
        }
        return { n, last: rows[rows.length - 1]! };
      });
      if (page === null) break;
      after = page.last;
      if (page.n > 0) request.onBatch({ [rule.kind]: page.n });
    }
  }
}

/** Acknowledgments whose signal is gone (or, in a dry run, would be gone after the signals rule). */
async function withoutLiveSignal(conn: mysql.Connection, layout: MysqlLayout, rows: mysql.RowDataPacket[], cutoff: string, dryRun: boolean): Promise<mysql.RowDataPacket[]> {
  if (!layout.tables.has('signals')) return rows;
  const ids = [...new Set(rows.map((r) => String(r.signal_id)))];
  const [live] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT DISTINCT t.signal_id FROM signals t WHERE t.signal_id IN (?)${dryRun ? ` AND NOT (t.published_at < ? AND ${NOT_NEWEST})` : ''}`,
    dryRun ? [ids, cutoff] : [ids],
  );
  const remaining = new Set(live.map((r) => String(r.signal_id)));
  return rows.filter((r) => !remaining.has(String(r.signal_id)));
}
