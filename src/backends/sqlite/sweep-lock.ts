// The store-wide sweep lock of a SQLite store: an exclusive transaction on a small sidecar database
// beside pyworkflow's file. SQLite's own file locks make it work across processes, and the kernel
// drops it when a sweep dies; pyworkflow's database itself is never locked for longer than a batch.

import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { SweepLockedError, backendError } from '../../errors.js';
import type { SweepLock } from '../backend.js';

export function acquireSqliteSweepLock(databasePath: string, waitMs: number, target: string, dryRun = false): SweepLock {
  const lockPath = `${databasePath}.retention-sweep.lock`;
  // A dry run writes nothing (it works on a read-only store): it creates no sidecar, and where one
  // exists it takes a shared lock on it, which waits for a running sweep and keeps one from starting.
  if (dryRun && !existsSync(lockPath)) return { release: async () => undefined };
  let db: Database.Database;
  try {
    db = new Database(lockPath, { timeout: waitMs, ...(dryRun ? { readonly: true, fileMustExist: true } : {}) });
  } catch (err) {
    throw backendError(target, `opening the sweep lock ${lockPath}`, err);
  }
  const started = Date.now();
  try {
    if (dryRun) {
      db.exec('BEGIN');
      db.prepare('SELECT count(*) FROM sqlite_master').get(); // the first read takes the SHARED lock
    } else {
      db.exec('BEGIN EXCLUSIVE');
    }
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new SweepLockedError(target, Date.now() - started);
    throw backendError(target, 'taking the sweep lock', err);
  }
  return {
    release: async () => {
      if (!db.open) return;
      db.exec('ROLLBACK');
      db.close();
    },
  };
}
