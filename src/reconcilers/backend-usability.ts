// Whether a policy's StorageBackend can be used for runs, and if not, why in words a human can act on.
// The policy reconciler validates the backend itself (nothing relies on admission or on the backend
// reconciler having run), and also honours the backend's own Ready=False for its current generation
// (e.g. its volume claim is missing), which only the backend reconciler can see.

import type { StorageBackend } from '../api/generated/types.js';
import { readStorageBackend } from '../api/validate.js';
import { runPodStorage } from '../backends/registry.js';
import { findCondition } from './conditions.js';

export type BackendUsability =
  | { usable: true; backend: StorageBackend }
  | { usable: false; reason: 'BackendNotFound' | 'BackendInvalid' | 'BackendNotReady'; message: string };

export function assessBackend(name: string, namespace: string, observed: StorageBackend | undefined): BackendUsability {
  const suffix = 'scheduled runs are suspended until it is fixed';
  if (!observed) {
    return {
      usable: false,
      reason: 'BackendNotFound',
      message: `StorageBackend "${name}" does not exist in namespace ${namespace}: create it or correct spec.backendRef.name; ${suffix}`,
    };
  }
  const validated = readStorageBackend(observed);
  if (!validated.ok) {
    return { usable: false, reason: 'BackendInvalid', message: `StorageBackend "${name}" is invalid (${validated.errors.join('; ')}); ${suffix}` };
  }
  try {
    runPodStorage(validated.value.spec);
  } catch (err) {
    return { usable: false, reason: 'BackendInvalid', message: `StorageBackend "${name}": ${err instanceof Error ? err.message : String(err)}; ${suffix}` };
  }
  const ready = findCondition(observed.status?.conditions, 'Ready');
  // Operator-restart guard: a condition computed for an older generation says nothing about this one.
  if (ready?.status === 'False' && ready.observedGeneration === observed.metadata.generation) {
    return { usable: false, reason: 'BackendNotReady', message: `StorageBackend "${name}" is not ready (${ready.reason}: ${ready.message}); ${suffix}` };
  }
  return { usable: true, backend: validated.value };
}
