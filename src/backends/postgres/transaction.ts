// One short transaction with a bounded retry: deadlocks, serialization failures and lock timeouts
// (a pyworkflow worker holding a run row) roll back and run the whole unit again after a backoff.
// Each attempt's BEGIN→COMMIT time is logged at debug level ("transaction", durationMs), which is
// how the benchmark measures the longest transaction.
//
// A COMMIT whose reply is lost (the connection breaks after the server got it) leaves the client not
// knowing whether the transaction committed. Where the caller can open another session
// (`commitStatus`), the transaction's id, taken right after BEGIN, is looked up with txid_status():
// a committed transaction is reported as done (its counts are true), an aborted one as failed. Only
// when that lookup fails too is the outcome unknown; the error says so.

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
  /** Looks up a transaction id's fate on a new session: 'committed', 'aborted', 'in progress', or null if unknown. */
  commitStatus?: (xid: string) => Promise<string | null>;
}

/** How long a lost COMMIT is looked up while the server still reports it 'in progress'. */
const COMMIT_STATUS_WAIT_MS = 10_000;

export async function inTransaction<T>(client: pg.Client, options: TransactionOptions, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    let xid: string | undefined;
    let committing: { result: T } | null = null;
    try {
      // Read-only work (dry runs) takes a snapshot so the counts of one batch are consistent.
      const begin = client.query(options.readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      // Sent with BEGIN (pipelined): no round trip of its own.
      const id = !options.readOnly && options.commitStatus ? client.query<{ xid: string }>('SELECT txid_current()::text AS xid') : null;
      id?.catch(() => undefined); // its failure is BEGIN's, reported by the await below
      await begin;
      xid = (await id)?.rows[0]?.xid;
      const result = await work();
      committing = { result };
      await client.query('COMMIT');
      options.logger.debug('transaction', { what: options.what, durationMs: Math.round((performance.now() - started) * 1000) / 1000, attempt });
      return result;
    } catch (err) {
      // No SQLSTATE: the reply did not come (a lost connection), not a server's refusal to commit.
      if (committing !== null && xid !== undefined && options.commitStatus && sqlStateOf(err) === undefined) {
        const fate = await commitFate(options.commitStatus, xid);
        if (fate === 'committed') {
          options.logger.warn('the COMMIT reply was lost, but the server committed the transaction (txid_status); it is counted', { what: options.what, xid });
          return committing.result;
        }
        if (fate !== 'aborted') {
          options.logger.warn('the COMMIT reply was lost and whether the server committed is unknown; its records are not counted', { what: options.what, xid });
        }
        throw err;
      }
      await client.query('ROLLBACK').catch(() => undefined);
      const state = sqlStateOf(err);
      if (state === undefined || !RETRYABLE.has(state) || attempt >= MAX_ATTEMPTS) throw err;
      const backoff = Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random());
      options.logger.warn('transaction rolled back; retrying', { what: options.what, sqlState: state, attempt, backoffMs: Math.round(backoff) });
      await new Promise((r) => setTimeout(r, backoff));
    }
  }
}

/** The fate of transaction `xid` after its COMMIT reply was lost; waits while it is still 'in progress'. */
async function commitFate(lookup: (xid: string) => Promise<string | null>, xid: string): Promise<string | null> {
  const until = Date.now() + COMMIT_STATUS_WAIT_MS;
  for (;;) {
    const fate = await lookup(xid).catch(() => null);
    if (fate !== 'in progress' || Date.now() > until) return fate === 'in progress' ? null : fate;
    await new Promise((r) => setTimeout(r, 100));
  }
}
