// A pyworkflow-shaped live writer for PostgreSQL and MySQL: several loops that, like pyworkflow's
// workers (autocommit, one statement at a time), create runs with events and hooks, append events to
// active runs and move their status, and touch old terminal runs (update_run_context moves
// updated_at). It records every write and its latency, so a test can check nothing it wrote was lost
// and no write failed because a sweep ran.

import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Dataset } from '../../src/model/dataset.js';
import { mysqlAdminOptions } from './stores/mysql-store.js';
import { pgAdminConfig } from './stores/postgres-store.js';

export interface WriterStore {
  kind: 'postgres' | 'mysql';
  database: string;
}

export interface Conn {
  /** Runs a statement with `?` placeholders; returns the affected row count. */
  exec(sql: string, params: unknown[]): Promise<number>;
  rows(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** `?` placeholders as PostgreSQL's $1, $2, ... */
function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

export async function connect(store: WriterStore): Promise<Conn> {
  if (store.kind === 'postgres') {
    const c = new pg.Client(pgAdminConfig(store.database));
    c.on('error', () => undefined);
    await c.connect();
    return {
      exec: async (sql, params) => (await c.query(numbered(sql), params)).rowCount ?? 0,
      rows: async (sql, params) => (await c.query<Record<string, unknown>>(numbered(sql), params)).rows,
      close: () => c.end(),
    };
  }
  const c = await mysql.createConnection(mysqlAdminOptions(store.database));
  return {
    exec: async (sql, params) => {
      const [res] = await c.query<mysql.ResultSetHeader>(sql, params);
      return res.affectedRows;
    },
    rows: async (sql, params) => {
      const [rows] = await c.query<mysql.RowDataPacket[]>(sql, params);
      return rows;
    },
    close: () => c.end(),
  };
}

export interface WriterLog {
  createdRuns: string[];
  /** Events the writer added: run id -> count. */
  addedEvents: Map<string, number>;
  /** Old terminal runs whose update landed (1 row) and those that found the run gone (0 rows). */
  touchedOld: string[];
  missedOld: string[];
  errors: string[];
  latenciesMs: number[];
}

const stamp = (kind: WriterStore['kind'], d: Date): string => (kind === 'mysql' ? d.toISOString().replace('T', ' ').replace('Z', '000') : d.toISOString());

/** Starts `loops` writers; resolves with the log once stop() is called and every loop finished. */
export function startWriter(store: WriterStore, data: Dataset, cutoff: Date, options: { loops?: number; seed?: number } = {}): { stop(): Promise<WriterLog> } {
  const log: WriterLog = { createdRuns: [], addedEvents: new Map(), touchedOld: [], missedOld: [], errors: [], latenciesMs: [] };
  const active = data.runs.filter((r) => ['pending', 'running', 'suspended'].includes(r.status)).map((r) => r.run_id);
  const oldTerminal = data.runs.filter((r) => !['pending', 'running', 'suspended'].includes(r.status) && r.updated_at < cutoff && r.parent_run_id === null).map((r) => r.run_id);
  const nextSeq = new Map<string, number>();
  for (const e of data.events) nextSeq.set(e.run_id, Math.max(nextSeq.get(e.run_id) ?? 0, e.sequence + 1));
  let stopping = false;
  let n = 0;
  let oldCursor = 0;
  const timed = async (conn: Conn, sql: string, params: unknown[]): Promise<number> => {
    const t = performance.now();
    const rows = await conn.exec(sql, params);
    log.latenciesMs.push(performance.now() - t);
    return rows;
  };
  const loop = async (id: number): Promise<void> => {
    const conn = await connect(store);
    try {
      while (!stopping) {
        const i = ++n;
        const now = stamp(store.kind, new Date());
        try {
          if (i % 3 === 0) {
            const runId = `run_ffff${id.toString(16).padStart(4, '0')}${i.toString(16).padStart(8, '0')}`;
            await timed(conn, `INSERT INTO workflow_runs (run_id, workflow_name, status, created_at, updated_at, input_args, input_kwargs) VALUES (?, 'live_wf', 'running', ?, ?, '[]', '{}')`, [runId, now, now]);
            log.createdRuns.push(runId);
            for (let s = 0; s < 3; s++) {
              await timed(conn, `INSERT INTO events (event_id, run_id, sequence, type, timestamp, data) VALUES (?, ?, ?, 'step.completed', ?, '{}')`, [`evt_live_${runId}_${s}`, runId, s, now]);
            }
            await timed(conn, `INSERT INTO hooks (run_id, hook_id, token, created_at, status) VALUES (?, 'hook_live_1', ?, ?, 'pending')`, [runId, `${runId}:hook_live_1`, now]);
            await timed(conn, `UPDATE workflow_runs SET status = 'completed', updated_at = ?, completed_at = ? WHERE run_id = ?`, [now, now, runId]);
          } else if ((i % 3 === 1 || i % 12 !== 2) && active.length > 0) {
            const runId = active[i % active.length]!;
            const seq = nextSeq.get(runId) ?? 0;
            nextSeq.set(runId, seq + 1);
            await timed(conn, `INSERT INTO events (event_id, run_id, sequence, type, timestamp, data) VALUES (?, ?, ?, 'step.started', ?, '{}')`, [`evt_live_${runId}_${seq}`, runId, seq, now]);
            log.addedEvents.set(runId, (log.addedEvents.get(runId) ?? 0) + 1);
            await timed(conn, `UPDATE workflow_runs SET status = ?, updated_at = ? WHERE run_id = ?`, [i % 2 === 0 ? 'running' : 'suspended', now, runId]);
          } else if (oldCursor < oldTerminal.length) {
            // update_run_context on an old finished run (one op in twelve, so touches spread over the
            // whole sweep): it is no longer stale and must survive whole.
            const runId = oldTerminal[oldCursor++ * 7 % oldTerminal.length]!;
            const rows = await timed(conn, `UPDATE workflow_runs SET metadata = '{"touched": true}', updated_at = ? WHERE run_id = ?`, [now, runId]);
            (rows === 1 ? log.touchedOld : log.missedOld).push(runId);
          }
        } catch (err) {
          log.errors.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
        }
      }
    } finally {
      await conn.close();
    }
  };
  const loops = Array.from({ length: options.loops ?? 4 }, (_, k) => loop(k + 1));
  return {
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
      return log;
    },
  };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
