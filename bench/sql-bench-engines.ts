// The two servers of the SQL benchmark: how to make identical copies of a seeded store, what
// pyworkflow's own delete_old_runs sends (0.4.0; for MySQL the statements it means to send, since the
// real method raises before any SQL, H6), and a raw single-statement purge, each timed per transaction.

import mysql from 'mysql2/promise';
import pg from 'pg';
import { seedPostgresStore } from '../src/backends/postgres/seed.js';
import { MYSQL_V2_DDL } from '../src/backends/mysql/ddl.js';
import { seedMysqlStore } from '../src/backends/mysql/seed.js';
import { formatDatetime6 } from '../src/backends/mysql/time.js';
import type { Dataset } from '../src/model/dataset.js';

export const TERMINAL = ['completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted'];

export interface Timed {
  totalMs: number;
  longestTxMs: number;
  runsDeleted: number;
  /** Rows of every kind deleted: the work done, to compare approaches that purge different things. */
  rowsDeleted: number;
}

export interface BenchEngine {
  name: 'postgres' | 'mariadb';
  writerEngine: 'postgres' | 'mysql';
  adminUrl: string;
  /** Seeds a master store and returns `copies` identical databases. */
  prepare(data: Dataset, copies: number): Promise<string[]>;
  storage(database: string): Record<string, unknown> & { type: 'postgres' | 'mysql' };
  pyworkflowPurge(database: string, cutoff: Date): Promise<Timed>;
  rawPurge(database: string, cutoff: Date): Promise<Timed>;
  drop(databases: readonly string[]): Promise<void>;
  /** A session for EXPLAIN on one copy. */
  session<T>(database: string, work: (s: pg.Client | mysql.Connection) => Promise<T>): Promise<T>;
}

const now = (): number => performance.now();

export function postgresEngine(adminUrl: string, prefix: string): BenchEngine {
  const url = new URL(adminUrl);
  const config = (database: string): pg.ClientConfig => ({
    host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database,
    options: '-c statement_timeout=0',
  });
  const withClient = async <T>(database: string, work: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client(config(database));
    await c.connect();
    try {
      return await work(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: 'postgres',
    writerEngine: 'postgres',
    adminUrl,
    async prepare(data, copies) {
      const master = `${prefix}_master`;
      await withClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${master} WITH (FORCE)`).then(() => c.query(`CREATE DATABASE ${master}`)));
      await withClient(master, async (c) => {
        await seedPostgresStore(c, data);
        await c.query('VACUUM ANALYZE');
      });
      const names = Array.from({ length: copies }, (_, i) => `${prefix}_${String.fromCharCode(97 + i)}`);
      await withClient('postgres', async (c) => {
        // A template copy is a file-level clone: the copies are identical to the byte.
        for (const n of names) {
          await c.query(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`);
          await c.query(`CREATE DATABASE ${n} TEMPLATE ${master}`);
        }
        await c.query(`DROP DATABASE ${master}`);
      });
      return names;
    },
    storage: (database) => ({
      type: 'postgres', host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database, sslmode: 'disable',
    }),
    async pyworkflowPurge(database, cutoff) {
      // pyworkflow-engine 0.4.0 PostgresStorageBackend.delete_old_runs, statement for statement, one transaction.
      return withClient(database, async (c) => {
        const t0 = now();
        const p = [TERMINAL, cutoff];
        const subq = 'SELECT run_id FROM workflow_runs WHERE status = ANY($1) AND updated_at < $2';
        let rows = 0;
        const del = async (sql: string, params: unknown[]): Promise<number> => {
          const n = (await c.query(sql, params)).rowCount ?? 0;
          rows += n;
          return n;
        };
        await c.query('BEGIN');
        await del(`DELETE FROM events WHERE run_id IN (${subq})`, p);
        await del(`DELETE FROM checkpoints WHERE step_run_id IN (SELECT step_id FROM steps WHERE run_id IN (${subq}))`, p);
        await del(`DELETE FROM steps WHERE run_id IN (${subq})`, p);
        await del(`DELETE FROM hooks WHERE run_id IN (${subq})`, p);
        await del(`DELETE FROM cancellation_flags WHERE run_id IN (${subq})`, p);
        await del('DELETE FROM scheduled_signals WHERE delivered = TRUE AND created_at < $1', [cutoff]);
        await del('DELETE FROM signals WHERE published_at < $1', [cutoff]);
        await del('DELETE FROM signal_acknowledgments WHERE acknowledged_at < $1', [cutoff]);
        await del('DELETE FROM stream_subscriptions WHERE status = ANY($1) AND created_at < $2', [['terminated', 'completed'], cutoff]);
        await del("DELETE FROM schedules WHERE status = 'DELETED' AND deleted_at < $1", [cutoff]);
        const runs = await del('DELETE FROM workflow_runs WHERE status = ANY($1) AND updated_at < $2', p);
        await c.query('COMMIT');
        const total = now() - t0;
        return { totalMs: total, longestTxMs: total, runsDeleted: runs, rowsDeleted: rows };
      });
    },
    async rawPurge(database, cutoff) {
      // The least a purge can do: one set-based statement per kind, each its own transaction.
      return withClient(database, async (c) => {
        const p = [TERMINAL, cutoff];
        const sel = 'SELECT run_id FROM workflow_runs WHERE status = ANY($1) AND updated_at < $2';
        const statements: [string, unknown[]][] = [
          [`DELETE FROM checkpoints c USING workflow_runs r WHERE r.status = ANY($1) AND r.updated_at < $2
             AND c.step_run_id >= r.run_id || ':' AND c.step_run_id < r.run_id || ';'`, p],
          [`DELETE FROM events WHERE run_id IN (${sel})`, p],
          [`DELETE FROM steps WHERE run_id IN (${sel})`, p],
          [`DELETE FROM hooks WHERE run_id IN (${sel})`, p],
          [`DELETE FROM cancellation_flags WHERE run_id IN (${sel})`, p],
          ['DELETE FROM workflow_runs WHERE status = ANY($1) AND updated_at < $2', p],
          ['DELETE FROM signals s WHERE published_at < $1 AND sequence < (SELECT max(x.sequence) FROM signals x WHERE x.stream_id = s.stream_id AND x.stream_run_id = s.stream_run_id)', [cutoff]],
          ['DELETE FROM signal_acknowledgments a WHERE acknowledged_at < $1 AND NOT EXISTS (SELECT 1 FROM signals s WHERE s.signal_id = a.signal_id)', [cutoff]],
          ["DELETE FROM stream_subscriptions WHERE status IN ('terminated', 'completed') AND created_at < $1", [cutoff]],
          ['DELETE FROM scheduled_signals WHERE delivered AND created_at < $1', [cutoff]],
          ["DELETE FROM schedules WHERE status = 'deleted' AND COALESCE(deleted_at, updated_at) < $1", [cutoff]],
        ];
        let longest = 0;
        let runs = 0;
        let rows = 0;
        const t0 = now();
        for (const [sql, params] of statements) {
          const t = now();
          const r = await c.query(sql, params);
          longest = Math.max(longest, now() - t);
          rows += r.rowCount ?? 0;
          if (sql.startsWith('DELETE FROM workflow_runs')) runs = r.rowCount ?? 0;
        }
        return { totalMs: now() - t0, longestTxMs: longest, runsDeleted: runs, rowsDeleted: rows };
      });
    },
    async drop(databases) {
      await withClient('postgres', async (c) => {
        for (const d of databases) await c.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`);
      });
    },
    session: (database, work) => withClient(database, work),
  };
}

export function mariadbEngine(adminUrl: string, prefix: string): BenchEngine {
  const url = new URL(adminUrl);
  const options = (database?: string): mysql.ConnectionOptions => ({
    host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password),
    ...(database ? { database } : {}), dateStrings: true, timezone: 'Z', charset: 'utf8mb4_unicode_ci',
  });
  const withConn = async <T>(database: string | undefined, work: (c: mysql.Connection) => Promise<T>): Promise<T> => {
    const c = await mysql.createConnection(options(database));
    try {
      return await work(c);
    } finally {
      await c.end();
    }
  };
  const TABLES_IN_FK_ORDER = ['schema_versions', 'workflow_runs', 'events', 'steps', 'hooks', 'cancellation_flags', 'checkpoints', 'schedules'];
  return {
    name: 'mariadb',
    writerEngine: 'mysql',
    adminUrl,
    async prepare(data, copies) {
      const master = `${prefix}_master`;
      await withConn(undefined, (c) => c.query(`DROP DATABASE IF EXISTS ${master}`).then(() => c.query(`CREATE DATABASE ${master} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)));
      await withConn(master, (c) => seedMysqlStore(c, data));
      const names = Array.from({ length: copies }, (_, i) => `${prefix}_${String.fromCharCode(97 + i)}`);
      for (const n of names) {
        await withConn(undefined, async (c) => {
          await c.query(`DROP DATABASE IF EXISTS ${n}`);
          await c.query(`CREATE DATABASE ${n} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
        });
        // pyworkflow's DDL (CREATE TABLE ... LIKE would drop the foreign keys), then the rows server-side.
        await withConn(n, async (c) => {
          for (const stmt of MYSQL_V2_DDL) await c.query(stmt);
          for (const t of TABLES_IN_FK_ORDER) await c.query(`INSERT INTO ${n}.${t} SELECT * FROM ${master}.${t}`);
          await c.query(`ANALYZE TABLE ${TABLES_IN_FK_ORDER.join(', ')}`);
        });
      }
      await withConn(undefined, (c) => c.query(`DROP DATABASE ${master}`));
      return names;
    },
    storage: (database) => ({
      type: 'mysql', host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database,
    }),
    async pyworkflowPurge(database, cutoff) {
      // What pyworkflow-engine 0.4.0 MySQLStorageBackend.delete_old_runs means to send (its status
      // placeholders are broken, H6), for the tables a v2 store has, in one transaction.
      return withConn(database, async (c) => {
        const p = [...TERMINAL, formatDatetime6(cutoff)];
        const subq = 'SELECT run_id FROM workflow_runs WHERE status IN (?, ?, ?, ?, ?) AND updated_at < ?';
        let rows = 0;
        const del = async (sql: string, params: unknown[]): Promise<number> => {
          const [r] = await c.query<mysql.ResultSetHeader>(sql, params);
          rows += r.affectedRows;
          return r.affectedRows;
        };
        const t0 = now();
        await c.query('START TRANSACTION');
        await del(`DELETE FROM events WHERE run_id IN (${subq})`, p);
        await del(`DELETE FROM checkpoints WHERE step_run_id IN (SELECT step_id FROM steps WHERE run_id IN (${subq}))`, p);
        await del(`DELETE FROM steps WHERE run_id IN (${subq})`, p);
        await del(`DELETE FROM hooks WHERE run_id IN (${subq})`, p);
        await del(`DELETE FROM cancellation_flags WHERE run_id IN (${subq})`, p);
        await del("DELETE FROM schedules WHERE status = 'DELETED' AND deleted_at < ?", [formatDatetime6(cutoff)]);
        const runs = await del('DELETE FROM workflow_runs WHERE status IN (?, ?, ?, ?, ?) AND updated_at < ?', p);
        await c.query('COMMIT');
        const total = now() - t0;
        return { totalMs: total, longestTxMs: total, runsDeleted: runs, rowsDeleted: rows };
      });
    },
    async rawPurge(database, cutoff) {
      return withConn(database, async (c) => {
        const p = [TERMINAL, formatDatetime6(cutoff)];
        const join = 'JOIN workflow_runs r ON r.run_id = x.run_id WHERE r.status IN (?) AND r.updated_at < ?';
        const statements: [string, unknown[]][] = [
          // One pass over checkpoints, each key's run part looked up by primary key.
          [`DELETE FROM checkpoints WHERE step_run_id LIKE '%:%' AND SUBSTRING_INDEX(step_run_id, ':', 1) IN
             (SELECT run_id FROM workflow_runs WHERE status IN (?) AND updated_at < ?)`, p],
          [`DELETE x FROM events x ${join}`, p],
          [`DELETE x FROM steps x ${join}`, p],
          [`DELETE x FROM hooks x ${join}`, p],
          [`DELETE x FROM cancellation_flags x ${join}`, p],
          ['DELETE FROM workflow_runs WHERE status IN (?) AND updated_at < ?', p],
          ["DELETE FROM schedules WHERE status = 'deleted' AND COALESCE(deleted_at, updated_at) < ?", [formatDatetime6(cutoff)]],
        ];
        let longest = 0;
        let runs = 0;
        let rows = 0;
        const t0 = now();
        for (const [sql, params] of statements) {
          const t = now();
          const [r] = await c.query<mysql.ResultSetHeader>(sql, params);
          longest = Math.max(longest, now() - t);
          rows += r.affectedRows;
          if (sql.startsWith('DELETE FROM workflow_runs')) runs = r.affectedRows;
        }
        return { totalMs: now() - t0, longestTxMs: longest, runsDeleted: runs, rowsDeleted: rows };
      });
    },
    async drop(databases) {
      await withConn(undefined, async (c) => {
        for (const d of databases) await c.query(`DROP DATABASE IF EXISTS ${d}`);
      });
    },
    session: (database, work) => withConn(database, work),
  };
}
