// The `cassandra` backend: pyworkflow's Cassandra keyspace through cassandra-driver. Candidates come
// from a paged scan of workflow_runs (pyworkflow's own selection is invalid CQL, H1), each run's rows
// are found from its partitions and its run record and deleted children first, run record last.
//
// Sweep lock: none. Cassandra has no advisory locks, and a lease row would need a table of ours (in
// pyworkflow's keyspace, or a keyspace created on demand, which needs CREATE rights and schema
// agreement) and still could not fence a sweep that outlived its lease. Instead every delete is safe to
// repeat, and each record a sweep counts is one its own conditional delete removed (purge.ts,
// housekeeping.ts), so two concurrent sweeps may both work but never double-count or delete a live run.

import type {
  Backend, BackendDeps, CandidateQuery, HousekeepingRequest, OrphanRequest, PurgeBatch, PurgeOptions, PurgeResult, RunState, StoreLayout, SweepLock,
} from '../backend.js';
import { RetentionError } from '../../errors.js';
import { scanCandidates } from './candidates.js';
import type { CassandraConfig } from './config.js';
import { CassandraSession } from './connection.js';
import { housekeepCassandra } from './housekeeping.js';
import { detectCassandraLayout, type CassandraLayout } from './layout.js';
import { sweepCassandraOrphans } from './orphans.js';
import { purgeCassandraBatch, type PurgeContext } from './purge.js';
import { readChildren } from './runs.js';

const DEFAULT_CONCURRENCY = 8;

export class CassandraBackend implements Backend {
  readonly type = 'cassandra';
  readonly target: string;
  private readonly session: CassandraSession;
  private readonly concurrency: number;
  private layout: CassandraLayout | null = null;

  constructor(
    config: CassandraConfig,
    private readonly deps: BackendDeps,
  ) {
    this.session = new CassandraSession(config);
    this.target = this.session.target;
    this.concurrency = config.concurrency ?? DEFAULT_CONCURRENCY;
  }

  async open(): Promise<void> {
    await this.session.open();
  }

  async close(): Promise<void> {
    this.layout = null;
    await this.session.close();
  }

  async detectLayout(): Promise<StoreLayout> {
    this.layout = await detectCassandraLayout(this.session);
    return this.layout;
  }

  async acquireSweepLock(_waitMs: number): Promise<SweepLock> {
    this.deps.logger.debug('cassandra: no store-wide sweep lock; concurrent sweeps are made safe per record by conditional deletes');
    return { release: async () => undefined };
  }

  /** Unknown (0): counting would cost a second full scan of workflow_runs. */
  async countCandidates(_query: CandidateQuery): Promise<number> {
    return 0;
  }

  async *candidates(query: CandidateQuery): AsyncIterable<RunState[]> {
    this.requireLayout();
    yield* scanCandidates(this.session, query, this.deps.logger);
  }

  async children(parentRunIds: readonly string[]): Promise<RunState[]> {
    if (parentRunIds.length === 0) return [];
    return readChildren(this.session, parentRunIds, this.concurrency);
  }

  async purgeRuns(batch: PurgeBatch, options: PurgeOptions): Promise<PurgeResult> {
    return purgeCassandraBatch(this.context(), batch, options.dryRun);
  }

  async housekeep(request: HousekeepingRequest): Promise<void> {
    await housekeepCassandra(this.context(), request);
  }

  /** Rows of run ids without a workflow_runs row (H24): partition-key scans, then group by group (orphans.ts). */
  async sweepOrphans(request: OrphanRequest): Promise<void> {
    await sweepCassandraOrphans(this.context(), request);
  }

  private context(): PurgeContext {
    return { session: this.session, layout: this.requireLayout(), concurrency: this.concurrency, logger: this.deps.logger };
  }

  private requireLayout(): CassandraLayout {
    if (!this.layout) throw new RetentionError('BACKEND_ERROR', `${this.target}: layout not detected yet`);
    return this.layout;
  }
}
