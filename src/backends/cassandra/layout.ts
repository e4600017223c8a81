// Recognises a pyworkflow Cassandra keyspace (docs/storage.md#detection-other) from system_schema: one of the
// 16/17/21-table generations with exactly pyworkflow's columns and keys, or a failed initialisation that
// holds no runs. Anything else is refused before a single delete.

import { RetentionError, UnknownSchemaError } from '../../errors.js';
import type { StoreLayout } from '../backend.js';
import type { CassandraSession } from './connection.js';
import { PYWORKFLOW_TABLES, tablesOf, type Generation, type TableDef } from './tables.js';

export const SUPPORTED_CASSANDRA_LAYOUTS = ['16 tables (≤ v0.1.37)', '17 tables (v0.2.0b1–v0.2.3)', '21 tables (v0.2.4+)'] as const;

export interface CassandraLayout extends StoreLayout {
  tables: ReadonlySet<string>;
}

const GENERATIONS: Generation[] = [21, 17, 16];

export async function detectCassandraLayout(session: CassandraSession): Promise<CassandraLayout> {
  const ks = session.keyspace;
  const what = session.target;
  const keyspaces = await session.schemaRows('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [ks]);
  if (keyspaces.length === 0) {
    throw new RetentionError(
      'CONNECTION_FAILED',
      `${what}: keyspace "${ks}" does not exist. pyworkflow creates it on its first connect; check the keyspace key of the storage config`,
    );
  }
  const tableNames = new Set(
    (await session.schemaRows('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [ks])).map((r) => r.get('table_name') as string),
  );
  const columns = new Map<string, Set<string>>();
  for (const r of await session.schemaRows(
    'SELECT table_name, column_name, kind, position, type, clustering_order FROM system_schema.columns WHERE keyspace_name = ?',
    [ks],
  )) {
    const table = r.get('table_name') as string;
    const set = columns.get(table) ?? new Set<string>();
    set.add(columnSignature(r.get('column_name') as string, r.get('type') as string, r.get('kind') as string, r.get('position') as number, r.get('clustering_order') as string));
    columns.set(table, set);
  }
  const supported = [...SUPPORTED_CASSANDRA_LAYOUTS];

  for (const generation of GENERATIONS) {
    const defs = tablesOf(generation);
    if (defs.length !== tableNames.size || !defs.every((d) => tableNames.has(d.name))) continue;
    const problems = defs.flatMap((d) => columnProblems(d, columns.get(d.name) ?? new Set()));
    if (problems.length > 0) throw new UnknownSchemaError(what, `${generation} pyworkflow tables, but ${problems.slice(0, 4).join('; ')}`, supported);
    return {
      schemaVersion: `${generation} tables`,
      empty: false,
      tables: tableNames,
      details: { keyspace: ks, checkpoints: tableNames.has('checkpoints'), streams: tableNames.has('signals') },
    };
  }

  const expected = tablesOf(21).map((d) => d.name);
  const missing = expected.filter((n) => !tableNames.has(n));
  const extra = [...tableNames].filter((n) => !PYWORKFLOW_TABLES.some((d) => d.name === n)).sort();
  const differences = [
    ...(missing.length > 0 ? [`missing ${missing.join(', ')}`] : []),
    ...(extra.length > 0 ? [`unexpected ${extra.join(', ')}`] : []),
  ].join('; ');

  // A strict prefix of pyworkflow's creation order is an initialisation that stopped midway. Every
  // pyworkflow release so far stops at `hooks` on a real Cassandra (its unquoted `token` column is a
  // reserved word), and connect() then raises, so no run can have been written.
  const prefix = PYWORKFLOW_TABLES.slice(0, tableNames.size);
  if (tableNames.size < PYWORKFLOW_TABLES.length && prefix.every((d) => tableNames.has(d.name))) {
    const problems = prefix.flatMap((d) => columnProblems(d, columns.get(d.name) ?? new Set()));
    if (problems.length > 0) throw new UnknownSchemaError(what, `an incomplete pyworkflow keyspace, and ${problems.slice(0, 4).join('; ')}`, supported);
    if (tableNames.has('workflow_runs') && (await session.one(`SELECT run_id FROM ${session.table('workflow_runs')} LIMIT 1`, [])) !== null) {
      throw new UnknownSchemaError(what, `keyspace "${ks}" is ${differences}, yet workflow_runs holds runs`, supported);
    }
    return {
      schemaVersion: `incomplete (${tableNames.size} of 21 tables)`,
      empty: true,
      tables: tableNames,
      details: { keyspace: ks },
    };
  }
  throw new UnknownSchemaError(what, `keyspace "${ks}" has ${tableNames.size} tables: ${differences || 'an unknown combination'}`, supported);
}

function columnSignature(name: string, type: string, kind: string, position: number, order: string): string {
  return `${name} ${type} ${kind} ${position} ${order}`;
}

function expectedColumns(d: TableDef): Set<string> {
  return new Set(
    d.columns.map(([name, type]) => {
      const pk = d.partitionKey.indexOf(name);
      if (pk >= 0) return columnSignature(name, type, 'partition_key', pk, 'none');
      const ck = d.clustering.findIndex(([c]) => c === name);
      if (ck >= 0) return columnSignature(name, type, 'clustering', ck, d.clustering[ck]![1]);
      return columnSignature(name, type, 'regular', -1, 'none');
    }),
  );
}

function columnProblems(d: TableDef, found: ReadonlySet<string>): string[] {
  const want = expectedColumns(d);
  const name = (sig: string): string => sig.split(' ')[0]!;
  const missing = [...want].filter((s) => !found.has(s));
  const extra = [...found].filter((s) => !want.has(s));
  return [
    ...missing.map((s) => (extra.some((e) => name(e) === name(s)) ? `${d.name}.${name(s)} differs (expected ${s})` : `${d.name} lacks ${name(s)}`)),
    ...extra.filter((s) => !missing.some((m) => name(m) === name(s))).map((s) => `${d.name} has unexpected column ${name(s)}`),
  ];
}
