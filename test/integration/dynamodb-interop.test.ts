// Needs: the DynamoDB-API test server (DYNAMODB_ENDPOINT, moto 5.2.5), real pyworkflow
// (PYWORKFLOW_PYTHON, PYWORKFLOW_DRIVER) and the built CLI. pyworkflow's own DynamoDBStorageBackend
// creates the table and writes the data; our CLI sweeps; pyworkflow reads back.
import type { DescribeTableCommandOutput } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { str, type Item } from '../../src/backends/dynamodb/client.js';
import { queryAll, scanPages } from '../../src/backends/dynamodb/requests.js';
import { createPyworkflowTable } from '../../src/backends/dynamodb/seed.js';
import { runCli } from '../support/cli.js';
import { runInteropScenario } from '../support/interop.js';
import { pyworkflow } from '../support/pyworkflow.js';
import { dynamoTestServer, freshTableName, testApi } from '../support/stores/dynamodb-store.js';

const server = dynamoTestServer();
const api = testApi(server);
const tables: string[] = [];
afterAll(async () => {
  for (const t of tables) await api.deleteTable({ TableName: t }).catch(() => undefined);
  api.destroy();
});

function storageFor(prefix: string): Record<string, unknown> {
  const table = freshTableName(prefix);
  tables.push(table);
  return { type: 'dynamodb', table_name: table, region: server.region, endpoint_url: server.endpoint };
}

/** The parts of DescribeTable that define the layout, in a stable order. */
function shape(t: Omit<DescribeTableCommandOutput, '$metadata'>): unknown {
  const d = t.Table!;
  return {
    keys: d.KeySchema,
    attributes: [...(d.AttributeDefinitions ?? [])].sort((a, b) => (a.AttributeName! < b.AttributeName! ? -1 : 1)),
    gsis: [...(d.GlobalSecondaryIndexes ?? [])]
      .map((g) => ({ name: g.IndexName, keys: g.KeySchema, projection: g.Projection }))
      .sort((a, b) => (a.name! < b.name! ? -1 : 1)),
    lsis: d.LocalSecondaryIndexes ?? [],
    billing: d.BillingModeSummary?.BillingMode,
  };
}

async function allItems(table: string): Promise<Item[]> {
  const out: Item[] = [];
  for await (const page of scanPages(api, { TableName: table, ConsistentRead: true })) out.push(...page);
  return out;
}

describe('dynamodb interop with real pyworkflow', () => {
  it('the table pyworkflow creates on connect is the table our seed creates', async () => {
    const theirs = storageFor('pywr-interop-shape');
    await pyworkflow('init', theirs);
    const ours = freshTableName('pywr-ours-shape');
    tables.push(ours);
    await createPyworkflowTable(api, ours);
    const a = shape(await api.describeTable({ TableName: theirs.table_name as string }));
    expect(a).toEqual(shape(await api.describeTable({ TableName: ours })));
    expect(a).toMatchObject({ billing: 'PAY_PER_REQUEST' });
  });

  it('purges exactly the eligible runs everywhere pyworkflow looks (hooks, tokens, flags, checkpoints, list_runs), keeps the rest readable', async () => {
    const storage = storageFor('pywr-interop');
    await pyworkflow('init', storage);
    // The shared scenario blocks the worker (synchronous child processes) for minutes on this slow
    // server; let vitest's pending status message finish first, or its 60 s RPC timeout reports an error.
    await new Promise((r) => setTimeout(r, 2000));
    // pyworkflow 0.4.0's get_signals reads STREAM#{id} while publish_signal writes STREAM_RUN#{id}: streams are checked below, on the items.
    await runInteropScenario({ storage, streams: false });

    // Nothing left behind: every per-run item belongs to a run whose run item still exists.
    const items = await allItems(storage.table_name as string);
    const runs = new Set(items.filter((i) => str(i, 'SK') === '#METADATA' && str(i, 'PK')!.startsWith('RUN#')).map((i) => str(i, 'PK')!.slice(4)));
    const owner = (i: Item): string | null => {
      const pk = str(i, 'PK')!;
      if (pk.startsWith('RUN#')) return pk.slice(4);
      if (pk.startsWith('HOOK#') || pk.startsWith('TOKEN#') || pk.startsWith('CANCEL#')) return str(i, 'run_id') ?? pk.slice(pk.indexOf('#') + 1);
      if (pk.startsWith('CHECKPOINT#')) return pk.slice('CHECKPOINT#'.length).split(':')[0]!;
      return null;
    };
    const orphans = items.filter((i) => owner(i) !== null && !runs.has(owner(i)!)).map((i) => `${str(i, 'PK')} ${str(i, 'SK')}`);
    expect(orphans).toEqual([]);
    expect(items.some((i) => str(i, 'PK')!.startsWith('TOKEN#'))).toBe(true);
  });

  it('stream housekeeping on signals, subscriptions and acknowledgments pyworkflow wrote; numbering continues after it', async () => {
    const storage = storageFor('pywr-interop-streams');
    const table = storage.table_name as string;
    const now = Date.now();
    const iso = (days: number): string => new Date(now - days * 86_400_000).toISOString();
    const srun = 'run_ffff000000000001';
    await pyworkflow('populate', storage, ['--spec', '-'], {
      streams: [
        {
          stream_id: 'orders', stream_run_id: srun,
          signals: [60, 50, 45, 1].map((d, n) => ({ signal_type: 'order.created', payload: { n }, published_at: iso(d) })),
          subscriptions: [
            { step_run_id: 'stream_step_consume_aaaaaaaaaaaa', signal_types: ['order.created'], status: 'terminated', created_at: iso(60), acks: [{ signal: 0, acknowledged_at: iso(59) }, { signal: 3, acknowledged_at: iso(1) }] },
            { step_run_id: 'stream_step_consume_bbbbbbbbbbbb', signal_types: ['order.created'], status: 'waiting', created_at: iso(60), acks: [{ signal: 1, acknowledged_at: iso(49) }] },
          ],
        },
        // Its only signal is old but the newest of its stream run: it stays (H11).
        { stream_id: 'quiet', stream_run_id: 'run_ffff000000000002', signals: [{ signal_type: 'ping', published_at: iso(100) }] },
        // Two streams publishing without a stream run share pyworkflow's STREAM_RUN#None partition and its numbering.
        { stream_id: 'none_a', stream_run_id: null, signals: [{ signal_type: 'x', published_at: iso(70) }, { signal_type: 'x', published_at: iso(65) }] },
        { stream_id: 'none_b', stream_run_id: null, signals: [{ signal_type: 'y', published_at: iso(68) }] },
      ],
      schedules: [
        { schedule_id: 'sched_old_deleted', status: 'deleted', updated_at: iso(50), created_at: iso(60) },
        { schedule_id: 'sched_new_deleted', status: 'deleted', updated_at: iso(2), created_at: iso(60) },
        { schedule_id: 'sched_old_paused', status: 'paused', updated_at: iso(50), created_at: iso(60) },
      ],
    });
    const args = ['sweep', '--storage', JSON.stringify(storage), '--retention-days', '30', '--output', 'json', '--progress', 'none'];
    const dry = await runCli([...args, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const real = await runCli(args);
    expect(real.code, real.stderr).toBe(0);
    const deleted = (JSON.parse(real.stdout) as { deleted: Record<string, number> }).deleted;
    expect((JSON.parse(dry.stdout) as { deleted: unknown }).deleted).toEqual(deleted);
    // orders: 3 old signals, 2 acks whose signals went, 1 terminated subscription; none_a: its older signal.
    expect(deleted).toMatchObject({ streamRecords: 7, schedules: 1, runs: 0 });

    const partition = async (pk: string) =>
      (await queryAll(api, { TableName: table, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': { S: pk } }, ConsistentRead: true }))
        .map((i) => `${str(i, 'SK')} ${str(i, 'stream_id')}`);
    expect(await partition(`STREAM_RUN#${srun}`)).toEqual(['SIGNAL#00000003 orders']);
    expect(await partition('STREAM_RUN#run_ffff000000000002')).toEqual(['SIGNAL#00000000 quiet']);
    expect(await partition('STREAM_RUN#None')).toEqual(['SIGNAL#00000001 none_a', 'SIGNAL#00000002 none_b']);
    const items = await allItems(table);
    const keys = (prefix: string) => items.filter((i) => str(i, 'PK')!.startsWith(prefix)).map((i) => `${str(i, 'SK')} ${str(i, 'status') ?? ''}`.trim()).sort();
    expect(keys('STREAMSUB#')).toEqual(['STEP#stream_step_consume_bbbbbbbbbbbb waiting']);
    expect(keys('SIGACK#')).toEqual(['STEP#stream_step_consume_aaaaaaaaaaaa']);
    expect(keys('SCHEDULE#')).toEqual(['#METADATA deleted', '#METADATA paused']);

    // pyworkflow numbers the next signal of the stream run max+1: 4, not a restart at 0.
    const more = await pyworkflow<{ streams: { signals: { sequence: number }[] }[] }>('populate', storage, ['--spec', '-'], {
      streams: [{ stream_id: 'orders_more', stream_run_id: srun, signals: [{ signal_type: 'order.created' }] }],
    });
    expect(more.streams[0]!.signals[0]!.sequence).toBe(4);
    const { schedules } = await pyworkflow<{ schedules: Record<string, unknown> }>('inspect', storage, ['--manifest', '-'], {
      schedules: [{ schedule_id: 'sched_old_deleted' }, { schedule_id: 'sched_new_deleted' }, { schedule_id: 'sched_old_paused' }],
    });
    expect(schedules.sched_old_deleted).toBeNull();
    expect(schedules.sched_new_deleted).toMatchObject({ status: 'deleted' });
    expect(schedules.sched_old_paused).toMatchObject({ status: 'paused' });
  });
});
