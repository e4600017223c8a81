// Connects to a pyworkflow PostgreSQL/Citus store from pyworkflow's own config keys (a `dsn`, or
// host/port/user/password/database with pyworkflow's defaults), plus our TLS and timeout keys.
// Every session runs in UTC with bounded statement, lock and idle-in-transaction timeouts.

import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { RetentionError, backendError, type ErrorCode } from '../../errors.js';
import { dsnScheme, dsnShapeProblem, percentDecode } from '../dsn.js';
import type { PostgresConfig } from './config.js';
import { parseTimestamptz } from './time.js';

/** Defaults pyworkflow's PostgresStorageBackend uses when a key is absent (docs/storage.md#config). */
export const PYWORKFLOW_PG_DEFAULTS = { host: 'localhost', port: 5432, user: 'pyworkflow', password: '', database: 'pyworkflow' } as const;

/** Ours: a statement never runs longer than pyworkflow's own 60 s command timeout. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000;
/** Ours: a batch waits at most this long for a run row a pyworkflow worker holds, then retries. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** The server ends a transaction of ours that sits idle this long (a frozen sweep never holds locks). */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
const CLIENT_GRACE_MS = 30_000;

type SslMode = NonNullable<PostgresConfig['sslmode']>;

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  sslmode: SslMode;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** libpq `options` from the DSN (e.g. `-c search_path=...`), passed through as pyworkflow's driver does. */
  options?: string;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  connectTimeoutMs: number;
}

/** Resolves the config to one endpoint; DSN query parameters override nothing given as explicit keys. */
export function resolveEndpoint(config: PostgresConfig): PostgresEndpoint {
  const base: PostgresEndpoint = {
    ...PYWORKFLOW_PG_DEFAULTS,
    sslmode: config.sslmode ?? 'prefer',
    statementTimeoutMs: config.statement_timeout_ms ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.lock_timeout_ms ?? DEFAULT_LOCK_TIMEOUT_MS,
    connectTimeoutMs: config.connect_timeout_ms ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ...(config.ssl_ca_file ? { caFile: config.ssl_ca_file } : {}),
    ...(config.ssl_cert_file ? { certFile: config.ssl_cert_file } : {}),
    ...(config.ssl_key_file ? { keyFile: config.ssl_key_file } : {}),
  };
  if (config.dsn === undefined) {
    return {
      ...base,
      host: config.host ?? base.host,
      port: config.port ?? base.port,
      user: config.user ?? base.user,
      password: config.password ?? base.password,
      database: config.database ?? base.database,
    };
  }
  return { ...base, ...parseDsn(config.dsn, config.type) };
}

/**
 * A postgresql:// URI as asyncpg (pyworkflow's driver) accepts it. Parse errors never quote the DSN:
 * it holds the password.
 */
function parseDsn(dsn: string, type: string): Partial<PostgresEndpoint> {
  const invalid = (why: string): RetentionError => new RetentionError('INVALID_STORAGE_CONFIG', `${type} storage config: "dsn" ${why}`, { exitCode: 2 });
  const scheme = dsnScheme(dsn);
  if (scheme === null) throw invalid('is not a postgresql:// URI');
  if (scheme !== 'postgresql' && scheme !== 'postgres') throw invalid('must start with postgresql:// or postgres://');
  const problem = dsnShapeProblem(dsn);
  if (problem !== null) throw invalid(problem);
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw invalid('is not a postgresql:// URI');
  }
  const q = url.searchParams;
  const decode = percentDecode;
  const out: Partial<PostgresEndpoint> = {};
  const host = q.get('host') ?? decode(url.hostname.replace(/^\[|\]$/g, ''));
  if (host !== '') out.host = host;
  if (url.port !== '') out.port = Number(url.port);
  else if (q.get('port')) out.port = Number(q.get('port'));
  const user = q.get('user') ?? decode(url.username);
  if (user !== '') out.user = user;
  const password = q.get('password') ?? decode(url.password);
  if (password !== '') out.password = password;
  const database = q.get('dbname') ?? decode(url.pathname.replace(/^\//, ''));
  if (database !== '') out.database = database;
  const sslmode = q.get('sslmode');
  if (sslmode !== null) {
    if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(sslmode)) {
      throw new RetentionError('INVALID_STORAGE_CONFIG', `${type} storage config: dsn sslmode "${sslmode}" is not a libpq sslmode`, { exitCode: 2 });
    }
    out.sslmode = sslmode === 'allow' ? 'prefer' : (sslmode as SslMode);
  }
  if (q.get('sslrootcert')) out.caFile = q.get('sslrootcert')!;
  if (q.get('sslcert')) out.certFile = q.get('sslcert')!;
  if (q.get('sslkey')) out.keyFile = q.get('sslkey')!;
  if (q.get('options')) out.options = q.get('options')!;
  if (q.get('connect_timeout')) out.connectTimeoutMs = Number(q.get('connect_timeout')) * 1000;
  if (out.port !== undefined && (!Number.isInteger(out.port) || out.port < 1 || out.port > 65535)) {
    throw new RetentionError('INVALID_STORAGE_CONFIG', `${type} storage config: dsn port is not a port number`, { exitCode: 2 });
  }
  return out;
}

/** `user@host:port/database`: names the store, never the password. */
export function describeEndpoint(type: string, e: PostgresEndpoint): string {
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return `${type} ${e.user}@${host}:${e.port}/${e.database}`;
}

/** The strings that must never appear in output for this endpoint. */
export function endpointSecrets(e: PostgresEndpoint): string[] {
  return e.password.length > 0 ? [e.password, encodeURIComponent(e.password)] : [];
}

function tlsOptions(e: PostgresEndpoint): ConnectionOptions | false {
  if (e.sslmode === 'disable') return false;
  const read = (path: string | undefined, what: string): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new RetentionError('INVALID_STORAGE_CONFIG', `cannot read the TLS ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
        exitCode: 2,
      });
    }
  };
  const ca = read(e.caFile, 'CA');
  const cert = read(e.certFile, 'client certificate');
  const key = read(e.keyFile, 'client key');
  // libpq semantics: require encrypts only (but verifies the chain when a root CA is given),
  // verify-ca checks the chain, verify-full also the host name.
  const verify = e.sslmode === 'verify-ca' || e.sslmode === 'verify-full' || (e.sslmode === 'require' && ca !== undefined);
  return {
    rejectUnauthorized: verify,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(e.sslmode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
  };
}

/** pg's defaults with timestamptz parsed exactly (floor to the millisecond, never a float rounding). */
const TIMESTAMPTZ_OID = 1184;
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === TIMESTAMPTZ_OID && format !== 'binary') return parseTimestamptz;
    return pg.types.getTypeParser(oid, format ?? 'text') as unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export interface ConnectOptions {
  /** Queue queries on the wire without waiting for each answer (pg's pipeline mode). */
  pipeline?: boolean;
  applicationName?: string;
}

/** Opens one session; errors name the target and keep the server's code, never the password. */
export async function connectPostgres(e: PostgresEndpoint, target: string, options: ConnectOptions = {}): Promise<pg.Client> {
  const ssl = tlsOptions(e);
  const attempt = async (useSsl: ConnectionOptions | false): Promise<pg.Client> => {
    const client = new pg.Client({
      host: e.host,
      port: e.port,
      user: e.user,
      password: e.password,
      database: e.database,
      ssl: useSsl,
      connectionTimeoutMillis: e.connectTimeoutMs,
      // A silently dropped network must not hang a sweep: keepalives find a dead peer, and the
      // client gives up on an answer a while after the server's own statement timeout would have.
      keepAlive: true,
      query_timeout: e.statementTimeoutMs + CLIENT_GRACE_MS,
      statement_timeout: e.statementTimeoutMs,
      lock_timeout: e.lockTimeoutMs,
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
      application_name: options.applicationName ?? 'pyworkflow-retention',
      options: [e.options, '-c TimeZone=UTC'].filter((s) => s !== undefined && s !== '').join(' '),
      types: TYPES,
      pipeline: options.pipeline === true,
    });
    // A server-side disconnect between queries must not crash the process; the next query fails instead.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  };
  try {
    if (ssl !== false && e.sslmode === 'prefer') {
      try {
        return await attempt(ssl);
      } catch (err) {
        // prefer: like libpq/asyncpg, fall back to a plain connection when the server has no TLS.
        if (!/does not support SSL/i.test(errorText(err))) throw err;
        return await attempt(false);
      }
    }
    return await attempt(ssl);
  } catch (err) {
    throw pgError(target, 'connecting', err, endpointSecrets(e), 'CONNECTION_FAILED');
  }
}

/** Wraps a driver/server error: the target, what we were doing, the server's message and SQLSTATE. */
export function pgError(target: string, action: string, err: unknown, secrets: readonly string[], code: ErrorCode = 'BACKEND_ERROR'): RetentionError {
  if (err instanceof RetentionError) return err;
  let message = errorText(err);
  for (const s of secrets) if (s.length > 0) message = message.split(s).join('***');
  const sqlState = (err as { code?: unknown } | null)?.code;
  // Only the scrubbed message and the code travel on: the driver's error object may hold the config.
  const clean = Object.assign(new Error(message), typeof sqlState === 'string' ? { code: sqlState } : {});
  return backendError(target, action, clean, code);
}

function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(errorText).join('; ');
  if (err instanceof Error) return err.message !== '' ? err.message : err.name;
  return String(err);
}

/** SQLSTATE of a driver error, if any. */
export function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
