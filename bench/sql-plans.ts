// Query plans of every statement a sweep really sends: a sweep runs in-process on one copy of a store
// while the driver's query method records each statement with its parameters; each distinct statement
// is then EXPLAINed on an identical, unswept copy. Used by the EXPLAIN tests and the SQL benchmark.

import mysql from 'mysql2/promise';
import pg from 'pg';

export interface CapturedStatement {
  text: string;
  values: unknown[];
}

/**
 * Tables at least as large as the run count: a full scan of one of them is a finding. (hooks, steps
 * and cancellation flags exist for a minority of runs; on small stores the planner rightly prefers
 * scanning them to a few hundred index probes. The plans list them all.)
 */
export const BIG_TABLES = ['workflow_runs', 'events', 'checkpoints'];

/** One entry per statement shape: OR-ed checkpoint ranges differ only in how many there are. */
function shapeOf(text: string): string {
  return text
    .replace(/\$\d+/g, '$')
    .replace(/\?/g, '$')
    .replace(/ OR \(step_run_id .*$/s, ' OR ...');
}

const TOUCHES_STORE = /\b(workflow_runs|events|steps|hooks|cancellation_flags|checkpoints|signals|signal_acknowledgments|stream_subscriptions|scheduled_signals|schedules)\b/;
const SKIP = /^\s*(BEGIN|COMMIT|ROLLBACK|SET|START|SELECT (pg_try_advisory_lock|pg_advisory_unlock|GET_LOCK|RELEASE_LOCK|VERSION|current_schemas)|SELECT t\.name|SELECT c\.relname|SELECT c\.TABLE_NAME|SELECT quote_ident|SELECT bool_and|SELECT version FROM schema_versions)/i;

function keep(text: string): boolean {
  return TOUCHES_STORE.test(text) && !SKIP.test(text);
}

/** Records the statements pg clients send while `work` runs; one entry per distinct text (first values). */
export async function capturePgStatements(work: () => Promise<void>): Promise<CapturedStatement[]> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const seen = new Map<string, CapturedStatement>();
  proto.query = function (this: unknown, ...args: unknown[]): unknown {
    const [first, second] = args;
    const text = typeof first === 'string' ? first : (first as { text?: string } | null)?.text;
    const values = typeof first === 'string' ? second : (first as { values?: unknown[] } | null)?.values;
    if (typeof text === 'string' && keep(text) && !seen.has(shapeOf(text))) seen.set(shapeOf(text), { text, values: Array.isArray(values) ? values : [] });
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    proto.query = original;
  }
  return [...seen.values()];
}

/** The same for mysql2/promise connections; values are spliced in with mysql2's own escaping. */
export async function captureMysqlStatements(work: () => Promise<void>): Promise<CapturedStatement[]> {
  // mysql2/promise exports the class its connections are made of, though its typings do not say so.
  const proto = (mysql as unknown as { PromiseConnection: { prototype: { query: (...args: unknown[]) => unknown } } }).PromiseConnection.prototype;
  const original = proto.query;
  const seen = new Map<string, CapturedStatement>();
  proto.query = function (this: unknown, ...args: unknown[]): unknown {
    const [first, second] = args;
    const text = typeof first === 'string' ? first : (first as { sql?: string } | null)?.sql;
    if (typeof text === 'string' && keep(text) && !seen.has(shapeOf(text))) seen.set(shapeOf(text), { text, values: Array.isArray(second) ? second : [] });
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    proto.query = original;
  }
  return [...seen.values()];
}

export interface PlanReport {
  statement: string;
  /** One line per plan node: node type, relation, index. */
  nodes: string[];
  /** Big tables read by a full scan. */
  fullScans: string[];
}

interface PgPlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PgPlanNode[];
}

function walkPg(node: PgPlanNode, out: string[], scans: string[]): void {
  out.push([node['Node Type'], node['Relation Name'], node['Index Name'] && `using ${node['Index Name']}`].filter(Boolean).join(' '));
  if (node['Node Type'] === 'Seq Scan' && node['Relation Name'] && BIG_TABLES.includes(node['Relation Name'])) scans.push(node['Relation Name']);
  for (const child of node.Plans ?? []) walkPg(child, out, scans);
}

/**
 * EXPLAINs each statement on `client` (a session on an unswept copy), with the values the sweep bound
 * (custom plan) and, for statements with parameters, as a generic plan too: named statements are
 * planned generically once pg has run them a few times.
 */
export async function explainPg(client: pg.Client, statements: readonly CapturedStatement[]): Promise<PlanReport[]> {
  const reports: PlanReport[] = [];
  await client.query('BEGIN');
  try {
    for (const [i, s] of statements.entries()) {
      const custom = await client.query<{ 'QUERY PLAN': [{ Plan: PgPlanNode }] }>(`EXPLAIN (FORMAT JSON) ${s.text}`, s.values);
      const nodes: string[] = [];
      const scans: string[] = [];
      walkPg(custom.rows[0]!['QUERY PLAN'][0].Plan, nodes, scans);
      if (s.values.length > 0) {
        await client.query(`PREPARE pywr_plan_${i} AS ${s.text}`);
        await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
        // EXECUTE takes no bind parameters: the values go in as literals.
        const literals = s.values.map((v) => pgLiteral(client, v));
        const generic = await client.query<{ 'QUERY PLAN': [{ Plan: PgPlanNode }] }>(`EXPLAIN (FORMAT JSON) EXECUTE pywr_plan_${i}(${literals.join(', ')})`);
        const genericNodes: string[] = [];
        walkPg(generic.rows[0]!['QUERY PLAN'][0].Plan, genericNodes, scans);
        await client.query('SET LOCAL plan_cache_mode = auto');
        nodes.push(`generic: ${genericNodes.join(' > ')}`);
      }
      reports.push({ statement: s.text.replace(/\s+/g, ' ').slice(0, 160), nodes, fullScans: [...new Set(scans)] });
    }
  } finally {
    await client.query('ROLLBACK');
  }
  return reports;
}

function pgLiteral(client: pg.Client, v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) {
    const items = v.map((x) => (x === null ? 'NULL' : `"${String(x).replace(/[\\"]/g, (c) => `\\${c}`)}"`));
    return client.escapeLiteral(`{${items.join(',')}}`);
  }
  return client.escapeLiteral(typeof v === 'string' ? v : JSON.stringify(v));
}

interface MysqlExplainTable {
  table_name?: string;
  access_type?: string;
  key?: string;
}

function walkMysql(value: unknown, out: MysqlExplainTable[]): void {
  if (Array.isArray(value)) for (const v of value) walkMysql(v, out);
  else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const table = o.table;
    if (table !== null && typeof table === 'object' && !Array.isArray(table)) out.push(table);
    for (const v of Object.values(o)) walkMysql(v, out);
  }
}

/** EXPLAIN FORMAT=JSON of each statement (values spliced in) on `conn`, a session on an unswept copy. */
export async function explainMysql(conn: mysql.Connection, statements: readonly CapturedStatement[]): Promise<PlanReport[]> {
  const reports: PlanReport[] = [];
  for (const s of statements) {
    const sql = mysql.format(s.text, s.values as Parameters<typeof mysql.format>[1]);
    const [rows] = await conn.query<mysql.RowDataPacket[]>(`EXPLAIN FORMAT=JSON ${sql}`);
    const tables: MysqlExplainTable[] = [];
    walkMysql(JSON.parse(String(rows[0]!.EXPLAIN)) as unknown, tables);
    reports.push({
      statement: s.text.replace(/\s+/g, ' ').slice(0, 160),
      nodes: tables.map((t) => `${t.table_name ?? '?'} ${t.access_type ?? '?'}${t.key ? ` using ${t.key}` : ''}`),
      fullScans: [...new Set(tables.filter((t) => t.access_type === 'ALL' && BIG_TABLES.includes(t.table_name ?? '')).map((t) => t.table_name!))],
    });
  }
  return reports;
}

/** Consecutive identical nodes (a BitmapOr of many ranges) shown once with a count. */
function collapse(nodes: readonly string[], sep: string): string {
  const out: string[] = [];
  for (let i = 0; i < nodes.length; ) {
    let j = i;
    while (j < nodes.length && nodes[j] === nodes[i]) j++;
    out.push(j - i > 1 ? `${nodes[i]} (x${j - i})` : nodes[i]!);
    i = j;
  }
  return out.join(sep);
}

export function formatPlans(reports: readonly PlanReport[]): string {
  return reports
    .map((r) => {
      const lines = r.nodes.map((n) => (n.startsWith('generic: ') ? `generic: ${collapse(n.slice(9).split(' > '), ' > ')}` : n));
      return `${r.fullScans.length > 0 ? 'FULL SCAN ' : ''}${r.statement}\n    ${collapse(lines, '\n    ')}`;
    })
    .join('\n');
}
