// A file StorageBackend block -> the run pod's storage config and the PersistentVolumeClaim holding pyworkflow's data directory.

import type { FileSpec } from '../../api/generated/types.js';
import { RunPodStorageBuilder, type RunPodStorage } from '../run-pod.js';

export function fileRunPodStorage(spec: FileSpec): RunPodStorage {
  const pod = new RunPodStorageBuilder();
  return pod.build({ type: 'file', base_path: pod.data(spec.volume, spec.basePath) });
}
