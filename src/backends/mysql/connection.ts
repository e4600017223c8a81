// Connects to a pyworkflow MySQL/MariaDB store from pyworkflow's config keys (host/port/user/password/
// database with pyworkflow's defaults; a `dsn`, which pyworkflow ignores, is honoured) plus our TLS and
// timeout keys. Sessions run READ COMMITTED (no gap locks against pyworkflow's inserts), return
// DATETIME values as text (no local-time shift, docs/storage.md#time) and bound lock waits and statement time.

import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { RetentionError, backendError, type ErrorCode } from '../../errors.js';
import { dsnScheme, dsnShapeProblem, percentDecode } from '../dsn.js';
import type { MysqlConfig } from './config.js';

export const PYWORKFLOW_MYSQL_DEFAULTS = { host: 'localhost', port: 3306, user: 'pyworkflow', password: '', database: 'pyworkflow' } as const;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000;
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface MysqlEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** TLS is used when any TLS key is set; the chain is verified unless turned off. */
  tls: boolean;
  rejectUnauthorized: boolean;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  connectTimeoutMs: number;
}

export function resolveEndpoint(config: MysqlConfig): MysqlEndpoint {
  let e: MysqlEndpoint = {
    ...PYWORKFLOW_MYSQL_DEFAULTS,
    tls: config.ssl_ca_file !== undefined || config.ssl_cert_file !== undefined || config.ssl_reject_unauthorized !== undefined,
    rejectUnauthorized: config.ssl_reject_unauthorized ?? true,
    statementTimeoutMs: config.statement_timeout_ms ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.lock_timeout_ms ?? DEFAULT_LOCK_TIMEOUT_MS,
    connectTimeoutMs: config.connect_timeout_ms ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ...(config.ssl_ca_file ? { caFile: config.ssl_ca_file } : {}),
    ...(config.ssl_cert_file ? { certFile: config.ssl_cert_file } : {}),
    ...(config.ssl_key_file ? { keyFile: config.ssl_key_file } : {}),
  };
  if (config.dsn !== undefined) e = { ...e, ...parseDsn(config.dsn) };
  return {
    ...e,
    host: config.host ?? e.host,
    port: config.port ?? e.port,
    user: config.user ?? e.user,
    password: config.password ?? e.password,
    database: config.database ?? e.database,
  };
}

/** mysql://user:password@host:port/database[?ssl-mode=REQUIRED]. Errors never quote the DSN. */
function parseDsn(dsn: string): Partial<MysqlEndpoint> {
  const invalid = (why: string): RetentionError => new RetentionError('INVALID_STORAGE_CONFIG', `mysql storage config: "dsn" ${why}`, { exitCode: 2 });
  const scheme = dsnScheme(dsn);
  if (scheme === null) throw invalid('is not a mysql:// URI');
  if (!/^(mysql|mariadb)(\+\w+)?$/.test(scheme)) throw invalid('must start with mysql://');
  const problem = dsnShapeProblem(dsn);
  if (problem !== null) throw invalid(problem);
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw invalid('is not a mysql:// URI');
  }
  const decode = percentDecode;
  const out: Partial<MysqlEndpoint> = {};
  if (url.hostname !== '') out.host = decode(url.hostname.replace(/^\[|\]$/g, ''));
  if (url.port !== '') out.port = Number(url.port);
  if (url.username !== '') out.user = decode(url.username);
  if (url.password !== '') out.password = decode(url.password);
  const db = decode(url.pathname.replace(/^\//, ''));
  if (db !== '') out.database = db;
  const mode = (url.searchParams.get('ssl-mode') ?? url.searchParams.get('sslmode') ?? '').toUpperCase();
  if (mode === 'REQUIRED' || mode === 'REQUIRE') Object.assign(out, { tls: true, rejectUnauthorized: false });
  if (mode === 'VERIFY_CA' || mode === 'VERIFY_IDENTITY' || mode === 'VERIFY-FULL') Object.assign(out, { tls: true, rejectUnauthorized: true });
  return out;
}

export function describeEndpoint(e: MysqlEndpoint): string {
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return `mysql ${e.user}@${host}:${e.port}/${e.database}`;
}

export function endpointSecrets(e: MysqlEndpoint): string[] {
  return e.password.length > 0 ? [e.password, encodeURIComponent(e.password)] : [];
}

export interface MysqlSession {
  conn: mysql.Connection;
  /** MariaDB bounds every statement (max_statement_time); MySQL only SELECTs (max_execution_time). */
  mariadb: boolean;
  serverVersion: string;
}

function readTls(path: string | undefined, what: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new RetentionError('INVALID_STORAGE_CONFIG', `cannot read the TLS ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { exitCode: 2 });
  }
}

export async function connectMysql(e: MysqlEndpoint, target: string): Promise<MysqlSession> {
  const ca = readTls(e.caFile, 'CA');
  const cert = readTls(e.certFile, 'client certificate');
  const key = readTls(e.keyFile, 'client key');
  let conn: mysql.Connection | null = null;
  try {
    conn = await mysql.createConnection({
      host: e.host,
      port: e.port,
      user: e.user,
      password: e.password,
      database: e.database,
      connectTimeout: e.connectTimeoutMs,
      // Keepalives find a peer that vanished without closing the connection.
      enableKeepAlive: true,
      // DATETIME(6) holds naive UTC wall-clock time: read it as text, and never let the driver
      // convert a JS Date through the local zone (we bind text anyway).
      timezone: 'Z',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: false,
      charset: 'utf8mb4_unicode_ci',
      ...(e.tls ? { ssl: { rejectUnauthorized: e.rejectUnauthorized, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } } : {}),
    });
    conn.on('error', () => undefined);
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    const serverVersion = String(rows[0]?.v ?? '');
    const mariadb = /mariadb/i.test(serverVersion);
    const lockSeconds = Math.max(1, Math.ceil(e.lockTimeoutMs / 1000));
    await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await conn.query(`SET SESSION innodb_lock_wait_timeout = ${lockSeconds}`);
    await conn.query("SET SESSION time_zone = '+00:00'");
    if (mariadb) await conn.query(`SET SESSION max_statement_time = ${e.statementTimeoutMs / 1000}`);
    else await conn.query(`SET SESSION max_execution_time = ${Math.floor(e.statementTimeoutMs)}`);
    return { conn, mariadb, serverVersion };
  } catch (err) {
    await conn?.end().catch(() => undefined);
    throw mysqlError(target, 'connecting', err, endpointSecrets(e), 'CONNECTION_FAILED');
  }
}

/** Wraps a driver/server error with the target and the server's error code; secrets are scrubbed. */
export function mysqlError(target: string, action: string, err: unknown, secrets: readonly string[], code: ErrorCode = 'BACKEND_ERROR'): RetentionError {
  if (err instanceof RetentionError) return err;
  let message = err instanceof AggregateError && err.errors.length > 0
    ? err.errors.map((x) => (x instanceof Error ? x.message : String(x))).join('; ')
    : err instanceof Error ? err.message || err.name : String(err);
  for (const s of secrets) if (s.length > 0) message = message.split(s).join('***');
  const e = err as { code?: unknown; errno?: unknown } | null;
  const serverCode = typeof e?.code === 'string' ? (typeof e.errno === 'number' ? `${e.code} ${e.errno}` : e.code) : undefined;
  const clean = Object.assign(new Error(message), serverCode ? { code: serverCode } : {});
  return backendError(target, action, clean, code);
}

/** mysql2's error code name (ER_LOCK_DEADLOCK, ...), if any. */
export function mysqlCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
