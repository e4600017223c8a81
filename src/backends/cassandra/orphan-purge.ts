// One Cassandra orphan group (run_id without a workflow_runs row, H24): read every row of it, date it,
// re-check that no workflow_runs row appeared, then delete exactly the rows read: lookup rows first (as
// the run purge does, conditionally where ids repeat across runs), then the counted rows, and last one
// anchor row with `IF EXISTS`. Cassandra cannot tell a plain delete's caller whether it removed
// anything, so the anchor's Paxos round decides which of two concurrent sweeps counts the group; a
// killed sweep leaves the anchor, through which a re-run finds the group again.
//
// Rows are deleted by their full keys (events by a range up to the newest one read), never by partition:
// an event a stream step appends meanwhile, or a hook created meanwhile, is not one of them and stays.

import type { KindCounts } from '../../engine/records.js';
import type { Row } from './connection.js';
import type { PurgeContext } from './purge.js';
import { readRun } from './runs.js';

export type OrphanCounts = Pick<KindCounts, 'events' | 'steps' | 'hooks' | 'cancellationFlags' | 'checkpoints'>;

/** A statement with its parameters. */
type Stmt = [string, unknown[]];

interface GroupRows {
  events: number;
  /** event_time of the newest event (the partition is clustered by it, ascending). */
  newestEvent: unknown;
  steps: string[];
  hooks: { hookId: string; token: string }[];
  flag: boolean;
  checkpoints: string[];
  newestMs: number;
  /** A row without any readable timestamp: the group stays. */
  undatable: boolean;
}

/** The group's counts when this sweep purged it (or, in a dry run, would); null when it stays or another sweep took it. */
export async function purgeOrphanGroup(ctx: PurgeContext, runId: string, checkpointKeys: readonly string[], cutoffMs: number, dryRun: boolean): Promise<OrphanCounts | null> {
  const { session, logger } = ctx;
  const rows = await readGroup(ctx, runId, checkpointKeys);
  const counts: OrphanCounts = {
    events: rows.events, steps: rows.steps.length, hooks: rows.hooks.length, cancellationFlags: rows.flag ? 1 : 0, checkpoints: rows.checkpoints.length,
  };
  if (Object.values(counts).every((n) => n === 0)) return null;
  if (rows.undatable) {
    logger.warn('orphan group kept: a row of it has no timestamp', { runId });
    return null;
  }
  if (rows.newestMs >= cutoffMs) return null;
  // Immediately before deleting: a run record written since the scan makes it a run's data again.
  if ((await readRun(session, runId)) !== null) {
    logger.info('orphan group kept: its run record exists now', { runId });
    return null;
  }
  if (dryRun) return counts;

  const t = (name: string): string => session.table(name);
  const R = runId;
  const namesRun = (row: Row | null): boolean => row !== null && row.get('run_id') === R;
  // 1. Lookup rows, while the rows that lead to them still exist: a plain read first, so only rows that
  //    name this run get a conditional delete (hook and step ids repeat across runs).
  const [stepLookups, hookLookups, foreignTokens] = await Promise.all([
    filterAsync(rows.steps, async (id) => namesRun(await session.one(`SELECT run_id FROM ${t('steps_by_id')} WHERE step_id = ?`, [id]))),
    filterAsync([...new Set(rows.hooks.map((h) => h.hookId))], async (id) => namesRun(await session.one(`SELECT run_id FROM ${t('hooks_by_id')} WHERE hook_id = ?`, [id]))),
    filterAsync(
      rows.hooks.map((h) => h.token).filter((tok) => tok !== '' && !tok.startsWith(`${R}:`)),
      async (tok) => namesRun(await session.one(`SELECT run_id FROM ${t('hooks_by_token')} WHERE "token" = ?`, [tok])),
    ),
  ]);
  await Promise.all([
    ...rows.hooks.filter((h) => h.token.startsWith(`${R}:`)).map((h) => session.write(`DELETE FROM ${t('hooks_by_token')} WHERE "token" = ?`, [h.token])),
    ...foreignTokens.map((tok) => session.conditional(`DELETE FROM ${t('hooks_by_token')} WHERE "token" = ? IF run_id = ?`, [tok, R])),
    ...hookLookups.map((id) => session.conditional(`DELETE FROM ${t('hooks_by_id')} WHERE hook_id = ? IF run_id = ?`, [id, R])),
    ...stepLookups.map((id) => session.conditional(`DELETE FROM ${t('steps_by_id')} WHERE step_id = ? IF run_id = ?`, [id, R])),
  ]);

  // 2. The rows read, by their keys; the last one is the anchor.
  const deletes: Stmt[] = [
    ...rows.checkpoints.map((k): Stmt => [`DELETE FROM ${t('checkpoints')} WHERE step_run_id = ?`, [k]]),
    ...rows.hooks.map((h): Stmt => [`DELETE FROM ${t('hooks')} WHERE run_id = ? AND hook_id = ?`, [R, h.hookId]]),
    ...rows.steps.map((id): Stmt => [`DELETE FROM ${t('steps')} WHERE run_id = ? AND step_id = ?`, [R, id]]),
    ...(rows.flag ? [[`DELETE FROM ${t('cancellation_flags')} WHERE run_id = ?`, [R]] as Stmt] : []),
    ...(rows.events > 1 ? [[`DELETE FROM ${t('events')} WHERE run_id = ? AND event_time < ?`, [R, rows.newestEvent]] as Stmt] : []),
    ...(rows.events > 0 ? [[`DELETE FROM ${t('events')} WHERE run_id = ? AND event_time = ?`, [R, rows.newestEvent]] as Stmt] : []),
  ];
  const [anchorCql, anchorParams] = deletes.pop()!;
  await Promise.all(deletes.map(([cql, params]) => session.write(cql, params)));
  // 3. The anchor: of two sweeps at once exactly one sees it applied, and only that one counts the group.
  const anchor = await session.conditional(`${anchorCql} IF EXISTS`, anchorParams);
  return anchor.applied ? counts : null;
}

async function readGroup(ctx: PurgeContext, R: string, checkpointKeys: readonly string[]): Promise<GroupRows> {
  const { session, layout } = ctx;
  const t = (name: string): string => session.table(name);
  const rows: GroupRows = { events: 0, newestEvent: null, steps: [], hooks: [], flag: false, checkpoints: [], newestMs: -Infinity, undatable: false };
  const seen = (...stamps: unknown[]): void => {
    const ms = stamps.filter((s): s is Date => s instanceof Date && !Number.isNaN(s.getTime())).map((d) => d.getTime());
    if (ms.length === 0) rows.undatable = true;
    else rows.newestMs = Math.max(rows.newestMs, ...ms);
  };
  const [, stepRows, hookRows, flag, checkpoints] = await Promise.all([
    session.eachPage(`SELECT event_time, timestamp FROM ${t('events')} WHERE run_id = ?`, [R], 500, (page) => {
      for (const r of page) {
        rows.events += 1;
        rows.newestEvent = r.get('event_time');
        // An event without its timestamp column is dated by its time-based event_time.
        seen(r.get('timestamp') ?? (r.get('event_time') as { getDate(): Date } | null)?.getDate());
      }
    }),
    session.all(`SELECT step_id, created_at, updated_at FROM ${t('steps')} WHERE run_id = ?`, [R]),
    session.all(`SELECT hook_id, "token", created_at, received_at FROM ${t('hooks')} WHERE run_id = ?`, [R]),
    session.one(`SELECT created_at FROM ${t('cancellation_flags')} WHERE run_id = ?`, [R]),
    layout.tables.has('checkpoints') ? readCheckpoints(ctx, checkpointKeys) : Promise.resolve([]),
  ]);
  for (const r of stepRows) {
    rows.steps.push(r.get('step_id') as string);
    seen(r.get('created_at'), r.get('updated_at'));
  }
  for (const r of hookRows) {
    rows.hooks.push({ hookId: r.get('hook_id') as string, token: (r.get('token') as string | null) ?? '' });
    seen(r.get('created_at'), r.get('received_at'));
  }
  if (flag !== null) {
    rows.flag = true;
    seen(flag.get('created_at'));
  }
  for (const r of checkpoints) {
    rows.checkpoints.push(r.get('step_run_id') as string);
    seen(r.get('created_at'), r.get('updated_at'));
  }
  return rows;
}

/** Keys per `IN` read of checkpoints: small multi-partition reads. */
const IN_CHUNK = 50;

async function readCheckpoints(ctx: PurgeContext, keys: readonly string[]): Promise<Row[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < keys.length; i += IN_CHUNK) chunks.push(keys.slice(i, i + IN_CHUNK));
  const cql = `SELECT step_run_id, created_at, updated_at FROM ${ctx.session.table('checkpoints')} WHERE step_run_id IN ?`;
  return (await Promise.all(chunks.map((c) => ctx.session.all(cql, [c])))).flat();
}

async function filterAsync<T>(items: readonly T[], pred: (item: T) => Promise<boolean>): Promise<T[]> {
  const keep = await Promise.all(items.map(pred));
  return items.filter((_, i) => keep[i]);
}
