// A mysql StorageBackend block -> the run pod's storage config, Secret env and TLS files.
// TLS modes map onto the mysql driver's switches: disable (and prefer without files) = no TLS keys,
// prefer/require = TLS without certificate checks, verify-ca/verify-full = TLS checked against the CA.

import type { SqlConnectionSpec } from '../../api/generated/types.js';
import { RunPodStorageBuilder, type RunPodStorage } from '../run-pod.js';
import { addSqlConnection, addSqlTimeouts, addSqlTlsFiles } from '../sql-pod.js';

export function mysqlRunPodStorage(spec: SqlConnectionSpec): RunPodStorage {
  const pod = new RunPodStorageBuilder();
  const config: Record<string, unknown> = { type: 'mysql' };
  addSqlConnection(pod, config, spec);
  const tls = spec.tls;
  const withFiles = tls !== undefined && (tls.caSecretRef !== undefined || tls.clientCertSecretRef !== undefined);
  if (tls && tls.mode !== 'disable' && (tls.mode !== 'prefer' || withFiles)) {
    config.ssl_reject_unauthorized = tls.mode === 'verify-ca' || tls.mode === 'verify-full';
    addSqlTlsFiles(pod, config, tls);
  }
  addSqlTimeouts(config, spec);
  return pod.build(config);
}
