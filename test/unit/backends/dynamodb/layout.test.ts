// Pure parts of the DynamoDB backend: what counts as pyworkflow's table, purge waves, step ids in event
// data, and the dataset shapes the table can hold.
import { describe, expect, it } from 'vitest';
import { tableDifferences } from '../../../../src/backends/dynamodb/layout.js';
import { stepIdOf, waves } from '../../../../src/backends/dynamodb/purge.js';
import { adaptDatasetForDynamo, datasetItems, pyworkflowCreateTable } from '../../../../src/backends/dynamodb/seed.js';
import { emptyDataset } from '../../../../src/model/dataset.js';

type Description = NonNullable<Parameters<typeof tableDifferences>[0]>;
const pyworkflowTable = (): Description => {
  const c = pyworkflowCreateTable('pyworkflow');
  return { ...c, TableStatus: 'ACTIVE' };
};

describe('DynamoDB layout recognition', () => {
  it("accepts pyworkflow's own CreateTable definition", () => {
    expect(tableDifferences(pyworkflowTable())).toEqual([]);
  });

  it('names every difference: key schema, key types, missing/extra/non-ALL indexes, local indexes', () => {
    const t = pyworkflowTable();
    t.KeySchema = [{ AttributeName: 'id', KeyType: 'HASH' }];
    t.AttributeDefinitions = t.AttributeDefinitions!.map((a) => (a.AttributeName === 'GSI1SK' ? { ...a, AttributeType: 'N' } : a));
    t.GlobalSecondaryIndexes = t.GlobalSecondaryIndexes!.filter((g) => g.IndexName !== 'GSI3').map((g) =>
      g.IndexName === 'GSI2' ? { ...g, Projection: { ProjectionType: 'KEYS_ONLY' } } : g,
    );
    t.GlobalSecondaryIndexes.push({ IndexName: 'ByEmail', KeySchema: [{ AttributeName: 'email', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } });
    t.LocalSecondaryIndexes = [{ IndexName: 'LSI1', KeySchema: [], Projection: { ProjectionType: 'ALL' } }];
    expect(tableDifferences(t)).toEqual([
      'table key schema is id (HASH), expected PK (HASH), SK (RANGE)',
      'GSI1SK has type N, expected S',
      'index GSI2 projects KEYS_ONLY, expected ALL',
      'index GSI3 is missing',
      'unexpected global secondary index(es) ByEmail',
      'unexpected local secondary index(es) LSI1',
    ]);
    expect(tableDifferences(undefined)).toEqual(['DescribeTable returned no table description']);
  });
});

describe('DynamoDB purge helpers', () => {
  const r = (runId: string, parentRunId: string | null = null) => ({ runId, parentRunId, status: 'completed', updatedAt: new Date(0) });

  it('orders a batch in waves: every run after all of its children in the batch', () => {
    const w = waves([r('leaf', 'mid'), r('solo'), r('mid', 'root'), r('root'), r('other_leaf', 'root'), r('orphan', 'gone')]);
    expect(w.map((x) => x.map((y) => y.runId))).toEqual([['leaf', 'solo', 'other_leaf', 'orphan'], ['mid'], ['root']]);
  });

  it('reads the step id of an event from its JSON text, and nothing from anything else', () => {
    expect(stepIdOf('{"step_id": "step_fetch_abc", "attempt": 1}')).toBe('step_fetch_abc');
    expect(stepIdOf('{"workflow_name": "x"}')).toBeNull();
    expect(stepIdOf('{"step_id": 5}')).toBeNull();
    expect(stepIdOf('{"step_id": "oops"')).toBeNull();
    expect(stepIdOf(undefined)).toBeNull();
  });
});

describe('DynamoDB dataset shapes', () => {
  it('numbers signals of several streams under one stream run as one sequence, as pyworkflow does per partition', () => {
    const d = emptyDataset();
    const sig = (stream_id: string, stream_run_id: string, sequence: number) => ({
      stream_id, stream_run_id, sequence, signal_id: `sig_${stream_id}_${sequence}`, signal_type: 't', payload: {}, published_at: new Date(0), source_run_id: null,
    });
    d.signals.push(sig('b', '__none__', 0), sig('a', '__none__', 1), sig('a', '__none__', 0), sig('c', 'run_1', 0), sig('c', 'run_1', 1));
    const a = adaptDatasetForDynamo(d);
    expect(a.signals.map((s) => `${s.stream_id}:${s.stream_run_id}:${s.sequence}`).sort()).toEqual(['a:__none__:0', 'a:__none__:1', 'b:__none__:2', 'c:run_1:0', 'c:run_1:1']);
    const keys = datasetItems(a).map((i) => `${i.PK?.S} ${i.SK?.S} ${i.stream_run_id?.S ?? '-'}`);
    expect(keys).toContain('STREAM_RUN#None SIGNAL#00000002 -');
    expect(keys).toContain('STREAM_RUN#run_1 SIGNAL#00000001 run_1');
  });
});

describe('DynamoDB target', () => {
  it("names table, region and endpoint with pyworkflow's defaults, never a user:password in the endpoint", async () => {
    const { describeTarget, resolveConfig } = await import('../../../../src/backends/dynamodb/client.js');
    expect(describeTarget(resolveConfig({ type: 'dynamodb' }))).toBe('dynamodb table pyworkflow in us-east-1');
    expect(describeTarget(resolveConfig({ type: 'dynamodb', table_name: 't', region: 'eu-west-1', endpoint_url: 'https://u:p4ss@proxy:8000/x' }))).toBe(
      'dynamodb table t in eu-west-1 at https://proxy:8000/x',
    );
  });
});
