// One cassandra-driver Client configured the way pyworkflow connects (contact points, port 9042,
// auth only when both username and password are set, its consistency levels), plus the few query
// shapes the backend uses: reads, idempotent writes, conditional deletes and manually paged scans.

import { readFileSync } from 'node:fs';
import cassandra from 'cassandra-driver';
import { backendError, InvalidInputError } from '../../errors.js';
import type { CassandraConfig } from './config.js';

export type Row = cassandra.types.Row;
type Params = readonly unknown[];

const { consistencies } = cassandra.types;
/** pyworkflow's connect timeout (10 s, docs/storage.md#config). */
const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface ConditionalResult {
  applied: boolean;
  /** On a failed condition: the row's current values of the condition columns, or null when the row does not exist. */
  current: Row | null;
}

export class CassandraSession {
  readonly keyspace: string;
  readonly target: string;
  private client: cassandra.Client | null = null;
  private readonly readCl: number;
  private readonly writeCl: number;
  private readonly serialCl: number;
  private readonly timeoutMs: number;

  constructor(private readonly config: CassandraConfig) {
    // pyworkflow interpolates the keyspace unquoted, so Cassandra folds it to lower case; so do we.
    this.keyspace = (config.keyspace ?? 'pyworkflow').toLowerCase();
    const points = config.contact_points ?? ['localhost'];
    this.target = `cassandra ${points.join(',')}:${config.port ?? 9042}/${this.keyspace}`;
    this.readCl = consistencies[toCamel(config.read_consistency ?? 'LOCAL_QUORUM')];
    this.writeCl = consistencies[toCamel(config.write_consistency ?? 'LOCAL_QUORUM')];
    this.serialCl = config.serial_consistency === 'SERIAL' ? consistencies.serial : consistencies.localSerial;
    this.timeoutMs = config.request_timeout_ms ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  async open(): Promise<void> {
    if (this.client) return;
    const localDataCenter = this.config.local_data_center ?? (this.config.datacenter || undefined) ?? (await this.discoverDataCenter());
    const client = new cassandra.Client({ ...this.baseOptions(), localDataCenter });
    try {
      await client.connect();
    } catch (err) {
      await client.shutdown().catch(() => undefined);
      throw backendError(this.target, 'connecting', plain(err), 'CONNECTION_FAILED');
    }
    this.client = client;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.shutdown();
  }

  /** A fully qualified table name. */
  table(name: string): string {
    return `${this.keyspace}.${name}`;
  }

  /** One page of a read at the read consistency; `pageState` continues a scan where the last page ended. */
  async page(cql: string, params: Params, fetchSize: number, pageState?: string): Promise<{ rows: Row[]; pageState: string | null }> {
    const rs = await this.run(cql, params, { consistency: this.readCl, fetchSize, ...(pageState ? { pageState } : {}) });
    return { rows: rs.rows, pageState: rs.pageState ?? null };
  }

  /** Every row of a read, fetched page by page (for partitions: hooks, steps, children). */
  async all(cql: string, params: Params, fetchSize = 1000): Promise<Row[]> {
    const out: Row[] = [];
    await this.eachPage(cql, params, fetchSize, (rows) => void out.push(...rows));
    return out;
  }

  /** Hands a read's rows over page by page, holding one page at a time (event partitions can be large). */
  async eachPage(cql: string, params: Params, fetchSize: number, onPage: (rows: Row[]) => void): Promise<void> {
    let state: string | null | undefined;
    do {
      const p = await this.page(cql, params, fetchSize, state ?? undefined);
      onPage(p.rows);
      state = p.pageState;
    } while (state);
  }

  async one(cql: string, params: Params): Promise<Row | null> {
    const rs = await this.run(cql, params, { consistency: this.readCl });
    return rs.first() ?? null;
  }

  /** A write that can be repeated safely (our deletes are), at the write consistency. */
  async write(cql: string, params: Params): Promise<void> {
    await this.run(cql, params, { consistency: this.writeCl, isIdempotent: true });
  }

  /** A lightweight transaction (`... IF ...`): one Paxos round, so use it only where a race can lose data or double-count. */
  async conditional(cql: string, params: Params): Promise<ConditionalResult> {
    const rs = await this.run(cql, params, { consistency: this.writeCl, serialConsistency: this.serialCl });
    const applied = rs.wasApplied();
    // A failed condition on a missing row comes back with the [applied] column only.
    const current = !applied && rs.columns.length > 1 ? (rs.first() ?? null) : null;
    return { applied, current };
  }

  /** Reads the keyspace's schema (system_schema is node-local metadata, read at ONE). */
  async schemaRows(cql: string, params: Params): Promise<Row[]> {
    const rs = await this.run(cql, params, { consistency: consistencies.one, fetchSize: 5000 });
    return rs.rows;
  }

  private async run(cql: string, params: Params, options: cassandra.QueryOptions): Promise<cassandra.types.ResultSet> {
    if (!this.client) throw backendError(this.target, 'querying', new Error('not connected'));
    try {
      return await this.client.execute(cql, [...params], { prepare: true, readTimeout: this.timeoutMs, ...options });
    } catch (err) {
      throw backendError(this.target, describe(cql), plain(err));
    }
  }

  private baseOptions(): cassandra.ClientOptions {
    const c = this.config;
    const authProvider = c.username && c.password ? new cassandra.auth.PlainTextAuthProvider(c.username, c.password) : undefined;
    let sslOptions: cassandra.ClientOptions['sslOptions'];
    if (c.ssl_ca_file) {
      let ca: Buffer;
      try {
        ca = readFileSync(c.ssl_ca_file);
      } catch (err) {
        throw new InvalidInputError(`cassandra: cannot read ssl_ca_file ${c.ssl_ca_file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'INVALID_STORAGE_CONFIG');
      }
      sslOptions = { ca: [ca], rejectUnauthorized: true };
    } else if (c.ssl) {
      sslOptions = { rejectUnauthorized: true };
    }
    return {
      contactPoints: c.contact_points ?? ['localhost'],
      protocolOptions: { port: c.port ?? 9042 },
      socketOptions: { connectTimeout: CONNECT_TIMEOUT_MS, readTimeout: this.timeoutMs },
      queryOptions: { consistency: this.readCl, prepare: true },
      ...(authProvider ? { authProvider } : {}),
      ...(sslOptions ? { sslOptions } : {}),
    };
  }

  /**
   * pyworkflow needs no data center (its driver round-robins); this driver's DC-aware policy does. Without
   * one configured, ask the first reachable contact point which data center it is in, as the Python driver
   * effectively does by treating the contact points as local.
   */
  private async discoverDataCenter(): Promise<string> {
    const probe = new cassandra.Client({ ...this.baseOptions(), policies: { loadBalancing: new cassandra.policies.loadBalancing.RoundRobinPolicy() } });
    try {
      await probe.connect();
      const rs = await probe.execute('SELECT data_center FROM system.local', [], { consistency: consistencies.one });
      const dc = rs.first()?.get('data_center') as unknown;
      if (typeof dc !== 'string' || dc === '') throw new Error('system.local has no data_center');
      return dc;
    } catch (err) {
      throw backendError(this.target, 'connecting (discovering the local data center; set local_data_center to skip)', plain(err), 'CONNECTION_FAILED');
    } finally {
      await probe.shutdown().catch(() => undefined);
    }
  }
}

/**
 * The driver's NoHostAvailableError inlines every host's error with its stack; a status message needs
 * one line per host: "127.0.0.1:9042: connect ECONNREFUSED 127.0.0.1:9042".
 */
function plain(err: unknown): unknown {
  if (!(err instanceof cassandra.errors.NoHostAvailableError)) return err;
  const inner = Object.entries((err as { innerErrors?: Record<string, unknown> }).innerErrors ?? {}).map(
    ([host, e]) => `${host}: ${e instanceof Error ? e.message : String(e)}`,
  );
  return Object.assign(new Error(`no Cassandra node reachable (${inner.join('; ') || 'no hosts tried'})`), { cause: err });
}

/** "DELETE workflow_runs" for a statement: enough to tell which step failed, short enough for a status message. */
function describe(cql: string): string {
  const verb = /^\s*(\w+)/.exec(cql)?.[1]?.toUpperCase() ?? 'query';
  const table = /\b(?:FROM|INTO|UPDATE)\s+([\w.]+)/i.exec(cql)?.[1] ?? '';
  return `${verb} ${table}`.trim();
}

/** LOCAL_QUORUM -> localQuorum, the driver's key for a consistency level. */
function toCamel(level: string): keyof typeof consistencies {
  return level.toLowerCase().replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()) as keyof typeof consistencies;
}
