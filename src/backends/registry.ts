// Maps a validated storage config to its backend. Drivers are imported lazily so a sweep of one
// store never loads the others' drivers.

import type { StorageConfig } from '../config/storage-config.js';
import { InvalidInputError } from '../errors.js';
import type { Backend, BackendDeps } from './backend.js';
import { ReferenceMemoryBackend } from './memory/memory-backend.js';
import { emptyDataset } from '../model/dataset.js';

export async function createBackend(config: StorageConfig, deps: BackendDeps): Promise<Backend> {
  switch (config.type) {
    case 'reference-memory':
      return new ReferenceMemoryBackend(emptyDataset());
    case 'sqlite': {
      const { SqliteBackend } = await import('./sqlite/sqlite-backend.js');
      return new SqliteBackend(config, deps);
    }
    case 'file': {
      const { FileBackend } = await import('./file/file-backend.js');
      return new FileBackend(config, deps);
    }
    default:
      throw new InvalidInputError(`storage type "${config.type}" is not supported by this release`, 'UNSUPPORTED_BACKEND');
  }
}

/** Every string in the config that must never appear in output (passwords, DSNs). */
export function secretsOf(config: StorageConfig): string[] {
  const out: string[] = [];
  const c = config as unknown as Record<string, unknown>;
  for (const key of ['password', 'dsn']) {
    const v = c[key];
    if (typeof v === 'string' && v.length > 0) out.push(v);
  }
  const dsn = c.dsn;
  if (typeof dsn === 'string') {
    // The password part of a URL-style DSN, also in its decoded form.
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@]*)@/i.exec(dsn);
    if (m?.[1]) {
      out.push(m[1]);
      try {
        out.push(decodeURIComponent(m[1]));
      } catch {
        /* not percent-encoded */
      }
    }
  }
  return out.filter((s) => s.length >= 3);
}
