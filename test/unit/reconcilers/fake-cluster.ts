// An in-memory API server for reconciler unit tests: objects by path with resourceVersion checks
// (409 Conflict / AlreadyExists, 404), status subresources, merge patches of annotations, a log of
// every write, and caches that show exactly what the "server" holds.
import { randomUUID } from 'node:crypto';
import type { RetentionPolicy, StorageBackend } from '../../../src/api/generated/types.js';
import type { ObjectCache } from '../../../src/controller/cache.js';
import { MemoryEventRecorder } from '../../../src/controller/events.js';
import { ApiError, type KubeApi, type KubeRequest, type WatchEvent } from '../../../src/controller/kube-api.js';
import { ControllerMetrics } from '../../../src/controller/metrics.js';
import { CRONJOBS, JOBS, PODS, RETENTION_POLICIES, STORAGE_BACKENDS, collectionPath, objectPath, type KubeObject, type ResourceType } from '../../../src/controller/resources.js';
import type { ReconcileContext } from '../../../src/reconcilers/context.js';
import type { CronJob, Job, Pod } from '../../../src/reconcilers/workloads.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock } from '../controller/fake-clock.js';

type Stored = KubeObject & { status?: unknown; spec?: unknown };

export class FakeCluster implements KubeApi {
  readonly objects = new Map<string, Stored>();
  readonly writes: Array<{ method: string; path: string }> = [];
  /** Makes the next request matching the predicate fail with this error (once). */
  failNext: { match: (req: KubeRequest) => boolean; error: Error } | undefined;
  /** Runs before a matching request is served (to simulate a concurrent writer). */
  beforeNext: { match: (req: KubeRequest) => boolean; run: () => void } | undefined;
  private rv = 100;

  async request<T>(req: KubeRequest): Promise<T> {
    if (this.beforeNext?.match(req)) {
      const b = this.beforeNext;
      this.beforeNext = undefined;
      b.run();
    }
    if (this.failNext?.match(req)) {
      const f = this.failNext;
      this.failNext = undefined;
      throw f.error;
    }
    if (req.method !== 'GET') this.writes.push({ method: req.method, path: req.path });
    const body = structuredClone(req.body) as Stored | undefined;
    switch (req.method) {
      case 'GET': {
        const o = this.objects.get(req.path);
        if (!o) throw new ApiError(404, 'NotFound', `${req.path} not found`);
        return structuredClone(o) as T;
      }
      case 'POST': {
        const path = `${req.path}/${body!.metadata.name}`;
        if (this.objects.has(path)) throw new ApiError(409, 'AlreadyExists', `${path} already exists`);
        const stored: Stored = { ...body!, metadata: { ...body!.metadata, uid: randomUUID(), resourceVersion: String(++this.rv), creationTimestamp: '2026-01-01T00:00:00Z', generation: 1 } };
        this.objects.set(path, stored);
        return structuredClone(stored) as T;
      }
      case 'PUT': {
        const isStatus = req.path.endsWith('/status');
        const path = isStatus ? req.path.slice(0, -'/status'.length) : req.path;
        const current = this.objects.get(path);
        if (!current) throw new ApiError(404, 'NotFound', `${path} not found`);
        if (body!.metadata.resourceVersion !== current.metadata.resourceVersion) throw new ApiError(409, 'Conflict', 'the object has been modified');
        const next: Stored = isStatus
          ? { ...current, status: body!.status }
          : { ...body!, status: current.status, metadata: { ...body!.metadata, uid: current.metadata.uid, generation: (current.metadata.generation ?? 1) + (JSON.stringify(body!.spec) === JSON.stringify(current.spec) ? 0 : 1) } };
        next.metadata = { ...next.metadata, resourceVersion: String(++this.rv) };
        this.objects.set(path, next);
        return structuredClone(next) as T;
      }
      case 'PATCH': {
        const current = this.objects.get(req.path);
        if (!current) throw new ApiError(404, 'NotFound', `${req.path} not found`);
        const patch = body as unknown as { metadata?: { annotations?: Record<string, string>; finalizers?: string[]; resourceVersion?: string } };
        // A merge patch: a resourceVersion in it is a precondition; a list (finalizers) replaces the old one.
        if (patch.metadata?.resourceVersion !== undefined && patch.metadata.resourceVersion !== current.metadata.resourceVersion) throw new ApiError(409, 'Conflict', 'the object has been modified');
        const next: Stored = {
          ...current,
          metadata: {
            ...current.metadata,
            annotations: { ...(current.metadata.annotations ?? {}), ...(patch.metadata?.annotations ?? {}) },
            ...(patch.metadata?.finalizers !== undefined ? { finalizers: patch.metadata.finalizers } : {}),
            resourceVersion: String(++this.rv),
          },
        };
        // The API server removes an object being deleted when its last finalizer goes.
        if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
          this.objects.delete(req.path);
          return structuredClone(next) as T;
        }
        this.objects.set(req.path, next);
        return structuredClone(next) as T;
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', req.method);
    }
  }

  watch(_p: string, _q: unknown, _e: (e: WatchEvent) => void): Promise<void> {
    return Promise.resolve();
  }

  /** Puts an object in as if someone else created it (returns the stored copy). */
  put<T extends { metadata?: { name?: string; namespace?: string } }>(rt: ResourceType, obj: T): T {
    const meta = (obj.metadata ?? {}) as KubeObject['metadata'];
    const path = objectPath(rt, meta.namespace ?? '', meta.name);
    const prev = this.objects.get(path);
    const stored = {
      ...(structuredClone(obj) as unknown as Stored),
      metadata: { uid: prev?.metadata.uid ?? randomUUID(), generation: 1, ...structuredClone(meta), resourceVersion: String(++this.rv) },
    };
    this.objects.set(path, stored);
    return structuredClone(stored) as unknown as T;
  }

  get<T>(rt: ResourceType, namespace: string, name: string): T | undefined {
    const o = this.objects.get(objectPath(rt, namespace, name));
    return o === undefined ? undefined : (structuredClone(o) as T);
  }

  list<T>(rt: ResourceType, namespace: string): T[] {
    const prefix = `${collectionPath(rt, namespace)}/`;
    return [...this.objects.entries()].filter(([p]) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/')).map(([, o]) => structuredClone(o) as T);
  }

  delete(rt: ResourceType, namespace: string, name: string): void {
    this.objects.delete(objectPath(rt, namespace, name));
  }

  cache<T>(rt: ResourceType): ObjectCache<T> {
    return {
      get: (namespace, name) => this.get<T>(rt, namespace, name),
      list: (namespace) => (namespace === undefined ? [] : this.list<T>(rt, namespace)),
    };
  }

  writesSince(n: number): Array<{ method: string; path: string }> {
    return this.writes.slice(n).filter((w) => !w.path.includes('/events'));
  }
}

export interface TestBed {
  cluster: FakeCluster;
  clock: FakeClock;
  events: MemoryEventRecorder;
  metrics: ControllerMetrics;
  ctx: ReconcileContext;
}

export function testBed(): TestBed {
  const cluster = new FakeCluster();
  const clock = new FakeClock(Date.parse('2026-03-01T12:00:00Z'));
  const events = new MemoryEventRecorder();
  const metrics = new ControllerMetrics({ processMetrics: false });
  const ctx: ReconcileContext = {
    api: cluster,
    policies: cluster.cache<RetentionPolicy>(RETENTION_POLICIES),
    backends: cluster.cache<StorageBackend>(STORAGE_BACKENDS),
    cronJobs: cluster.cache<CronJob>(CRONJOBS),
    jobs: cluster.cache<Job>(JOBS),
    pods: cluster.cache<Pod>(PODS),
    clock,
    logger: silentLogger,
    events,
    metrics,
    runImage: 'registry.example/pyworkflow-retention:1.0',
  };
  return { cluster, clock, events, metrics, ctx };
}

export const NS = 'team-a';

export function sqliteBackend(name = 'store'): StorageBackend {
  return { apiVersion: 'retention.pyworkflow.io/v1alpha1', kind: 'StorageBackend', metadata: { name, namespace: NS }, spec: { type: 'sqlite', sqlite: { volume: 'wf-data', path: 'pyworkflow.db' } } };
}

export function policy(name = 'purge', spec: Record<string, unknown> = {}, annotations?: Record<string, string>): RetentionPolicy {
  return {
    apiVersion: 'retention.pyworkflow.io/v1alpha1',
    kind: 'RetentionPolicy',
    metadata: { name, namespace: NS, ...(annotations ? { annotations } : {}) },
    spec: { retentionDays: 30, backendRef: { name: 'store' }, schedule: '0 3 * * *', ...spec } as RetentionPolicy['spec'],
  };
}
