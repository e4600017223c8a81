// StoreFixture for SQLite: a fresh database file in pyworkflow's layout per store, dumped table by
// table as raw rows.

import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '../../../src/backends/sqlite/sqlite-backend.js';
import { seedSqliteStore } from '../../../src/backends/sqlite/seed.js';
import { silentLogger } from '../../../src/log.js';
import type { Dataset } from '../../../src/model/dataset.js';
import type { Snapshot, StoreFixture, StoreHandle } from './store-fixture.js';

export const sqliteFixture: StoreFixture = {
  type: 'sqlite',
  adapt: (d: Dataset): Dataset => ({ ...d, scheduledSignals: [] }),
  async create(dataset: Dataset): Promise<StoreHandle> {
    const dir = mkdtempSync(join(tmpdir(), 'pywr-sqlite-'));
    const path = join(dir, 'pyworkflow.db');
    seedSqliteStore(path, dataset);
    return sqliteHandle(path, () => rmSync(dir, { recursive: true, force: true }));
  },
};

export function sqliteHandle(path: string, cleanup: () => void = () => undefined): StoreHandle {
  const storageConfig = { type: 'sqlite' as const, base_path: path };
  return {
    storageConfig,
    backend: () => new SqliteBackend(storageConfig, { logger: silentLogger }),
    dump: async () => dumpSqlite(path),
    destroy: async () => cleanup(),
  };
}

export function dumpSqlite(path: string): Snapshot {
  // Read-write: after a killed sweep the first opener must roll back the hot journal, as pyworkflow's would.
  const db = new Database(path, { fileMustExist: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    const out: Snapshot = {};
    for (const t of tables) {
      out[t] = (db.prepare(`SELECT * FROM "${t}"`).raw().all() as unknown[][]).map((row) => JSON.stringify(row)).sort();
    }
    return out;
  } finally {
    db.close();
  }
}
