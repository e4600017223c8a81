// The `postgres` and `citus` backends: pyworkflow's PostgreSQL layout through node-postgres. One
// pipelined session does the work (candidate pages, children, short transactions kept under a time
// budget), a second holds the sweep lock. Citus differs only in taking run-row locks one router
// query at a time; every other statement is Citus-routable (literal id arrays, no foreign keys).

import type pg from 'pg';
import { RetentionError, translateError } from '../../errors.js';
import type {
  Backend, BackendDeps, CandidateQuery, HousekeepingRequest, OrphanRequest, PurgeBatch, PurgeOptions, PurgeResult, RunState, StoreLayout, SweepLock,
} from '../backend.js';
import { TransactionBudget } from '../transaction-budget.js';
import { candidatePage, childrenOf, countCandidates, toRunState } from './candidates.js';
import type { PostgresConfig } from './config.js';
import { connectPostgres, describeEndpoint, endpointSecrets, pgError, resolveEndpoint, type PostgresEndpoint } from './connection.js';
import { runPostgresHousekeeping } from './housekeeping.js';
import { detectPostgresLayout, type PostgresLayout } from './layout.js';
import { runPostgresOrphanSweep } from './orphans.js';
import { purgeBatch } from './purge.js';
import { acquirePostgresSweepLock } from './sweep-lock.js';

/** Counting candidates is for the progress bar only: it may not hold up a sweep longer than this. */
const COUNT_TIMEOUT_MS = 10_000;

export class PostgresBackend implements Backend {
  readonly type: 'postgres' | 'citus';
  readonly target: string;
  private readonly endpoint: PostgresEndpoint;
  private readonly secrets: string[];
  private client: pg.Client | null = null;
  private layout: PostgresLayout | null = null;
  /** One per sweep: what it learns about transaction time carries from batch to batch. */
  private readonly budget: TransactionBudget;

  constructor(
    config: PostgresConfig,
    private readonly deps: BackendDeps,
  ) {
    this.type = config.type;
    this.endpoint = resolveEndpoint(config);
    this.target = describeEndpoint(config.type, this.endpoint);
    this.secrets = endpointSecrets(this.endpoint);
    this.budget = new TransactionBudget(config.transaction_budget_ms);
  }

  async open(): Promise<void> {
    if (this.client) return;
    this.client = await connectPostgres(this.endpoint, this.target, { pipeline: true });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  async detectLayout(): Promise<StoreLayout> {
    this.layout = await this.run('reading the schema', (c) => detectPostgresLayout(c, this.target, this.type));
    return this.layout;
  }

  async acquireSweepLock(waitMs: number): Promise<SweepLock> {
    const layout = this.requireLayout();
    const schema = layout.tables.get('workflow_runs') ?? '';
    const lockClient = await connectPostgres(this.endpoint, this.target, { applicationName: 'pyworkflow-retention sweep lock' });
    try {
      return await acquirePostgresSweepLock(lockClient, schema, waitMs, this.target);
    } catch (err) {
      throw pgError(this.target, 'taking the sweep lock', err, this.secrets);
    }
  }

  async countCandidates(query: CandidateQuery): Promise<number> {
    return this.run('counting candidates', (c) => countCandidates(c, query, Math.min(COUNT_TIMEOUT_MS, this.endpoint.statementTimeoutMs)));
  }

  async *candidates(query: CandidateQuery): AsyncIterable<RunState[]> {
    const layout = this.requireLayout();
    let after: string | null = null;
    for (;;) {
      const rows = await this.run('reading candidate runs', (c) => candidatePage(c, layout, query, after));
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.run_id;
      const page = rows.map(toRunState);
      for (const run of page) {
        if (run.updatedAt === null) this.deps.logger.warn('run kept: updated_at is not a finite instant', { runId: run.runId });
      }
      yield page;
    }
  }

  async children(parentRunIds: readonly string[]): Promise<RunState[]> {
    const layout = this.requireLayout();
    return (await this.run('reading child runs', (c) => childrenOf(c, layout, parentRunIds))).map(toRunState);
  }

  async purgeRuns(batch: PurgeBatch, options: PurgeOptions): Promise<PurgeResult> {
    const layout = this.requireLayout();
    return this.run(`purging a batch of ${batch.runs.length} runs`, (client) =>
      purgeBatch(
        { client, layout, citus: this.type === 'citus', budget: this.budget, logger: this.deps.logger, commitStatus: (xid) => this.commitStatus(xid) },
        batch,
        options.dryRun,
        options.signal,
      ),
    );
  }

  async housekeep(request: HousekeepingRequest): Promise<void> {
    const layout = this.requireLayout();
    await this.run('housekeeping', (c) => runPostgresHousekeeping(c, layout, request, this.deps.logger));
  }

  async sweepOrphans(request: OrphanRequest): Promise<void> {
    const layout = this.requireLayout();
    await this.run('the orphan sweep', (client) =>
      runPostgresOrphanSweep({ client, layout, citus: this.type === 'citus', budget: this.budget, logger: this.deps.logger }, request),
    );
  }

  /** txid_status() of a transaction, on a session of its own (the sweep's may be the one that broke); null if unknown. */
  private async commitStatus(xid: string): Promise<string | null> {
    const client = await connectPostgres(this.endpoint, this.target, { applicationName: 'pyworkflow-retention commit check' });
    try {
      const res = await client.query<{ fate: string | null }>('SELECT txid_status($1::bigint) AS fate', [xid]);
      return res.rows[0]?.fate ?? null;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async run<T>(action: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    if (!this.client) throw new RetentionError('BACKEND_ERROR', `${this.target}: not open`);
    try {
      return await work(this.client);
    } catch (err) {
      throw translateError(err, (cause) => pgError(this.target, action, cause, this.secrets));
    }
  }

  private requireLayout(): PostgresLayout {
    if (!this.layout) throw new RetentionError('BACKEND_ERROR', `${this.target}: layout not detected yet`);
    return this.layout;
  }
}
