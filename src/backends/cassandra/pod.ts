// A cassandra StorageBackend block -> the run pod's storage config, Secret env for the credentials and the CA file.

import type { CassandraSpec } from '../../api/generated/types.js';
import { RunPodStorageBuilder, type RunPodStorage } from '../run-pod.js';

export function cassandraRunPodStorage(spec: CassandraSpec): RunPodStorage {
  const pod = new RunPodStorageBuilder();
  const config: Record<string, unknown> = {
    type: 'cassandra',
    contact_points: [...spec.contactPoints],
    port: spec.port,
    keyspace: spec.keyspace,
    read_consistency: spec.readConsistency,
    write_consistency: spec.writeConsistency,
  };
  if (spec.localDataCenter !== undefined) config.local_data_center = spec.localDataCenter;
  if (spec.usernameSecretRef) config.username = pod.secret('PYWR_USERNAME', spec.usernameSecretRef);
  if (spec.passwordSecretRef) config.password = pod.secret('PYWR_PASSWORD', spec.passwordSecretRef);
  if (spec.tls) {
    config.ssl = true;
    if (spec.tls.caSecretRef) config.ssl_ca_file = pod.file('tls-ca', spec.tls.caSecretRef, 'ca.crt');
  }
  return pod.build(config);
}
