// A postgres/citus StorageBackend block -> the run pod's storage config, Secret env and TLS files.

import type { SqlConnectionSpec } from '../../api/generated/types.js';
import { RunPodStorageBuilder, type RunPodStorage } from '../run-pod.js';

export function postgresRunPodStorage(type: 'postgres' | 'citus', spec: SqlConnectionSpec): RunPodStorage {
  const pod = new RunPodStorageBuilder();
  const config: Record<string, unknown> = { type };
  if (spec.dsnSecretRef) {
    config.dsn = pod.secret('PYWR_DSN', spec.dsnSecretRef);
  } else {
    if (spec.host !== undefined) config.host = spec.host;
    if (spec.port !== undefined) config.port = spec.port;
    if (spec.database !== undefined) config.database = spec.database;
    if (spec.user !== undefined) config.user = spec.user;
    if (spec.userSecretRef) config.user = pod.secret('PYWR_USER', spec.userSecretRef);
    if (spec.passwordSecretRef) config.password = pod.secret('PYWR_PASSWORD', spec.passwordSecretRef);
  }
  const tls = spec.tls;
  if (tls) {
    config.sslmode = tls.mode;
    if (tls.caSecretRef) config.ssl_ca_file = pod.file('tls-ca', tls.caSecretRef, 'ca.crt');
    if (tls.clientCertSecretRef) config.ssl_cert_file = pod.file('tls-client-cert', tls.clientCertSecretRef, 'tls.crt');
    if (tls.clientKeySecretRef) config.ssl_key_file = pod.file('tls-client-key', tls.clientKeySecretRef, 'tls.key');
  }
  config.connect_timeout_ms = spec.connectTimeoutSeconds * 1000;
  config.statement_timeout_ms = spec.statementTimeoutSeconds * 1000;
  return pod.build(config);
}
