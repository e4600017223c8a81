// The part of a run pod's storage config that every SQL store (postgres, citus, mysql) maps the same
// way from its StorageBackend block: a DSN or host/port/database/user from Secrets, the TLS files, and
// the timeouts. How TLS *modes* map onto a driver differs per store and stays in each backend's pod.ts.

import type { SqlConnectionSpec } from '../api/generated/types.js';
import type { RunPodStorageBuilder } from './run-pod.js';

/** Connection keys (pyworkflow's own: dsn, or host/port/database/user/password) into `config`. */
export function addSqlConnection(pod: RunPodStorageBuilder, config: Record<string, unknown>, spec: SqlConnectionSpec): void {
  if (spec.dsnSecretRef) {
    config.dsn = pod.secret('PYWR_DSN', spec.dsnSecretRef);
    return;
  }
  if (spec.host !== undefined) config.host = spec.host;
  if (spec.port !== undefined) config.port = spec.port;
  if (spec.database !== undefined) config.database = spec.database;
  if (spec.user !== undefined) config.user = spec.user;
  if (spec.userSecretRef) config.user = pod.secret('PYWR_USER', spec.userSecretRef);
  if (spec.passwordSecretRef) config.password = pod.secret('PYWR_PASSWORD', spec.passwordSecretRef);
}

/** CA and client certificate/key Secrets mounted as files, named by pyworkflow-style keys. */
export function addSqlTlsFiles(pod: RunPodStorageBuilder, config: Record<string, unknown>, tls: NonNullable<SqlConnectionSpec['tls']>): void {
  if (tls.caSecretRef) config.ssl_ca_file = pod.file('tls-ca', tls.caSecretRef, 'ca.crt');
  if (tls.clientCertSecretRef) config.ssl_cert_file = pod.file('tls-client-cert', tls.clientCertSecretRef, 'tls.crt');
  if (tls.clientKeySecretRef) config.ssl_key_file = pod.file('tls-client-key', tls.clientKeySecretRef, 'tls.key');
}

/** The block's connect and statement timeouts, in the milliseconds the storage config takes. */
export function addSqlTimeouts(config: Record<string, unknown>, spec: SqlConnectionSpec): void {
  config.connect_timeout_ms = spec.connectTimeoutSeconds * 1000;
  config.statement_timeout_ms = spec.statementTimeoutSeconds * 1000;
}
