// Which checkpoint rows belong to a batch of runs: keys starting exactly with `{run_id}:` (H9). Never a
// LIKE (its '_' wildcard matches other runs' keys); always through checkpoints_pkey:
// - a batch's roots come from one candidate page, contiguous in run_id order, so when the stretch of
//   the table between the first and last root is dense with them, one primary-key range scan plus an
//   exact filter on the key's run part finds all their checkpoints;
// - other runs (descendants, or roots of a sparse page) each get the exact range [R:, R;);
// - under a linguistic collation no prefix is a range: keys are built from the runs' step ids.

import type pg from 'pg';
import type { RunState } from '../backend.js';
import type { PostgresLayout } from './layout.js';

/** Runs per OR-ed statement of exact ranges: plans in a couple of milliseconds. */
const RANGES_PER_STATEMENT = 100;
/** A root stretch is dense when it holds at most this many runs per root. */
const DENSITY_LIMIT = 8;

export interface CheckpointStatement {
  text: string;
  values: unknown[];
}

/** The roots of a batch: runs whose parent is not in it. Sorted, as the primary key orders them. */
export function rootIds(runs: readonly Pick<RunState, 'runId' | 'parentRunId'>[]): string[] {
  const ids = new Set(runs.map((r) => r.runId));
  return runs.filter((r) => r.parentRunId === null || !ids.has(r.parentRunId)).map((r) => r.runId).sort();
}

/**
 * How many runs lie between the first and last root (capped just above the density limit): read from
 * the primary key only, and sent with the batch's lock read so it costs no round trip of its own.
 */
export function densityProbe(client: pg.Client, roots: readonly string[]): Promise<number> {
  if (roots.length === 0) return Promise.resolve(0);
  return client
    .query<{ n: string }>({
      name: 'pywr-root-stretch',
      text: 'SELECT count(*) AS n FROM (SELECT 1 FROM workflow_runs WHERE run_id >= $1 AND run_id <= $2 LIMIT $3) x',
      values: [roots[0], roots[roots.length - 1], roots.length * DENSITY_LIMIT + 1],
    })
    .then((r) => Number(r.rows[0]?.n ?? 0));
}

export function isDense(stretch: number, roots: number): boolean {
  return roots > 0 && stretch <= roots * DENSITY_LIMIT;
}

/** Statements (verb: `DELETE FROM` or `SELECT count(*) AS n FROM`) covering the confirmed runs' checkpoints. */
export function rangeStatements(verb: string, confirmed: readonly RunState[], denseRoots: boolean): CheckpointStatement[] {
  const roots = new Set(denseRoots ? rootIds(confirmed) : []);
  const out: CheckpointStatement[] = [];
  if (roots.size > 0) {
    const sorted = [...roots].sort();
    out.push({
      // The key's run part is everything before its first ':' (run ids hold none), and a key without
      // ':' belongs to no run. ';' is the code point after ':'.
      text: `${verb} checkpoints WHERE step_run_id >= $1 AND step_run_id < $2 AND strpos(step_run_id, ':') > 0 AND split_part(step_run_id, ':', 1) = ANY($3::text[])`,
      values: [`${sorted[0]}:`, `${sorted[sorted.length - 1]};`, sorted],
    });
  }
  const rest = confirmed.map((r) => r.runId).filter((id) => !roots.has(id));
  for (let i = 0; i < rest.length; i += RANGES_PER_STATEMENT) {
    const values: string[] = [];
    const ranges = rest.slice(i, i + RANGES_PER_STATEMENT).map((id) => {
      values.push(`${id}:`, `${id};`);
      return `(step_run_id >= $${values.length - 1} AND step_run_id < $${values.length})`;
    });
    out.push({ text: `${verb} checkpoints WHERE ${ranges.join(' OR ')}`, values });
  }
  return out;
}

/**
 * `{run_id}:{step_id}` for every step id the runs' events and step records name: the keys of
 * pyworkflow's @step checkpoints. Used where the collation keeps no prefix contiguous.
 */
export async function eventCheckpointKeys(client: pg.Client, layout: PostgresLayout, runIds: readonly string[]): Promise<string[]> {
  const parts: string[] = [];
  if (layout.tables.has('events')) {
    const stepId = layout.columns.get('events')?.has('step_id')
      ? `COALESCE(step_id, substring(data from '"step_id"\\s*:\\s*"([^"]+)"'))`
      : `substring(data from '"step_id"\\s*:\\s*"([^"]+)"')`;
    parts.push(`SELECT run_id || ':' || ${stepId} AS k FROM events WHERE run_id = ANY($1::text[])`);
  }
  if (layout.tables.has('steps')) parts.push(`SELECT run_id || ':' || step_id AS k FROM steps WHERE run_id = ANY($1::text[])`);
  if (parts.length === 0) return [];
  const res = await client.query<{ k: string | null }>(`SELECT DISTINCT k FROM (${parts.join(' UNION ALL ')}) x WHERE k IS NOT NULL`, [runIds]);
  return res.rows.map((r) => r.k!);
}
