// Reading runs from pyworkflow's table: candidates through GSI1 (partition `RUNS`, sort key
// `{status}#{ts}`), children through GSI4 (`PARENT#{id}`), and the run item itself with a consistent
// read, which is the only truth (GSI reads are eventually consistent).

import type { QueryCommandInput } from '@aws-sdk/client-dynamodb';
import type { CandidateQuery, RunState } from '../backend.js';
import { COARSE_MARGIN_MS, formatPythonUtc, parsePythonTimestamp } from '../python-time.js';
import { str, type DynamoApi, type Item } from './client.js';
import { METADATA_SK, parentGsi4pk, RUNS_GSI1PK, runMetadataKey } from './keys.js';
import { batchGet, queryAll, queryPages, type Limiter } from './requests.js';

/** A run as read, with the raw text a conditional delete compares against. */
export interface RunRead {
  state: RunState;
  statusText: string | undefined;
  updatedAtText: string | undefined;
}

const RUN_ATTRIBUTES = { projection: 'run_id, PK, #st, updated_at, parent_run_id', names: { '#st': 'status' } };

export function toRunRead(item: Item): RunRead | null {
  const pk = str(item, 'PK');
  const runId = str(item, 'run_id') ?? (pk?.startsWith('RUN#') ? pk.slice(4) : undefined);
  if (runId === undefined) return null;
  const statusText = str(item, 'status');
  const updatedAtText = str(item, 'updated_at');
  return {
    state: { runId, status: statusText ?? '', updatedAt: parsePythonTimestamp(updatedAtText), parentRunId: str(item, 'parent_run_id') ?? null },
    statusText,
    updatedAtText,
  };
}

/**
 * Candidate pages: per selected status, a Query of GSI1 `RUNS` with begins_with(GSI1SK, `{status}#`),
 * filtered on the `updated_at` attribute (GSI1SK's timestamp is the last status change, not
 * updated_at, H12) by text comparison with a cutoff moved COARSE_MARGIN_MS later; the engine tests
 * the parsed instant exactly. LastEvaluatedKey pagination: deleting runs already returned does not
 * move the position, so nothing is skipped or repeated.
 */
export async function* candidatePages(api: DynamoApi, table: string, query: CandidateQuery): AsyncGenerator<RunState[]> {
  let page: RunState[] = [];
  for (const status of query.statuses) {
    for await (const items of queryPages(api, candidateInput(table, status, query))) {
      for (const item of items) {
        const run = toRunRead(item);
        if (run) page.push(run.state);
      }
      if (page.length >= query.pageSize) {
        yield page;
        page = [];
      }
    }
  }
  if (page.length > 0) yield page;
}

export async function countCandidates(api: DynamoApi, table: string, query: CandidateQuery): Promise<number> {
  let n = 0;
  for (const status of query.statuses) {
    let start: Item | undefined;
    do {
      const { ProjectionExpression: _p, ExpressionAttributeNames: _n, ...input } = candidateInput(table, status, query);
      const out = await api.query({ ...input, Select: 'COUNT', ...(start ? { ExclusiveStartKey: start } : {}) });
      n += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
  }
  return n;
}

function candidateInput(table: string, status: string, query: CandidateQuery): QueryCommandInput {
  const coarse = formatPythonUtc(new Date(query.cutoff.getTime() + COARSE_MARGIN_MS));
  return {
    TableName: table,
    IndexName: 'GSI1',
    KeyConditionExpression: 'GSI1PK = :pk AND begins_with(GSI1SK, :st)',
    FilterExpression: 'updated_at < :coarse',
    ExpressionAttributeValues: { ':pk': { S: RUNS_GSI1PK }, ':st': { S: `${status}#` }, ':coarse': { S: coarse } },
    ProjectionExpression: RUN_ATTRIBUTES.projection,
    ExpressionAttributeNames: RUN_ATTRIBUTES.names,
    // Items evaluated per request (before the filter): bounds each response, not what a page yields.
    Limit: Math.max(query.pageSize, 100),
  };
}

/** The run items of these ids, read consistently; a missing id is a run that no longer exists. */
export async function readRuns(api: DynamoApi, table: string, runIds: readonly string[]): Promise<Map<string, RunRead>> {
  const items = await batchGet(api, table, runIds.map(runMetadataKey), {
    consistent: true,
    projection: RUN_ATTRIBUTES.projection,
    names: RUN_ATTRIBUTES.names,
  });
  const out = new Map<string, RunRead>();
  for (const item of items) {
    const run = toRunRead(item);
    if (run) out.set(run.state.runId, run);
  }
  return out;
}

/**
 * GSI4 listings (parent id -> child run ids) read while a batch was planned, reused when the batch is
 * purged moments later: both reads are eventually consistent, so a second one would not be fresher
 * in any way a sweep could rely on, and it halves the index queries. Entries are dropped when used.
 */
export class ChildListings {
  private readonly listed = new Map<string, string[]>();

  get(parent: string): string[] | undefined {
    return this.listed.get(parent);
  }

  set(parent: string, children: string[]): void {
    // Bounded: a sweep plans one batch at a time, so anything this old is stale anyway.
    if (this.listed.size >= 50_000) this.listed.clear();
    this.listed.set(parent, children);
  }

  forget(parents: Iterable<string>): void {
    for (const p of parents) this.listed.delete(p);
  }

  clear(): void {
    this.listed.clear();
  }
}

/**
 * Children of the given parents: run ids from GSI4 `PARENT#{id}` (eventually consistent, so possibly
 * stale; taken from `listings` where already read), then each child's own item read consistently,
 * which decides whether it exists and whose child it is.
 */
export async function readChildren(
  api: DynamoApi, table: string, parentRunIds: readonly string[], limiter: Limiter, listings: ChildListings,
): Promise<RunRead[]> {
  const parents = new Set(parentRunIds);
  const childIds = new Set<string>();
  const unlisted = [...parents].filter((p) => {
    const known = listings.get(p);
    for (const c of known ?? []) childIds.add(c);
    return known === undefined;
  });
  await limiter.map(unlisted, async (parent) => {
    const items = await queryAll(api, {
      TableName: table,
      IndexName: 'GSI4',
      KeyConditionExpression: 'GSI4PK = :pk',
      ExpressionAttributeValues: { ':pk': { S: parentGsi4pk(parent) } },
      ProjectionExpression: 'PK, SK, run_id',
    });
    const ids = items.filter((i) => str(i, 'SK') === METADATA_SK).flatMap((i) => toRunRead(i)?.state.runId ?? []);
    listings.set(parent, ids);
    for (const c of ids) childIds.add(c);
  });
  const current = await readRuns(api, table, [...childIds]);
  return [...current.values()].filter((c) => c.state.parentRunId !== null && parents.has(c.state.parentRunId));
}
