// One short transaction with a bounded retry: deadlocks, serialization failures and lock timeouts
// (a pyworkflow worker holding a run row) roll back and run the whole unit again after a backoff.
// Each attempt's BEGIN→COMMIT time is logged at debug level ("transaction", durationMs), which is
// how the benchmark measures the longest transaction.

import type pg from 'pg';
import type { Logger } from '../../log.js';
import { sqlStateOf } from './connection.js';

/** 40P01 deadlock_detected, 40001 serialization_failure, 55P03 lock_not_available (lock_timeout). */
const RETRYABLE = new Set(['40P01', '40001', '55P03']);
export const MAX_ATTEMPTS = 5;

export interface TransactionOptions {
  what: string;
  readOnly?: boolean;
  logger: Logger;
}

export async function inTransaction<T>(client: pg.Client, options: TransactionOptions, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    try {
      // Read-only work (dry runs) takes a snapshot so the counts of one batch are consistent.
      await client.query(options.readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      const result = await work();
      await client.query('COMMIT');
      options.logger.debug('transaction', { what: options.what, durationMs: Math.round((performance.now() - started) * 1000) / 1000, attempt });
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      const state = sqlStateOf(err);
      if (state === undefined || !RETRYABLE.has(state) || attempt >= MAX_ATTEMPTS) throw err;
      const backoff = Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random());
      options.logger.warn('transaction rolled back; retrying', { what: options.what, sqlState: state, attempt, backoffMs: Math.round(backoff) });
      await new Promise((r) => setTimeout(r, backoff));
    }
  }
}
