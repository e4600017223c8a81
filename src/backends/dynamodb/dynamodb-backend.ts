// The `dynamodb` backend: pyworkflow's single DynamoDB table (docs/storage.md#dynamodb). Candidates
// come from GSI1, every decision is re-read consistently, every counted delete reports whether it
// removed the item, and the run item goes last and only if unchanged.
//
// No sweep lock. A lock item in pyworkflow's table would be an item family pyworkflow does not write
// (our own detection refuses such tables), and a lock table beside it would need CreateTable rights
// and leases that a killed sweep leaves behind. Instead two sweeps at once are made harmless: each
// counted item is deleted by a single-item DeleteItem with ReturnValues ALL_OLD, so exactly one sweep
// counts it; the run item's delete is conditional on status and updated_at; housekeeping deletes are
// conditional on what was read. Concurrent sweeps add up to what one sweep would have reported.

import { RetentionError, backendError, translateError } from '../../errors.js';
import type {
  Backend, BackendDeps, CandidateQuery, HousekeepingRequest, OrphanRequest, PurgeBatch, PurgeOptions, PurgeResult, RunState, StoreLayout, SweepLock,
} from '../backend.js';
import { createDynamoApi, describeTarget, resolveConfig, type DynamoApi, type ResolvedDynamodbConfig } from './client.js';
import type { DynamodbConfig } from './config.js';
import { housekeepDynamo } from './housekeeping.js';
import { detectDynamoLayout } from './layout.js';
import { sweepDynamoOrphans } from './orphans.js';
import { purgeBatch } from './purge.js';
import { DEFAULT_RETRY, Limiter, type RetryPolicy } from './requests.js';
import { candidatePages, ChildListings, countCandidates, readChildren } from './runs.js';

export interface DynamodbBackendOptions {
  /** A client to use instead of the SDK's (tests inject fakes). */
  api?: DynamoApi;
  /** DynamoDB requests in flight at once (default 16). */
  maxInFlight?: number;
  /** Chunks of runs of one batch purged at once (default 4; see CHUNK_RUNS). */
  chunkConcurrency?: number;
  retry?: RetryPolicy;
}

export class DynamodbBackend implements Backend {
  readonly type = 'dynamodb';
  readonly target: string;
  private readonly resolved: ResolvedDynamodbConfig;
  private api: DynamoApi | null = null;
  private readonly limiter: Limiter;
  private layoutKnown = false;
  private readonly listings = new ChildListings();

  constructor(
    config: DynamodbConfig,
    private readonly deps: BackendDeps,
    private readonly options: DynamodbBackendOptions = {},
  ) {
    this.resolved = resolveConfig(config);
    this.target = describeTarget(this.resolved);
    this.limiter = new Limiter(options.maxInFlight ?? 16);
  }

  async open(): Promise<void> {
    // The SDK connects per request; credentials are resolved (and fail) on the first call.
    this.api ??= this.options.api ?? createDynamoApi(this.resolved);
  }

  async close(): Promise<void> {
    if (this.api && !this.options.api) this.api.destroy();
    this.api = null;
    this.listings.clear();
  }

  async detectLayout(): Promise<StoreLayout> {
    const layout = await detectDynamoLayout(this.client(), this.resolved.table, this.target);
    this.layoutKnown = true;
    return layout;
  }

  async acquireSweepLock(): Promise<SweepLock> {
    this.deps.logger.debug('no store-wide lock on DynamoDB: concurrent sweeps are safe through conditional, self-counting deletes');
    return { release: async () => undefined };
  }

  async countCandidates(query: CandidateQuery): Promise<number> {
    return this.call('counting candidate runs (Query GSI1)', () => countCandidates(this.client(), this.resolved.table, query));
  }

  async *candidates(query: CandidateQuery): AsyncIterable<RunState[]> {
    this.requireLayout();
    const pages = candidatePages(this.client(), this.resolved.table, query);
    for (;;) {
      const next = await this.call('reading candidate runs (Query GSI1)', () => pages.next());
      if (next.done) return;
      for (const run of next.value) {
        if (run.updatedAt === null) this.deps.logger.warn('run kept: updated_at is not a timestamp', { runId: run.runId });
      }
      yield next.value;
    }
  }

  async children(parentRunIds: readonly string[]): Promise<RunState[]> {
    if (parentRunIds.length === 0) return [];
    const found = await this.call('reading child runs (Query GSI4)', () => readChildren(this.client(), this.resolved.table, parentRunIds, this.limiter, this.listings));
    return found.map((c) => c.state);
  }

  async purgeRuns(batch: PurgeBatch, options: PurgeOptions): Promise<PurgeResult> {
    this.requireLayout();
    return this.call(`purging a batch of ${batch.runs.length} runs`, () =>
      purgeBatch(
        {
          api: this.client(), table: this.resolved.table, limiter: this.limiter, chunkConcurrency: this.options.chunkConcurrency ?? 4,
          retry: this.options.retry ?? DEFAULT_RETRY, logger: this.deps.logger, listings: this.listings,
        },
        batch,
        options.dryRun,
      ),
    );
  }

  async housekeep(request: HousekeepingRequest): Promise<void> {
    this.requireLayout();
    await this.call('housekeeping (signals, acknowledgments, subscriptions, schedules)', () =>
      housekeepDynamo({ api: this.client(), table: this.resolved.table, limiter: this.limiter }, request),
    );
  }

  /** Items of run ids without a run item (H24): one Scan, then consistent re-reads per batch (orphans.ts). */
  async sweepOrphans(request: OrphanRequest): Promise<void> {
    this.requireLayout();
    await this.call('orphan sweep (items of run ids without a run item)', () =>
      sweepDynamoOrphans({ api: this.client(), table: this.resolved.table, limiter: this.limiter, retry: this.options.retry ?? DEFAULT_RETRY, logger: this.deps.logger }, request),
    );
  }

  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translateError(err, (cause) =>
        cause instanceof RetentionError ? cause : backendError(this.target, action, cause, connectionTrouble(cause) ? 'CONNECTION_FAILED' : 'BACKEND_ERROR'),
      );
    }
  }

  private client(): DynamoApi {
    if (!this.api) throw new RetentionError('BACKEND_ERROR', `${this.target}: not open`);
    return this.api;
  }

  private requireLayout(): void {
    if (!this.layoutKnown) throw new RetentionError('BACKEND_ERROR', `${this.target}: layout not detected yet`);
  }
}

/** Errors that mean "cannot reach or authenticate", not "the data is odd". */
function connectionTrouble(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  const code = (err as { code?: unknown } | null)?.code;
  return (
    ['CredentialsProviderError', 'UnrecognizedClientException', 'InvalidSignatureException', 'AccessDeniedException', 'TimeoutError'].includes(String(name)) ||
    ['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT'].includes(String(code))
  );
}
