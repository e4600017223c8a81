// Maps a validated storage config to its backend. Drivers are imported lazily so a sweep of one
// store never loads the others' drivers.

import type { StorageConfig } from '../config/storage-config.js';
import { InvalidInputError } from '../errors.js';
import type { Backend, BackendDeps } from './backend.js';
import { dsnSecrets } from './dsn.js';
import { ReferenceMemoryBackend } from './memory/memory-backend.js';
import { emptyDataset } from '../model/dataset.js';
import type { StorageBackendSpec } from '../api/generated/types.js';
import type { RunPodStorage } from './run-pod.js';
import type { StoreTimeouts } from '../engine/run-contract.js';
import { cassandraRunPodStorage } from './cassandra/pod.js';
import { dynamodbRunPodStorage } from './dynamodb/pod.js';
import { fileRunPodStorage } from './file/pod.js';
import { mysqlRunPodStorage } from './mysql/pod.js';
import { postgresRunPodStorage } from './postgres/pod.js';
import { sqliteRunPodStorage } from './sqlite/pod.js';

export async function createBackend(config: StorageConfig, deps: BackendDeps): Promise<Backend> {
  switch (config.type) {
    case 'reference-memory':
      return new ReferenceMemoryBackend(emptyDataset());
    case 'sqlite': {
      const { SqliteBackend } = await import('./sqlite/sqlite-backend.js');
      return new SqliteBackend(config, deps);
    }
    case 'file': {
      const { FileBackend } = await import('./file/file-backend.js');
      return new FileBackend(config, deps);
    }
    case 'cassandra': {
      const { CassandraBackend } = await import('./cassandra/cassandra-backend.js');
      return new CassandraBackend(config, deps);
    }
    case 'dynamodb': {
      const { DynamodbBackend } = await import('./dynamodb/dynamodb-backend.js');
      return new DynamodbBackend(config, deps);
    }
    case 'postgres':
    case 'citus': {
      const { PostgresBackend } = await import('./postgres/postgres-backend.js');
      return new PostgresBackend(config, deps);
    }
    case 'mysql': {
      const { MysqlBackend } = await import('./mysql/mysql-backend.js');
      return new MysqlBackend(config, deps);
    }
    default:
      // Unreachable while every validated type has a case; kept for configs built without validation.
      throw new InvalidInputError(`storage type "${(config as { type: string }).type}" is not supported by this release`, 'UNSUPPORTED_BACKEND');
  }
}

/**
 * Every string in the config that must never appear in output (passwords, DSNs, and the password
 * parts of a DSN also when it does not parse). Strings shorter than 3 characters are left out: hiding
 * every "a" in the output would hide nothing.
 */
export function secretsOf(config: StorageConfig): string[] {
  const out: string[] = [];
  const c = config as unknown as Record<string, unknown>;
  if (typeof c.password === 'string') out.push(c.password, encodeURIComponent(c.password));
  if (typeof c.dsn === 'string') out.push(...dsnSecrets(c.dsn));
  // Log lines are redacted after JSON serialisation, where a secret with `"`, `\` or a control character appears escaped.
  return [...out, ...out.map((s) => JSON.stringify(s).slice(1, -1))].filter((s) => s.length >= 3);
}

/**
 * How a run pod reaches the store a (validated) StorageBackend spec describes: the storage config for
 * `sweep --storage`, Secret-backed env and volumes. Pure; the controller never sees a secret value.
 */
export function runPodStorage(spec: StorageBackendSpec): RunPodStorage {
  const missing = (): never => {
    throw new InvalidInputError(`StorageBackend spec.${spec.type} is required when spec.type is ${spec.type}`, 'INVALID_STORAGE_CONFIG');
  };
  switch (spec.type) {
    case 'postgres':
    case 'citus':
      return postgresRunPodStorage(spec.type, spec[spec.type] ?? missing());
    case 'mysql':
      return mysqlRunPodStorage(spec.mysql ?? missing());
    case 'sqlite':
      return sqliteRunPodStorage(spec.sqlite ?? missing());
    case 'file':
      return fileRunPodStorage(spec.file ?? missing());
    case 'cassandra':
      return cassandraRunPodStorage(spec.cassandra ?? missing());
    case 'dynamodb':
      return dynamodbRunPodStorage(spec.dynamodb ?? missing());
  }
}

/**
 * The longest single steps of a run against the store a StorageBackend describes (run-contract.ts
 * derives the run's deadline headroom from them). SQL stores: the spec's own timeouts. The others use
 * their drivers' fixed timeouts (cassandra/connection.ts, dynamodb/client.ts); SQLite waits at most its
 * busy timeout for a write lock, and the file store's batches are bounded by the lock wait of one run
 * file, both well under the 30 s given here.
 */
export function storeTimeouts(spec: StorageBackendSpec): StoreTimeouts {
  switch (spec.type) {
    case 'postgres':
    case 'citus':
    case 'mysql': {
      const sql = spec[spec.type];
      return { statementSeconds: sql?.statementTimeoutSeconds ?? 60, connectSeconds: sql?.connectTimeoutSeconds ?? 10 };
    }
    case 'cassandra':
      return { statementSeconds: 30, connectSeconds: 10 };
    case 'dynamodb':
      return { statementSeconds: 60, connectSeconds: 5 };
    case 'sqlite':
    case 'file':
      return { statementSeconds: 30, connectSeconds: 0 };
  }
}
