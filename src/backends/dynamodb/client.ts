// The DynamoDB calls this backend makes, behind a small interface so tests can inject a fake (e.g. one
// that leaves UnprocessedItems), and the real client: region and endpoint from pyworkflow's config keys,
// credentials only from the AWS SDK's default provider chain.

import {
  BatchGetItemCommand, BatchWriteItemCommand, CreateTableCommand, DeleteItemCommand, DeleteTableCommand, DescribeTableCommand,
  DynamoDBClient, GetItemCommand, QueryCommand, ScanCommand, UpdateItemCommand,
  type AttributeValue, type BatchGetItemCommandInput, type BatchGetItemCommandOutput, type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput, type CreateTableCommandInput, type DeleteItemCommandInput, type DeleteItemCommandOutput,
  type DeleteTableCommandInput, type DescribeTableCommandInput, type DescribeTableCommandOutput, type GetItemCommandInput,
  type GetItemCommandOutput, type QueryCommandInput, type QueryCommandOutput, type ScanCommandInput, type ScanCommandOutput,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { DynamodbConfig } from './config.js';

/** A DynamoDB item as the wire format holds it. */
export type Item = Record<string, AttributeValue>;
/** The primary key of an item: PK and SK. */
export interface ItemKey {
  PK: string;
  SK: string;
}

type Out<T> = Omit<T, '$metadata'>;

export interface DynamoApi {
  describeTable(input: DescribeTableCommandInput): Promise<Out<DescribeTableCommandOutput>>;
  query(input: QueryCommandInput): Promise<Out<QueryCommandOutput>>;
  scan(input: ScanCommandInput): Promise<Out<ScanCommandOutput>>;
  getItem(input: GetItemCommandInput): Promise<Out<GetItemCommandOutput>>;
  batchGetItem(input: BatchGetItemCommandInput): Promise<Out<BatchGetItemCommandOutput>>;
  deleteItem(input: DeleteItemCommandInput): Promise<Out<DeleteItemCommandOutput>>;
  batchWriteItem(input: BatchWriteItemCommandInput): Promise<Out<BatchWriteItemCommandOutput>>;
  /** Test seeding and the interop tests only; a sweep never creates, changes or deletes tables. */
  createTable(input: CreateTableCommandInput): Promise<unknown>;
  deleteTable(input: DeleteTableCommandInput): Promise<unknown>;
  updateItem(input: UpdateItemCommandInput): Promise<unknown>;
  destroy(): void;
}

export const DEFAULT_TABLE = 'pyworkflow';
export const DEFAULT_REGION = 'us-east-1';

export interface ResolvedDynamodbConfig {
  table: string;
  /** pyworkflow always passes its region explicitly (default us-east-1), so AWS_REGION never applies: same here. */
  region: string;
  endpoint: string | undefined;
}

export function resolveConfig(config: DynamodbConfig): ResolvedDynamodbConfig {
  return { table: config.table_name ?? DEFAULT_TABLE, region: config.region ?? DEFAULT_REGION, endpoint: config.endpoint_url };
}

/** Where a backend points, for logs and errors: table, region, endpoint (without any user:password@ part). */
export function describeTarget(c: ResolvedDynamodbConfig): string {
  const endpoint = c.endpoint?.replace(/^(https?:\/\/)[^/@]*@/i, '$1');
  return `dynamodb table ${c.table} in ${c.region}${endpoint ? ` at ${endpoint}` : ''}`;
}

/**
 * The real client. No `credentials` option: the SDK's default chain resolves them (environment,
 * web identity token = IRSA / EKS pod identity, shared config, container and instance roles), so no
 * secret ever passes through our config, logs or errors. Throttling is retried by the SDK (standard
 * mode, jittered backoff); UnprocessedItems/Keys are retried by our batch helpers.
 */
export function createDynamoApi(c: ResolvedDynamodbConfig): DynamoApi {
  // The SDK warns once on stderr that future releases need Node 22; in a pod that line breaks the
  // JSON log stream and says nothing about this sweep.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new DynamoDBClient({
    region: c.region,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    maxAttempts: 8,
    retryMode: 'standard',
    // A DynamoDB response is at most 1 MB: a request still open after a minute is hung, and the SDK
    // retries a thrown TimeoutError (without throwOnRequestTimeout it would only print a warning).
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000, throwOnRequestTimeout: true },
  });
  return {
    describeTable: (i) => client.send(new DescribeTableCommand(i)),
    query: (i) => client.send(new QueryCommand(i)),
    scan: (i) => client.send(new ScanCommand(i)),
    getItem: (i) => client.send(new GetItemCommand(i)),
    batchGetItem: (i) => client.send(new BatchGetItemCommand(i)),
    deleteItem: (i) => client.send(new DeleteItemCommand(i)),
    batchWriteItem: (i) => client.send(new BatchWriteItemCommand(i)),
    createTable: (i) => client.send(new CreateTableCommand(i)),
    deleteTable: (i) => client.send(new DeleteTableCommand(i)),
    updateItem: (i) => client.send(new UpdateItemCommand(i)),
    destroy: () => client.destroy(),
  };
}

/** The error name the SDK gives a service exception (e.g. ConditionalCheckFailedException). */
export function awsErrorName(err: unknown): string | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

export const str = (item: Item | undefined, name: string): string | undefined => item?.[name]?.S;

export const keyOf = (k: ItemKey): Item => ({ PK: { S: k.PK }, SK: { S: k.SK } });

export function itemKey(item: Item): ItemKey {
  const PK = item.PK?.S;
  const SK = item.SK?.S;
  if (PK === undefined || SK === undefined) throw new Error('item without string PK/SK');
  return { PK, SK };
}
