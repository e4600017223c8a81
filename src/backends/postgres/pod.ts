// A postgres/citus StorageBackend block -> the run pod's storage config, Secret env and TLS files.
// The TLS mode passes through as libpq's sslmode.

import type { SqlConnectionSpec } from '../../api/generated/types.js';
import { RunPodStorageBuilder, type RunPodStorage } from '../run-pod.js';
import { addSqlConnection, addSqlTimeouts, addSqlTlsFiles } from '../sql-pod.js';

export function postgresRunPodStorage(type: 'postgres' | 'citus', spec: SqlConnectionSpec): RunPodStorage {
  const pod = new RunPodStorageBuilder();
  const config: Record<string, unknown> = { type };
  addSqlConnection(pod, config, spec);
  if (spec.tls) {
    config.sslmode = spec.tls.mode;
    addSqlTlsFiles(pod, config, spec.tls);
  }
  addSqlTimeouts(config, spec);
  return pod.build(config);
}
