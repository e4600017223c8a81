// Status updates with optimistic concurrency: PUT /status carries the resourceVersion the status was
// computed from; on Conflict the object is read again (not from the possibly stale cache) and the
// status recomputed from it, so that nothing another writer recorded meanwhile is lost or repeated.

import { isConflict, isNotFound, type KubeApi } from '../controller/kube-api.js';
import { objectPath, type ResourceType } from '../controller/resources.js';
import { canonicalJson } from './canonical-json.js';

interface WithStatus<S> {
  metadata: { name?: string; namespace?: string; resourceVersion?: string };
  status?: S;
}

export interface StatusComputation<S, M> {
  status: S;
  /** What the computation decided beyond the status (e.g. which runs it counted). */
  meta: M;
}

export type StatusWrite<T, M> =
  | { kind: 'unchanged'; object: T; meta: M }
  | { kind: 'written'; object: T; meta: M }
  | { kind: 'gone' };

export async function writeStatus<T extends WithStatus<S>, S, M>(
  api: KubeApi,
  resource: ResourceType,
  observed: T,
  compute: (current: T) => StatusComputation<S, M>,
  signal: AbortSignal,
  attempts = 4,
): Promise<StatusWrite<T, M>> {
  let current = observed;
  const path = objectPath(resource, current.metadata.namespace ?? '', current.metadata.name ?? '');
  for (let attempt = 1; ; attempt++) {
    const next = compute(current);
    // Steady state writes nothing: an equal status is not sent.
    if (canonicalJson(next.status) === canonicalJson(current.status ?? {})) return { kind: 'unchanged', object: current, meta: next.meta };
    try {
      const written = await api.request<T>({ method: 'PUT', path: `${path}/status`, body: { ...current, status: next.status }, signal });
      return { kind: 'written', object: written, meta: next.meta };
    } catch (err) {
      if (isNotFound(err)) return { kind: 'gone' };
      if (!isConflict(err) || attempt >= attempts) throw err;
      try {
        current = await api.request<T>({ method: 'GET', path, signal });
      } catch (readErr) {
        if (isNotFound(readErr)) return { kind: 'gone' };
        throw readErr;
      }
    }
  }
}
