// Recognises a pyworkflow MySQL/MariaDB store (docs/storage.md#mysql, #detection-sql): the schema version
// and which of the tables and columns we touch exist in the configured database. In practice a store
// pyworkflow populated is at version 2 (H7); the stream tables of versions 3+ follow the code if found.

import type mysql from 'mysql2/promise';
import { UnknownSchemaError } from '../../errors.js';
import type { StoreLayout } from '../backend.js';
import { checkSqlColumns, SQL_PER_RUN_TABLES, SQL_REQUIRED_COLUMNS } from '../sql-layout.js';

/** pyworkflow schema versions this release knows for MySQL ("pre-versioning" = before v0.1.23). */
export const SUPPORTED_MYSQL_VERSIONS = ['pre-versioning', '1', '2', '3', '4', '5', '6', '7'] as const;
const MAX_KNOWN_VERSION = 7;

export const PER_RUN_TABLES = SQL_PER_RUN_TABLES;

export interface MysqlLayout extends StoreLayout {
  tables: ReadonlySet<string>;
  columns: ReadonlyMap<string, ReadonlySet<string>>;
  hasParentColumn: boolean;
  /** Index hints name only indexes that exist: `FORCE INDEX (...)` text, or ''. */
  parentIndexHint: string;
}

const REQUIRED = SQL_REQUIRED_COLUMNS;

export async function detectMysqlLayout(conn: mysql.Connection, target: string, serverVersion: string): Promise<MysqlLayout> {
  const supported = [...SUPPORTED_MYSQL_VERSIONS];
  const unknown = (found: string): UnknownSchemaError => new UnknownSchemaError(target, found, supported);
  const [colRows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT c.TABLE_NAME AS t, c.COLUMN_NAME AS c FROM information_schema.COLUMNS c
       JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
      WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND c.TABLE_NAME IN (?)`,
    [['schema_versions', 'workflow_runs', ...Object.keys(REQUIRED)]],
  );
  const columns = new Map<string, Set<string>>();
  for (const r of colRows) {
    const t = String(r.t);
    const set = columns.get(t) ?? new Set<string>();
    set.add(String(r.c));
    columns.set(t, set);
  }
  const tables = new Set(columns.keys());

  let version: string;
  if (tables.has('schema_versions')) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT version FROM schema_versions ORDER BY version');
    const versions = rows.map((r) => r.version as unknown);
    const bad = versions.find((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_KNOWN_VERSION);
    if (bad !== undefined) throw unknown(`schema_versions holds version ${JSON.stringify(bad)}`);
    const gap = (versions as number[]).findIndex((v, i) => v !== i + 1);
    if (gap >= 0) throw unknown(`schema_versions holds versions ${versions.join(', ')} (not 1..n)`);
    version = versions.length === 0 ? (tables.has('workflow_runs') ? '1' : '0') : String(versions[versions.length - 1]);
  } else {
    version = 'pre-versioning';
  }
  const details = { serverVersion };
  if (!tables.has('workflow_runs')) {
    if (version === 'pre-versioning') throw unknown('no pyworkflow tables (schema_versions, workflow_runs) in the database; check the database name');
    // schema_versions without workflow_runs: what every release from 0.2.4 leaves in an empty
    // database (H7). No run can exist: nothing to purge.
    return { schemaVersion: version, empty: true, tables, columns, hasParentColumn: false, parentIndexHint: '', details };
  }
  if (version === 'pre-versioning' && !tables.has('events')) throw unknown('workflow_runs without events and without schema_versions');
  checkSqlColumns(tables, columns, REQUIRED, unknown);
  const [indexRows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'workflow_runs' AND INDEX_NAME = 'idx_runs_parent_run_id' LIMIT 1",
  );
  return {
    schemaVersion: version,
    empty: false,
    tables,
    columns,
    hasParentColumn: columns.get('workflow_runs')!.has('parent_run_id'),
    parentIndexHint: indexRows.length > 0 ? 'FORCE INDEX (idx_runs_parent_run_id)' : '',
    details: { ...details, checkpoints: tables.has('checkpoints'), streams: tables.has('signals'), schedules: tables.has('schedules') },
  };
}
