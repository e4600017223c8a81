// StoreFixture for pyworkflow's file store: a fresh data directory per store in pyworkflow's exact
// layout (src/backends/file/seed.ts), dumped file by file as raw text.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { FileBackend } from '../../../src/backends/file/file-backend.js';
import { TOKEN_INDEX_FILE } from '../../../src/backends/file/layout.js';
import { seedFileStore, type FileSeedOptions } from '../../../src/backends/file/seed.js';
import { silentLogger } from '../../../src/log.js';
import type { Dataset } from '../../../src/model/dataset.js';
import type { Snapshot, StoreFixture, StoreHandle } from './store-fixture.js';

/** A file-store fixture; options choose the pyworkflow generation and legacy hook files. */
export function fileFixture(options: FileSeedOptions = {}): StoreFixture {
  return {
    type: 'file',
    // No scheduled_signals in the file store (postgres/citus only), and no deleted_at on file schedules (H10).
    adapt: (d: Dataset): Dataset => ({ ...d, scheduledSignals: [], schedules: d.schedules.map((s) => ({ ...s, deleted_at: null })) }),
    async create(dataset: Dataset): Promise<StoreHandle> {
      const dir = mkdtempSync(join(tmpdir(), 'pywr-file-'));
      const base = join(dir, 'pyworkflow_data');
      seedFileStore(base, dataset, options);
      return fileHandle(base, () => rmSync(dir, { recursive: true, force: true }));
    },
  };
}

export const fileStoreFixture = fileFixture();

export function fileHandle(base: string, cleanup: () => void = () => undefined, lockTimeoutMs?: number): StoreHandle {
  const storageConfig = { type: 'file' as const, base_path: base, ...(lockTimeoutMs === undefined ? {} : { lock_timeout_ms: lockTimeoutMs }) };
  return {
    storageConfig,
    backend: () => new FileBackend(storageConfig, { logger: silentLogger }),
    dump: async () => dumpFileStore(base),
    destroy: async () => cleanup(),
  };
}

/**
 * Every file and directory except `.locks/` (empty lock files carry no data; which of them exist
 * depends on who took which lock when, see lockFiles). The token index is dumped as its sorted
 * entries, so an absent index and `{}` compare equal, as they are to pyworkflow.
 */
export function dumpFileStore(base: string): Snapshot {
  const out: Snapshot = { '(directories)': [] };
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      const rel = relative(base, path);
      if (e.isDirectory()) {
        out['(directories)']!.push(rel);
        if (rel !== '.locks') walk(path);
      } else if (rel !== TOKEN_INDEX_FILE) {
        out[rel] = [readFileSync(path, 'utf8')];
      }
    }
  };
  walk(base);
  out['(directories)']!.sort();
  const index = join(base, TOKEN_INDEX_FILE);
  const tokens = existsSync(index) ? (JSON.parse(readFileSync(index, 'utf8')) as Record<string, unknown>) : {};
  out[TOKEN_INDEX_FILE] = Object.entries(tokens).map(([k, v]) => `${k} -> ${JSON.stringify(v)}`).sort();
  return out;
}

/** Names in `.locks/`, sorted. */
export function lockFiles(base: string): string[] {
  return readdirSync(join(base, '.locks')).sort();
}
