// The store-wide sweep lock of a MySQL/MariaDB store: a named lock (GET_LOCK) held on a dedicated
// connection. Lock names are server-wide, so the name carries the database: "pyworkflow-retention:"
// + the database name (hashed when that would pass MySQL's 64-character limit). The server releases
// it when the connection ends, so a killed sweep never leaves it behind.

import { createHash } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { SweepLockedError } from '../../errors.js';
import type { SweepLock } from '../backend.js';
import type { MysqlSession } from './connection.js';

export function sweepLockName(database: string): string {
  const name = `pyworkflow-retention:${database}`;
  return name.length <= 64 ? name : `pyworkflow-retention:${createHash('sha256').update(database).digest('hex').slice(0, 40)}`;
}

/** Waits up to waitMs in GET_LOCK itself; the session then belongs to the lock and release() ends it. */
export async function acquireMysqlSweepLock(session: MysqlSession, database: string, waitMs: number, target: string): Promise<SweepLock> {
  const { conn } = session;
  const name = sweepLockName(database);
  const started = Date.now();
  try {
    // The wait is bounded by GET_LOCK's own timeout, not by the session's statement timeout.
    await conn.query(session.mariadb ? 'SET SESSION max_statement_time = 0' : 'SET SESSION max_execution_time = 0');
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS ok', [name, Math.max(0, waitMs) / 1000]);
    if (Number(rows[0]?.ok) !== 1) throw new SweepLockedError(target, Date.now() - started);
  } catch (err) {
    await conn.end().catch(() => undefined);
    throw err;
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      await conn.query('SELECT RELEASE_LOCK(?)', [name]).catch(() => undefined);
      await conn.end().catch(() => undefined);
    },
  };
}
