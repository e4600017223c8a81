// Recognises a pyworkflow PostgreSQL/Citus store (docs/storage.md#postgres, #citus, #detection-sql): the schema
// version, which tables and columns we touch exist, and how checkpoint keys can be matched. Tables are
// resolved through the session's search_path exactly as pyworkflow's unqualified names are (H22).

import type pg from 'pg';
import { UnknownSchemaError } from '../../errors.js';
import type { StoreLayout } from '../backend.js';
import { checkSqlColumns, SQL_PER_RUN_TABLES, SQL_REQUIRED_COLUMNS } from '../sql-layout.js';

/** pyworkflow schema versions this release knows for PostgreSQL/Citus ("pre-versioning" = before v0.1.23). */
export const SUPPORTED_POSTGRES_VERSIONS = ['pre-versioning', '1', '2', '3', '4', '5', '6', '7'] as const;
const MAX_KNOWN_VERSION = 7;

export const PER_RUN_TABLES = SQL_PER_RUN_TABLES;
export type PerRunTable = (typeof PER_RUN_TABLES)[number];

/**
 * How a run's checkpoints (`{run_id}:{step_id}`) are found with an index:
 * - `range`: the key column's collation orders bytewise, so the exact prefix is the primary-key
 *   range [`R:`, `R;`) (';' follows ':');
 * - `event-keys`: a linguistic collation (en_US, ICU) does not keep a prefix contiguous, so the keys
 *   are built from the step ids in the run's events and steps and deleted by equality.
 */
export type CheckpointMatch = 'range' | 'event-keys';

export interface PostgresLayout extends StoreLayout {
  /** Schema each resolved table lives in (search_path resolution), by table name. */
  tables: ReadonlyMap<string, string>;
  columns: ReadonlyMap<string, ReadonlySet<string>>;
  hasParentColumn: boolean;
  checkpointMatch: CheckpointMatch;
}

/** Every table name we read or delete from, as pyworkflow names them. */
const TABLES = [
  'schema_versions', 'workflow_runs', ...PER_RUN_TABLES, 'checkpoints', 'schedules', 'streams', 'signals',
  'signal_acknowledgments', 'stream_subscriptions', 'scheduled_signals',
] as const;

/** pyworkflow's columns, plus steps.step_id: event-keys checkpoint matching builds keys from it. */
const REQUIRED: Record<string, readonly string[]> = { ...SQL_REQUIRED_COLUMNS, steps: ['run_id', 'step_id'] };

export async function detectPostgresLayout(client: pg.Client, target: string, dialect: string): Promise<PostgresLayout> {
  const supported = [...SUPPORTED_POSTGRES_VERSIONS];
  const unknown = (found: string): UnknownSchemaError => new UnknownSchemaError(target, found, supported);

  const path = (await client.query<{ schemas: string[] | string }>('SELECT current_schemas(false)::text[] AS schemas')).rows[0]!.schemas;
  const searchPath = Array.isArray(path) ? path.join(', ') : String(path);
  const resolved = await client.query<{ name: string; oid: number; schema: string; kind: string }>(
    `SELECT t.name, c.oid::int AS oid, n.nspname AS schema, c.relkind::text AS kind
       FROM unnest($1::text[]) AS t(name)
       JOIN pg_class c ON c.oid = to_regclass(quote_ident(t.name))
       JOIN pg_namespace n ON n.oid = c.relnamespace`,
    [TABLES],
  );
  const tables = new Map<string, string>();
  const oids = new Map<string, number>();
  for (const r of resolved.rows) {
    // A view or something else under pyworkflow's table name is not pyworkflow's table.
    if (r.kind !== 'r' && r.kind !== 'p') throw unknown(`"${r.name}" in schema ${r.schema} is not a table`);
    tables.set(r.name, r.schema);
    oids.set(r.name, r.oid);
  }
  const columnRows = await client.query<{ table_name: string; column_name: string }>(
    `SELECT c.relname AS table_name, a.attname AS column_name
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [[...oids.values()]],
  );
  const columns = new Map<string, Set<string>>();
  for (const r of columnRows.rows) {
    const set = columns.get(r.table_name) ?? new Set<string>();
    set.add(r.column_name);
    columns.set(r.table_name, set);
  }

  let version: string;
  if (tables.has('schema_versions')) {
    const rows = (await client.query<{ version: unknown }>('SELECT version FROM schema_versions ORDER BY version')).rows.map((r) => r.version);
    const bad = rows.find((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_KNOWN_VERSION);
    if (bad !== undefined) throw unknown(`schema_versions holds version ${JSON.stringify(bad)}`);
    const versions = rows as number[];
    // pyworkflow records every version from 1 up, one row each; a gap is not something it writes.
    const gap = versions.findIndex((v, i) => v !== i + 1);
    if (gap >= 0) throw unknown(`schema_versions holds versions ${versions.join(', ')} (not 1..n)`);
    version = versions.length === 0 ? (tables.has('workflow_runs') ? '1' : '0') : String(versions[versions.length - 1]);
  } else {
    version = 'pre-versioning';
  }

  const details = { searchPath, schema: tables.get('workflow_runs') ?? tables.get('schema_versions') ?? '', dialect };
  if (!tables.has('workflow_runs')) {
    if (version === 'pre-versioning') {
      throw unknown(`no pyworkflow tables (schema_versions, workflow_runs) in the search_path schemas (${searchPath}); check database and search_path`);
    }
    // schema_versions without workflow_runs: the failed initialisation of H8 (postgres at 4): no run
    // can exist. Nothing to purge, nothing to refuse.
    return { schemaVersion: version, empty: true, tables, columns, hasParentColumn: false, checkpointMatch: 'range', details };
  }
  if (version === 'pre-versioning' && !tables.has('events')) throw unknown('workflow_runs without events and without schema_versions');

  checkSqlColumns(tables, columns, REQUIRED, unknown);

  const checkpointMatch = tables.has('checkpoints') ? await checkpointMatchOf(client, oids.get('checkpoints')!) : 'range';
  return {
    schemaVersion: version,
    empty: false,
    tables,
    columns,
    hasParentColumn: columns.get('workflow_runs')?.has('parent_run_id') === true,
    checkpointMatch,
    details: {
      ...details,
      checkpoints: tables.has('checkpoints') ? checkpointMatch : 'absent',
      streams: tables.has('signals'),
      scheduledSignals: tables.has('scheduled_signals'),
      schedules: tables.has('schedules'),
    },
  };
}

/**
 * Pairs whose bytewise order differs from every linguistic collation we know (case, punctuation
 * weights, ignorable punctuation). A collation that orders all of them bytewise is treated as bytewise.
 */
const ORDER_PROBES: readonly [string, string][] = [
  ['A', 'a'], ['Z', 'a'], ['a:', 'a;'], ['run_a:z', 'run_ab'], ['r:~', 'r;'], ['a_b', 'ab'], ['a-b', 'a_b'], ['1', 'A'],
];

async function checkpointMatchOf(client: pg.Client, checkpointsOid: number): Promise<CheckpointMatch> {
  const coll = await client.query<{ name: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(co.collname) AS name
       FROM pg_attribute a JOIN pg_collation co ON co.oid = a.attcollation JOIN pg_namespace n ON n.oid = co.collnamespace
      WHERE a.attrelid = $1 AND a.attname = 'step_run_id'`,
    [checkpointsOid],
  );
  const name = coll.rows[0]?.name;
  if (name === undefined) return 'event-keys';
  // The collation name comes from the catalog, quoted by quote_ident: safe to splice.
  const probe = await client.query<{ ok: boolean }>(
    `SELECT bool_and(lo COLLATE ${name} < hi COLLATE ${name}) AS ok FROM unnest($1::text[], $2::text[]) AS p(lo, hi)`,
    [ORDER_PROBES.map((p) => p[0]), ORDER_PROBES.map((p) => p[1])],
  );
  return probe.rows[0]?.ok === true ? 'range' : 'event-keys';
}
