// One short InnoDB transaction with a bounded retry: a deadlock or a lock wait timeout (a pyworkflow
// writer holding a run row longer than innodb_lock_wait_timeout) rolls back and reruns the unit after a
// backoff. Each attempt's BEGIN→COMMIT time is logged at debug level ("transaction", durationMs).
// A COMMIT whose reply is lost with the connection cannot be resolved afterwards (InnoDB offers no
// lookup of a past transaction's fate): it counts as rolled back, and a warning says it may not be.

import type mysql from 'mysql2/promise';
import type { Logger } from '../../log.js';
import { mysqlCodeOf } from './connection.js';

const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);
export const MAX_ATTEMPTS = 5;

export interface TransactionOptions {
  what: string;
  readOnly?: boolean;
  /** Run at REPEATABLE READ, where locking reads also lock the gaps of missing keys (the orphan sweep). */
  repeatableRead?: boolean;
  logger: Logger;
}

export async function inTransaction<T>(conn: mysql.Connection, options: TransactionOptions, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    let committing = false;
    try {
      if (options.readOnly) {
        // A dry run counts from one snapshot; the session stays READ COMMITTED for real work.
        await conn.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      } else {
        if (options.repeatableRead) await conn.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await conn.query('START TRANSACTION');
      }
      const result = await work();
      committing = true;
      await conn.query('COMMIT');
      options.logger.debug('transaction', { what: options.what, durationMs: Math.round((performance.now() - started) * 1000) / 1000, attempt });
      return result;
    } catch (err) {
      const code = mysqlCodeOf(err);
      if (committing && !options.readOnly && (err as { fatal?: unknown } | null)?.fatal === true) {
        options.logger.warn('the connection was lost during COMMIT: whether the server committed is unknown; its records are not counted', { what: options.what, code });
      }
      await conn.query('ROLLBACK').catch(() => undefined);
      if (code === undefined || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw err;
      const backoff = Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random());
      options.logger.warn('transaction rolled back; retrying', { what: options.what, code, attempt, backoffMs: Math.round(backoff) });
      await new Promise((r) => setTimeout(r, backoff));
    }
  }
}
