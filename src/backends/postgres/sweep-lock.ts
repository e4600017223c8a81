// The store-wide sweep lock of a PostgreSQL/Citus store: a session-level advisory lock held on a
// dedicated connection, polled with pg_try_advisory_lock until the wait runs out. The server drops
// it when that session ends, so a killed sweep never leaves it behind.
//
// Key: the first 8 bytes (big-endian, signed) of SHA-256("pyworkflow-retention:sweep:" + the schema
// holding workflow_runs). Advisory locks are per database, so the key names the store exactly; any
// other program that wants to keep sweeps out can take the same key.

import { createHash } from 'node:crypto';
import type pg from 'pg';
import { SweepLockedError } from '../../errors.js';
import type { SweepLock } from '../backend.js';

const POLL_MS = 250;

export function sweepLockKey(schema: string): string {
  return createHash('sha256').update(`pyworkflow-retention:sweep:${schema}`).digest().readBigInt64BE(0).toString();
}

/** Takes the lock on `client`, which then belongs to the lock: release() ends the session. */
export async function acquirePostgresSweepLock(client: pg.Client, schema: string, waitMs: number, target: string): Promise<SweepLock> {
  const key = sweepLockKey(schema);
  const started = Date.now();
  try {
    for (;;) {
      const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
      if (res.rows[0]?.ok === true) break;
      const waited = Date.now() - started;
      if (waited >= waitMs) throw new SweepLockedError(target, waited);
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, waitMs - waited)));
    }
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}
