// The `mysql` backend (MariaDB 10.11 and MySQL 8): pyworkflow's MySQL layout through mysql2. One
// session does the work (candidate pages, children, short InnoDB transactions under a time budget),
// a second holds the sweep lock (GET_LOCK). pyworkflow's own MySQL retention never ran (H6); this
// one deletes children's run rows before their parents' as InnoDB checks the parent key row by row (H5).

import { RetentionError, translateError } from '../../errors.js';
import type {
  Backend, BackendDeps, CandidateQuery, HousekeepingRequest, OrphanRequest, PurgeBatch, PurgeOptions, PurgeResult, RunState, StoreLayout, SweepLock,
} from '../backend.js';
import { TransactionBudget } from '../transaction-budget.js';
import { candidatePage, childrenOf, countCandidates, toRunState } from './candidates.js';
import type { MysqlConfig } from './config.js';
import { connectMysql, describeEndpoint, endpointSecrets, mysqlError, resolveEndpoint, type MysqlEndpoint, type MysqlSession } from './connection.js';
import { runMysqlHousekeeping } from './housekeeping.js';
import { detectMysqlLayout, type MysqlLayout } from './layout.js';
import { runMysqlOrphanSweep } from './orphans.js';
import { purgeBatch } from './purge.js';
import { acquireMysqlSweepLock } from './sweep-lock.js';

const COUNT_TIMEOUT_MS = 10_000;

export class MysqlBackend implements Backend {
  readonly type = 'mysql';
  readonly target: string;
  private readonly endpoint: MysqlEndpoint;
  private readonly secrets: string[];
  private session: MysqlSession | null = null;
  private layout: MysqlLayout | null = null;
  /** One per sweep: what it learns about transaction time carries from batch to batch. */
  private readonly budget: TransactionBudget;

  constructor(
    config: MysqlConfig,
    private readonly deps: BackendDeps,
  ) {
    this.endpoint = resolveEndpoint(config);
    this.target = describeEndpoint(this.endpoint);
    this.secrets = endpointSecrets(this.endpoint);
    this.budget = new TransactionBudget(config.transaction_budget_ms);
  }

  async open(): Promise<void> {
    if (this.session) return;
    this.session = await connectMysql(this.endpoint, this.target);
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.conn.end().catch(() => undefined);
  }

  async detectLayout(): Promise<StoreLayout> {
    this.layout = await this.run('reading the schema', (s) => detectMysqlLayout(s.conn, this.target, s.serverVersion));
    return this.layout;
  }

  async acquireSweepLock(waitMs: number): Promise<SweepLock> {
    const lockSession = await connectMysql(this.endpoint, this.target);
    try {
      return await acquireMysqlSweepLock(lockSession, this.endpoint.database, waitMs, this.target);
    } catch (err) {
      throw mysqlError(this.target, 'taking the sweep lock', err, this.secrets);
    }
  }

  async countCandidates(query: CandidateQuery): Promise<number> {
    return this.run('counting candidates', (s) => countCandidates(s.conn, query, s.mariadb, Math.min(COUNT_TIMEOUT_MS, this.endpoint.statementTimeoutMs)));
  }

  async *candidates(query: CandidateQuery): AsyncIterable<RunState[]> {
    const layout = this.requireLayout();
    let after: string | null = null;
    for (;;) {
      const rows = await this.run('reading candidate runs', (s) => candidatePage(s.conn, layout, query, after));
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.run_id;
      const page = rows.map(toRunState);
      for (const run of page) {
        if (run.updatedAt === null) this.deps.logger.warn('run kept: updated_at is not a readable DATETIME', { runId: run.runId });
      }
      yield page;
    }
  }

  async children(parentRunIds: readonly string[]): Promise<RunState[]> {
    const layout = this.requireLayout();
    return (await this.run('reading child runs', (s) => childrenOf(s.conn, layout, parentRunIds))).map(toRunState);
  }

  async purgeRuns(batch: PurgeBatch, options: PurgeOptions): Promise<PurgeResult> {
    const layout = this.requireLayout();
    return this.run(`purging a batch of ${batch.runs.length} runs`, (s) => purgeBatch({ conn: s.conn, layout, budget: this.budget, logger: this.deps.logger }, batch, options.dryRun, options.signal));
  }

  async housekeep(request: HousekeepingRequest): Promise<void> {
    const layout = this.requireLayout();
    await this.run('housekeeping', (s) => runMysqlHousekeeping(s.conn, layout, request, this.deps.logger));
  }

  async sweepOrphans(request: OrphanRequest): Promise<void> {
    const layout = this.requireLayout();
    await this.run('the orphan sweep', (s) => runMysqlOrphanSweep({ conn: s.conn, layout, budget: this.budget, logger: this.deps.logger }, request));
  }

  private async run<T>(action: string, work: (session: MysqlSession) => Promise<T>): Promise<T> {
    if (!this.session) throw new RetentionError('BACKEND_ERROR', `${this.target}: not open`);
    try {
      return await work(this.session);
    } catch (err) {
      throw translateError(err, (cause) => mysqlError(this.target, action, cause, this.secrets));
    }
  }

  private requireLayout(): MysqlLayout {
    if (!this.layout) throw new RetentionError('BACKEND_ERROR', `${this.target}: layout not detected yet`);
    return this.layout;
  }
}
