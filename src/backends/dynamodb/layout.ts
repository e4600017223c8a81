// Recognises pyworkflow's DynamoDB table (docs/storage.md#dynamodb, #detection-other): DescribeTable must show
// exactly pyworkflow's key schema and GSI1..GSI5, and a sample of items must carry only pyworkflow's
// PK prefixes. Anything else is refused before a single delete, with what differs in the message.

import type { DescribeTableCommandOutput, KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { RetentionError, UnknownSchemaError, backendError } from '../../errors.js';
import type { StoreLayout } from '../backend.js';
import { awsErrorName, type DynamoApi } from './client.js';
import { KNOWN_PK_PREFIXES, pkPrefix } from './keys.js';

export const DYNAMODB_LAYOUT = 'single-table PK/SK + GSI1-GSI5';

/** Key schema of the table and of each GSI, as pyworkflow's CreateTable declares them (unchanged since v0.1.10). */
export const PYWORKFLOW_TABLE_KEYS: readonly [string, string | null] = ['PK', 'SK'];
export const PYWORKFLOW_GSIS: Readonly<Record<string, readonly [string, string | null]>> = {
  GSI1: ['GSI1PK', 'GSI1SK'],
  GSI2: ['GSI2PK', 'GSI2SK'],
  GSI3: ['GSI3PK', null],
  GSI4: ['GSI4PK', 'GSI4SK'],
  GSI5: ['GSI5PK', 'GSI5SK'],
};

/** Items a detection samples (one Scan page, eventually consistent: about 50 read units at most). */
export const SAMPLE_ITEMS = 100;

export async function detectDynamoLayout(api: DynamoApi, table: string, target: string): Promise<StoreLayout> {
  let described: Omit<DescribeTableCommandOutput, '$metadata'>;
  try {
    described = await api.describeTable({ TableName: table });
  } catch (err) {
    if (awsErrorName(err) === 'ResourceNotFoundException') {
      throw new RetentionError(
        'CONNECTION_FAILED',
        `${target}: the table does not exist. Check table_name and region (pyworkflow's defaults are "pyworkflow" and ` +
          'us-east-1, and it creates the table on its first connect); nothing was deleted',
      );
    }
    throw backendError(target, 'DescribeTable', err, 'CONNECTION_FAILED');
  }
  const t = described.Table;
  const supported = [`pyworkflow ${DYNAMODB_LAYOUT}`];
  const differences = tableDifferences(t);
  if (differences.length > 0) throw new UnknownSchemaError(target, differences.join('; '), supported);
  if (t?.TableStatus !== 'ACTIVE' && t?.TableStatus !== 'UPDATING') {
    throw new RetentionError('BACKEND_ERROR', `${target}: table status is ${t?.TableStatus ?? 'unknown'}; a sweep needs an ACTIVE table`);
  }

  // GSI1..GSI5 over PK/SK is a common generic single-table design; the item families tell pyworkflow's apart.
  let sample;
  try {
    sample = await api.scan({ TableName: table, Limit: SAMPLE_ITEMS, ProjectionExpression: 'PK' });
  } catch (err) {
    throw backendError(target, 'sampling items (Scan)', err);
  }
  const items = sample.Items ?? [];
  const foreign = [...new Set(items.map((i) => i.PK?.S ?? '(no string PK)').map(pkPrefix))].filter(
    (p) => !(KNOWN_PK_PREFIXES as readonly string[]).includes(p),
  );
  if (foreign.length > 0) {
    throw new UnknownSchemaError(target, `items with PK prefixes pyworkflow never writes: ${foreign.slice(0, 5).join(', ')}`, supported);
  }
  return {
    schemaVersion: DYNAMODB_LAYOUT,
    // A table pyworkflow created but never wrote to: nothing to purge, and no reason to scan it.
    empty: items.length === 0 && sample.LastEvaluatedKey === undefined,
    details: { table, billing: t.BillingModeSummary?.BillingMode ?? 'PROVISIONED', sampledItems: items.length },
  };
}

type TableDescription = NonNullable<Omit<DescribeTableCommandOutput, '$metadata'>['Table']>;

/** What differs from pyworkflow's table definition, in words; empty when it is pyworkflow's. */
export function tableDifferences(t: TableDescription | undefined): string[] {
  if (!t) return ['DescribeTable returned no table description'];
  const out: string[] = [];
  const types = new Map((t.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  const checkKeys = (where: string, schema: KeySchemaElement[] | undefined, [hash, range]: readonly [string, string | null]): void => {
    const want = range === null ? `${hash} (HASH)` : `${hash} (HASH), ${range} (RANGE)`;
    const got = (schema ?? []).map((k) => `${k.AttributeName} (${k.KeyType})`).join(', ');
    if (got !== want) out.push(`${where} key schema is ${got || 'empty'}, expected ${want}`);
    for (const name of [hash, range]) {
      if (name !== null && types.get(name) !== undefined && types.get(name) !== 'S') out.push(`${name} has type ${types.get(name)}, expected S`);
    }
  };
  checkKeys('table', t.KeySchema, PYWORKFLOW_TABLE_KEYS);
  const gsis = new Map((t.GlobalSecondaryIndexes ?? []).map((g) => [g.IndexName ?? '', g]));
  for (const [name, keys] of Object.entries(PYWORKFLOW_GSIS)) {
    const g = gsis.get(name);
    if (!g) {
      out.push(`index ${name} is missing`);
      continue;
    }
    checkKeys(`index ${name}`, g.KeySchema, keys);
    // Candidates, hooks and children are read from the indexes, with attributes only an ALL projection carries.
    if (g.Projection?.ProjectionType !== 'ALL') out.push(`index ${name} projects ${g.Projection?.ProjectionType ?? 'nothing'}, expected ALL`);
  }
  const extra = [...gsis.keys()].filter((n) => !(n in PYWORKFLOW_GSIS));
  if (extra.length > 0) out.push(`unexpected global secondary index(es) ${extra.join(', ')}`);
  if ((t.LocalSecondaryIndexes ?? []).length > 0) {
    out.push(`unexpected local secondary index(es) ${(t.LocalSecondaryIndexes ?? []).map((l) => l.IndexName).join(', ')}`);
  }
  return out;
}
