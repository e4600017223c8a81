// A mysql StorageBackend block -> the run pod's storage config, Secret env and TLS files.
// TLS modes map onto the mysql driver's switches: disable (and prefer without files) = no TLS keys,
// prefer/require = TLS without certificate checks, verify-ca/verify-full = TLS checked against the CA.

import type { SqlConnectionSpec } from '../../api/generated/types.js';
import { RunPodStorageBuilder, type RunPodStorage } from '../run-pod.js';

export function mysqlRunPodStorage(spec: SqlConnectionSpec): RunPodStorage {
  const pod = new RunPodStorageBuilder();
  const config: Record<string, unknown> = { type: 'mysql' };
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
  const withFiles = tls !== undefined && (tls.caSecretRef !== undefined || tls.clientCertSecretRef !== undefined);
  if (tls && tls.mode !== 'disable' && (tls.mode !== 'prefer' || withFiles)) {
    config.ssl_reject_unauthorized = tls.mode === 'verify-ca' || tls.mode === 'verify-full';
    if (tls.caSecretRef) config.ssl_ca_file = pod.file('tls-ca', tls.caSecretRef, 'ca.crt');
    if (tls.clientCertSecretRef) config.ssl_cert_file = pod.file('tls-client-cert', tls.clientCertSecretRef, 'tls.crt');
    if (tls.clientKeySecretRef) config.ssl_key_file = pod.file('tls-client-key', tls.clientKeySecretRef, 'tls.key');
  }
  config.connect_timeout_ms = spec.connectTimeoutSeconds * 1000;
  config.statement_timeout_ms = spec.statementTimeoutSeconds * 1000;
  return pod.build(config);
}
