// Recognises a pyworkflow SQLite store (docs/storage.md#sqlite, #detection-sql): its schema version and
// which optional tables exist. A layout this release does not know is refused before any delete.

import type Database from 'better-sqlite3';
import { UnknownSchemaError } from '../../errors.js';
import type { StoreLayout } from '../backend.js';

/** pyworkflow schema versions this release knows for SQLite ("pre-versioning" = before v0.1.23). */
export const SUPPORTED_SQLITE_VERSIONS = ['pre-versioning', '1', '2', '3', '4', '5', '6', '7'] as const;

export interface SqliteLayout extends StoreLayout {
  tables: ReadonlySet<string>;
  /** workflow_runs has parent_run_id (nesting arrived after the first releases). */
  hasParentColumn: boolean;
  hasScheduleDeletedAt: boolean;
}

const REQUIRED_RUN_COLUMNS = ['run_id', 'status', 'updated_at'];

export function detectSqliteLayout(db: Database.Database, target: string): SqliteLayout {
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name),
  );
  const supported = [...SUPPORTED_SQLITE_VERSIONS];
  let version: string;
  if (tables.has('schema_versions')) {
    const rows = db.prepare('SELECT version FROM schema_versions').all() as { version: unknown }[];
    const versions = rows.map((r) => r.version);
    const bad = versions.find((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 7);
    if (bad !== undefined) throw new UnknownSchemaError(target, `schema_versions holds version ${JSON.stringify(bad)}`, supported);
    version = versions.length === 0 ? '0' : String(Math.max(...(versions as number[])));
    if (version === '0') {
      // An empty schema_versions table: pyworkflow would record version 1 on its next start.
      version = tables.has('workflow_runs') ? '1' : '0';
    }
  } else {
    version = 'pre-versioning';
  }

  if (!tables.has('workflow_runs')) {
    // schema_versions without workflow_runs: a failed initialisation; no tables at all: pyworkflow
    // never initialised this file. Either way there is nothing to purge.
    const foreign = [...tables].filter((t) => t !== 'schema_versions' && !t.startsWith('sqlite_'));
    if (foreign.length > 0) {
      throw new UnknownSchemaError(target, `no workflow_runs table but other tables (${foreign.slice(0, 5).join(', ')})`, supported);
    }
    return {
      schemaVersion: version === 'pre-versioning' ? 'none' : version, empty: true, tables,
      hasParentColumn: false, hasScheduleDeletedAt: false,
    };
  }
  if (version === 'pre-versioning' && !tables.has('events')) {
    throw new UnknownSchemaError(target, 'workflow_runs without events and without schema_versions', supported);
  }
  const runColumns = columnsOf(db, 'workflow_runs');
  const missing = REQUIRED_RUN_COLUMNS.filter((c) => !runColumns.has(c));
  if (missing.length > 0) {
    throw new UnknownSchemaError(target, `workflow_runs lacks column(s) ${missing.join(', ')}`, supported);
  }
  const hasScheduleDeletedAt = tables.has('schedules') && columnsOf(db, 'schedules').has('deleted_at');
  return {
    schemaVersion: version,
    empty: false,
    tables,
    hasParentColumn: runColumns.has('parent_run_id'),
    hasScheduleDeletedAt,
    details: {
      checkpoints: tables.has('checkpoints'),
      streams: tables.has('signals'),
      schedules: tables.has('schedules'),
    },
  };
}

function columnsOf(db: Database.Database, table: string): Set<string> {
  return new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
}
