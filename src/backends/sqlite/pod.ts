// A sqlite StorageBackend block -> the run pod's storage config and the PersistentVolumeClaim holding the database.

import type { SqliteSpec } from '../../api/generated/types.js';
import { RunPodStorageBuilder, type RunPodStorage } from '../run-pod.js';

export function sqliteRunPodStorage(spec: SqliteSpec): RunPodStorage {
  const pod = new RunPodStorageBuilder();
  return pod.build({ type: 'sqlite', base_path: pod.data(spec.volume, spec.path) });
}
