// Schema catalogs of PostgreSQL and MySQL databases in a comparable form (columns with types and
// defaults in order, constraints, indexes), so a seeded store can be checked against one that real
// pyworkflow created.

import type mysql from 'mysql2/promise';
import { withMysql } from './mysql-store.js';
import { withPgClient } from './postgres-store.js';

export async function postgresCatalog(database: string, schema = 'public'): Promise<Record<string, string[]>> {
  return withPgClient(database, async (c) => {
    const q = async (sql: string): Promise<string[]> => (await c.query<{ x: string }>(sql, sql.includes('$1') ? [schema] : [])).rows.map((r) => r.x);
    return {
      columns: await q(`SELECT table_name || '.' || ordinal_position || ' ' || column_name || ' ' || data_type || ' null=' || is_nullable
                          || ' default=' || coalesce(column_default, '-') AS x
                          FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position`),
      constraints: await q(`SELECT rel.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid) AS x
                              FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace n ON n.oid = rel.relnamespace
                             WHERE n.nspname = $1 ORDER BY 1`),
      indexes: await q(`SELECT replace(indexdef, $1 || '.', '') AS x FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`),
      versions: await q(`SELECT version || ' ' || description AS x FROM ${schema}.schema_versions ORDER BY version`),
    };
  });
}

export async function mysqlCatalog(database: string): Promise<Record<string, string[]>> {
  return withMysql(database, async (c) => {
    const [tables] = await c.query<mysql.RowDataPacket[]>("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1");
    const ddl: string[] = [];
    for (const { t } of tables) {
      const [rows] = await c.query<mysql.RowDataPacket[]>(`SHOW CREATE TABLE \`${String(t)}\``);
      ddl.push(String(rows[0]!['Create Table']).replace(/ AUTO_INCREMENT=\d+/, ''));
    }
    const [versions] = await c.query<mysql.RowDataPacket[]>('SELECT version, description FROM schema_versions ORDER BY version');
    return { ddl, versions: versions.map((v) => `${String(v.version)} ${String(v.description)}`) };
  });
}
