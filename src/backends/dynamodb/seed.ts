// Creates a DynamoDB table exactly as pyworkflow-engine 0.4.0's _ensure_table_exists does, and writes a
// neutral Dataset into it as pyworkflow's item shapes (attributes whose value is None omitted, numbers
// as N, JSON as Python's json.dumps text). Used by the tests and the benchmark.

import type { AttributeValue, CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { Dataset } from '../../model/dataset.js';
import { pythonJsonDumps } from '../file/python-json.js';
import { formatPythonUtc } from '../python-time.js';
import type { DynamoApi, Item } from './client.js';
import {
  cancellationKey, checkpointKey, EVENT_COUNTER_SK, eventSk, hookPk, METADATA_SK, parentGsi4pk, runHooksGsi1pk, runMetadataKey, RUNS_GSI1PK,
  SCHEDULES_GSI1PK, signalSk, streamRunPk, tokenPk,
} from './keys.js';
import { batchPut } from './requests.js';

/** pyworkflow's CreateTable request (table name aside), as verified against DescribeTable of a table pyworkflow created. */
export function pyworkflowCreateTable(table: string): CreateTableCommandInput {
  const gsi = (name: string, hash: string, range?: string) => ({
    IndexName: name,
    KeySchema: [{ AttributeName: hash, KeyType: 'HASH' as const }, ...(range ? [{ AttributeName: range, KeyType: 'RANGE' as const }] : [])],
    Projection: { ProjectionType: 'ALL' as const },
  });
  return {
    TableName: table,
    KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
    AttributeDefinitions: ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK', 'GSI3PK', 'GSI4PK', 'GSI4SK', 'GSI5PK', 'GSI5SK'].map((a) => ({
      AttributeName: a,
      AttributeType: 'S' as const,
    })),
    GlobalSecondaryIndexes: [
      gsi('GSI1', 'GSI1PK', 'GSI1SK'),
      gsi('GSI2', 'GSI2PK', 'GSI2SK'),
      gsi('GSI3', 'GSI3PK'),
      gsi('GSI4', 'GSI4PK', 'GSI4SK'),
      gsi('GSI5', 'GSI5PK', 'GSI5SK'),
    ],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/** Creates the table and waits until it is ACTIVE. */
export async function createPyworkflowTable(api: DynamoApi, table: string, timeoutMs = 60_000): Promise<void> {
  await api.createTable(pyworkflowCreateTable(table));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await api.describeTable({ TableName: table });
    if (t.Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`table ${table} not ACTIVE after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface DynamoSeedOptions {
  /** Hooks (by `${run_id}:${hook_id}`) to write in the pre-v0.1.14 shape `HOOK#{hook_id}` (H20); their hook ids must be unique. */
  legacyHooks?: ReadonlySet<string>;
}

/** Writes the dataset into an existing pyworkflow table. */
export async function writeDynamoDataset(api: DynamoApi, table: string, d: Dataset, options: DynamoSeedOptions = {}): Promise<void> {
  await batchPut(api, table, datasetItems(d, options));
}

const S = (v: string): AttributeValue => ({ S: v });
const N = (v: number): AttributeValue => ({ N: String(v) });
const ts = (d: Date): string => formatPythonUtc(d);

/** Drops undefined/null values, as pyworkflow's _dict_to_item drops None. */
function item(fields: Record<string, AttributeValue | undefined | null>): Item {
  const out: Item = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}
const opt = (v: string | null | undefined): AttributeValue | undefined => (v === null || v === undefined ? undefined : S(v));

/** Every item pyworkflow would hold for the dataset. */
export function datasetItems(d: Dataset, options: DynamoSeedOptions = {}): Item[] {
  const out: Item[] = [];
  const eventsPerRun = new Map<string, number>();
  for (const e of d.events) eventsPerRun.set(e.run_id, Math.max(eventsPerRun.get(e.run_id) ?? 0, e.sequence + 1));

  for (const r of d.runs) {
    const key = runMetadataKey(r.run_id);
    out.push(item({
      PK: S(key.PK), SK: S(key.SK), entity_type: S('run'), run_id: S(r.run_id), workflow_name: S(r.workflow_name), status: S(r.status),
      created_at: S(ts(r.created_at)), updated_at: S(ts(r.updated_at)), started_at: opt(r.started_at && ts(r.started_at)),
      completed_at: opt(r.completed_at && ts(r.completed_at)), input_args: S(r.input_args), input_kwargs: S(r.input_kwargs),
      result: opt(r.result), error: opt(r.error), idempotency_key: opt(r.idempotency_key), context: S(r.context),
      recovery_attempts: N(0), max_recovery_attempts: N(3), recover_on_worker_loss: { BOOL: true }, parent_run_id: opt(r.parent_run_id),
      nesting_depth: N(r.nesting_depth), continued_from_run_id: opt(r.continued_from_run_id), continued_to_run_id: opt(r.continued_to_run_id),
      // The final update_run_status wrote `{status}#{now}` and updated_at = now.
      GSI1PK: S(RUNS_GSI1PK), GSI1SK: S(`${r.status}#${ts(r.updated_at)}`),
      GSI2PK: S(`WORKFLOW#${r.workflow_name}`), GSI2SK: S(ts(r.created_at)),
      GSI3PK: opt(r.idempotency_key && `IDEMPOTENCY#${r.idempotency_key}`),
      GSI4PK: opt(r.parent_run_id && parentGsi4pk(r.parent_run_id)), GSI4SK: opt(r.parent_run_id && `CHILD#${r.run_id}`),
    }));
    const seq = eventsPerRun.get(r.run_id);
    if (seq !== undefined) out.push({ PK: S(key.PK), SK: S(EVENT_COUNTER_SK), seq: N(seq) });
  }
  for (const e of d.events) {
    out.push({
      PK: S(`RUN#${e.run_id}`), SK: S(eventSk(e.sequence)), entity_type: S('event'), event_id: S(e.event_id), run_id: S(e.run_id),
      sequence: N(e.sequence), type: S(e.type), timestamp: S(ts(e.timestamp)), data: S(pythonJsonDumps(e.data)),
    });
  }
  for (const s of d.steps) {
    out.push({
      PK: S(`RUN#${s.run_id}`), SK: S(`STEP#${s.step_id}`), entity_type: S('step'), step_id: S(s.step_id), run_id: S(s.run_id),
      step_name: S(s.step_name), status: S(s.status), created_at: S(ts(s.created_at)), started_at: S(ts(s.created_at)),
      input_args: S('[]'), input_kwargs: S('{}'), retry_count: N(0),
    });
  }
  for (const h of d.hooks) {
    const legacy = options.legacyHooks?.has(`${h.run_id}:${h.hook_id}`) ?? false;
    const pk = hookPk(h.run_id, h.hook_id, legacy);
    out.push({
      PK: S(pk), SK: S(METADATA_SK), entity_type: S('hook'), hook_id: S(h.hook_id), run_id: S(h.run_id), token: S(h.token),
      created_at: S(ts(h.created_at)), status: S(h.status), metadata: S('{}'),
      // update_hook_status never rewrites GSI1SK: it keeps the status the hook was created with.
      GSI1PK: S(runHooksGsi1pk(h.run_id)), GSI1SK: S(`pending#${ts(h.created_at)}`),
    });
    // Token items written before v0.1.14 carried no run_id (get_hook_by_token copes with its absence).
    out.push(item({ PK: S(tokenPk(h.token)), SK: S(pk), entity_type: S('hook_token'), hook_id: S(h.hook_id), run_id: legacy ? undefined : S(h.run_id) }));
  }
  for (const f of d.cancellationFlags) {
    const k = cancellationKey(f.run_id);
    out.push({ PK: S(k.PK), SK: S(k.SK), entity_type: S('cancellation'), run_id: S(f.run_id), created_at: S(ts(f.created_at)) });
  }
  for (const c of d.checkpoints) {
    const k = checkpointKey(c.step_run_id);
    out.push({
      PK: S(k.PK), SK: S(k.SK), entity_type: S('checkpoint'), step_run_id: S(c.step_run_id), data: S(pythonJsonDumps(c.data)),
      created_at: S(ts(c.created_at)), updated_at: S(ts(c.updated_at)),
    });
  }
  for (const s of d.schedules) {
    out.push({
      PK: S(`SCHEDULE#${s.schedule_id}`), SK: S(METADATA_SK), entity_type: S('schedule'), schedule_id: S(s.schedule_id),
      workflow_name: S(s.workflow_name), spec: S('0 * * * *'), spec_type: S('cron'), timezone: S('UTC'), input_args: S('[]'),
      input_kwargs: S('{}'), status: S(s.status), overlap_policy: S('skip'), running_run_ids: S(pythonJsonDumps(s.running_run_ids)),
      created_at: S(ts(s.created_at)), updated_at: S(ts(s.updated_at)),
      GSI1PK: S(SCHEDULES_GSI1PK), GSI1SK: S(`${s.status}#${ts(s.created_at)}`),
      GSI2PK: S(`WORKFLOW#${s.workflow_name}`), GSI2SK: S(ts(s.created_at)),
    });
  }
  for (const s of d.streams) {
    out.push({
      PK: S(`STREAM#${s.stream_id}`), SK: S('#META'), entity_type: S('stream'), stream_id: S(s.stream_id), status: S(s.status),
      created_at: S(ts(s.created_at)), metadata: S('{}'),
    });
  }
  for (const s of d.signals) {
    const runKey = s.stream_run_id === NONE_STREAM_RUN ? null : s.stream_run_id;
    out.push(item({
      PK: S(streamRunPk(runKey)), SK: S(signalSk(s.sequence)), entity_type: S('signal'), signal_id: S(s.signal_id), stream_id: S(s.stream_id),
      signal_type: S(s.signal_type), payload: S(pythonJsonDumps(s.payload)), published_at: S(ts(s.published_at)),
      sequence: S(String(s.sequence)), source_run_id: S(s.source_run_id ?? ''), stream_run_id: opt(runKey), metadata: S('{}'),
    }));
  }
  for (const s of d.subscriptions) {
    out.push({
      PK: S(`STREAMSUB#${s.stream_id}`), SK: S(`STEP#${s.step_run_id}`), entity_type: S('subscription'), stream_id: S(s.stream_id),
      step_run_id: S(s.step_run_id), signal_types: S('[]'), status: S(s.status), created_at: S(ts(s.created_at)),
    });
  }
  for (const a of d.acknowledgments) {
    out.push({
      PK: S(`SIGACK#${a.signal_id}`), SK: S(`STEP#${a.step_run_id}`), entity_type: S('acknowledgment'), signal_id: S(a.signal_id),
      step_run_id: S(a.step_run_id), acknowledged_at: S(ts(a.acknowledged_at)),
    });
  }
  // DynamoDB has no scheduled signals (docs/storage.md#dynamodb): those records have no place here.
  return out;
}

/** The neutral model's "no stream run" (postgres stores it literally); pyworkflow's DynamoDB writes `STREAM_RUN#None`. */
export const NONE_STREAM_RUN = '__none__';

/**
 * The dataset as pyworkflow's DynamoDB table can hold it: no scheduled signals, no schedule deleted_at
 * or last_run_id, and signals of several streams under one stream run numbered as one sequence
 * (pyworkflow numbers per `STREAM_RUN#` partition, so two streams cannot both have sequence 0 there).
 */
export function adaptDatasetForDynamo(d: Dataset): Dataset {
  const byRun = new Map<string, Dataset['signals']>();
  for (const s of d.signals) byRun.set(s.stream_run_id, [...(byRun.get(s.stream_run_id) ?? []), s]);
  const signals: Dataset['signals'] = [];
  for (const group of byRun.values()) {
    const ordered = [...group].sort((a, b) => (a.stream_id === b.stream_id ? a.sequence - b.sequence : a.stream_id < b.stream_id ? -1 : 1));
    const streams = new Set(group.map((s) => s.stream_id));
    ordered.forEach((s, i) => signals.push(streams.size > 1 ? { ...s, sequence: i } : s));
  }
  return {
    ...d,
    scheduledSignals: [],
    schedules: d.schedules.map((s) => ({ ...s, deleted_at: null, last_run_id: null })),
    signals,
  };
}
