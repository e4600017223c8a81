// Status updates with optimistic concurrency: PUT /status carries the resourceVersion the status was
// computed from; on Conflict the object is read again (not from the possibly stale cache) and the
// status recomputed from it, so that nothing another writer recorded meanwhile is lost or repeated.
// Fields of the status this controller's schema does not know (a newer controller wrote them before a
// rollback, or a newer CRD defaults them) are neither compared nor dropped: comparing them would make
// every reconcile write, and the API server default them back, forever.

import { pruneToSchema, type Schema } from '../api/openapi.js';
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
  options: { attempts?: number; statusSchema?: Schema } = {},
): Promise<StatusWrite<T, M>> {
  const attempts = options.attempts ?? 4;
  const owned = (status: S | undefined): unknown => (options.statusSchema ? pruneToSchema(options.statusSchema, status ?? {}) : (status ?? {}));
  let current = observed;
  const path = objectPath(resource, current.metadata.namespace ?? '', current.metadata.name ?? '');
  for (let attempt = 1; ; attempt++) {
    const next = compute(current);
    // Steady state writes nothing: an equal status is not sent.
    if (canonicalJson(next.status) === canonicalJson(owned(current.status))) return { kind: 'unchanged', object: current, meta: next.meta };
    try {
      const body = { ...current, status: { ...foreignFields(current.status, options.statusSchema), ...next.status } };
      const written = await api.request<T>({ method: 'PUT', path: `${path}/status`, body, signal });
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

/** The top-level status fields `schema` does not declare (kept as they are when the status is written). */
function foreignFields(status: unknown, schema: Schema | undefined): Record<string, unknown> {
  if (!schema?.properties || typeof status !== 'object' || status === null) return {};
  return Object.fromEntries(Object.entries(status as Record<string, unknown>).filter(([k]) => !(k in schema.properties!)));
}
