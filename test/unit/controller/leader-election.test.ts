// Leader election against an in-memory lease with resourceVersion semantics and a manual clock:
// acquire, renew, take over after expiry or release, stop acting by the renew deadline, and never
// two leaders at once.
import { describe, expect, it } from 'vitest';
import { ApiError, TransportError } from '../../../src/controller/kube-api.js';
import { LeaderElector, microTime, type Lease, type LeaseClient } from '../../../src/controller/leader-election.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock, flush } from './fake-clock.js';

class LeaseStore {
  lease: Lease | undefined;
  rv = 0;
  writes = 0;
}

/** One replica's view of the API: can be cut off (errors) or made to hang. */
class FakeLeaseClient implements LeaseClient {
  down = false;
  hang = false;
  constructor(private readonly store: LeaseStore) {}
  private async gate(signal: AbortSignal): Promise<void> {
    if (this.down) throw new TransportError('connect ECONNREFUSED');
    if (this.hang) {
      await new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(new TransportError('aborted')), { once: true }));
    }
  }
  async get(signal: AbortSignal): Promise<Lease | undefined> {
    await this.gate(signal);
    return this.store.lease === undefined ? undefined : structuredClone(this.store.lease);
  }
  async create(lease: Lease, signal: AbortSignal): Promise<Lease> {
    await this.gate(signal);
    if (this.store.lease) throw new ApiError(409, 'AlreadyExists', 'exists');
    this.store.writes += 1;
    this.store.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.store.rv) } };
    return structuredClone(this.store.lease);
  }
  async update(lease: Lease, signal: AbortSignal): Promise<Lease> {
    await this.gate(signal);
    if (lease.metadata.resourceVersion !== this.store.lease?.metadata.resourceVersion) throw new ApiError(409, 'Conflict', 'the object has been modified');
    this.store.writes += 1;
    this.store.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.store.rv) } };
    return structuredClone(this.store.lease);
  }
}

interface Replica {
  elector: LeaderElector;
  client: FakeLeaseClient;
  abort: AbortController;
  done: Promise<void>;
  started: number;
  stopped: number;
}

function replica(store: LeaseStore, clock: FakeClock, identity: string): Replica {
  const client = new FakeLeaseClient(store);
  const r: Partial<Replica> = { client, abort: new AbortController(), started: 0, stopped: 0 };
  r.elector = new LeaderElector({
    client, identity, namespace: 'ns', name: 'lock', clock, random: () => 0, logger: silentLogger,
    onStartedLeading: () => (r.started! += 1),
    onStoppedLeading: () => (r.stopped! += 1),
  });
  r.done = r.elector.run(r.abort!.signal);
  return r as Replica;
}

/** Advances time in small steps, failing if two replicas ever lead at once. */
async function run(clock: FakeClock, ms: number, replicas: Replica[]): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    await clock.advance(100);
    expect(replicas.filter((r) => r.elector.isLeader()).length).toBeLessThanOrEqual(1);
  }
}

describe('LeaderElector', () => {
  it('formats MicroTime with microseconds', () => {
    expect(microTime(Date.parse('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05.678000Z');
  });

  it('creates the lease, leads, and renews every retry period', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = replica(store, clock, 'a');
    await flush();
    expect(a.elector.isLeader()).toBe(true);
    expect(store.lease?.spec?.holderIdentity).toBe('a');
    expect(store.lease?.spec?.leaseDurationSeconds).toBe(15);
    const writes = store.writes;
    await run(clock, 10_000, [a]);
    expect(store.writes - writes).toBe(5);
    expect(a.started).toBe(1);
    a.abort.abort();
    await a.done;
  });

  it('a second replica waits while the leader renews, and takes over a crashed leader after the lease duration', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = replica(store, clock, 'a');
    await flush();
    const b = replica(store, clock, 'b');
    await run(clock, 30_000, [a, b]);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.isLeader()).toBe(false);
    expect(b.elector.leader()).toBe('a');
    // a's process dies: no more renewals, no release.
    a.client.hang = true;
    const crashedAt = clock.now();
    let tookOverAt = 0;
    for (let t = 0; t < 30_000 && !tookOverAt; t += 100) {
      await run(clock, 100, [a, b]);
      if (b.elector.isLeader()) tookOverAt = clock.now();
    }
    expect(a.elector.isLeader()).toBe(false);
    expect(tookOverAt - crashedAt).toBeGreaterThanOrEqual(13_000);
    expect(tookOverAt - crashedAt).toBeLessThanOrEqual(20_000);
    expect(store.lease?.spec?.holderIdentity).toBe('b');
    expect(store.lease?.spec?.leaseTransitions).toBe(1);
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  });

  it('a leader cut off from the API stops acting by the renew deadline, before anyone can take over', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = replica(store, clock, 'a');
    await flush();
    const b = replica(store, clock, 'b');
    await run(clock, 4_000, [a, b]);
    const lastRenew = clock.now();
    a.client.down = true;
    await run(clock, 7_000, [a, b]);
    expect(a.elector.isLeader()).toBe(true);
    await run(clock, 4_000, [a, b]);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.stopped).toBe(1);
    expect(clock.now() - lastRenew).toBeLessThan(15_000);
    await run(clock, 10_000, [a, b]);
    expect(b.elector.isLeader()).toBe(true);
    // a comes back: it stays a follower.
    a.client.down = false;
    await run(clock, 10_000, [a, b]);
    expect(a.elector.isLeader()).toBe(false);
    expect(b.elector.isLeader()).toBe(true);
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  });

  it('stops acting by the deadline even while a renewal hangs', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = replica(store, clock, 'a');
    await flush();
    a.client.hang = true;
    await run(clock, 9_000, [a]);
    expect(a.elector.isLeader()).toBe(true);
    await run(clock, 2_000, [a]);
    expect(a.elector.isLeader()).toBe(false);
    a.abort.abort();
    await a.done;
  });

  it('regains leadership after an API outage when nobody else took over', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = replica(store, clock, 'a');
    await flush();
    a.client.down = true;
    await run(clock, 20_000, [a]);
    expect(a.elector.isLeader()).toBe(false);
    a.client.down = false;
    await run(clock, 3_000, [a]);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.started).toBe(2);
    a.abort.abort();
    await a.done;
  });

  it('releases the lease on shutdown so that a follower takes over within a retry period', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = replica(store, clock, 'a');
    await flush();
    const b = replica(store, clock, 'b');
    await run(clock, 5_000, [a, b]);
    a.abort.abort();
    await a.done;
    expect(a.elector.isLeader()).toBe(false);
    expect(store.lease?.spec?.holderIdentity).toBe('');
    await run(clock, 3_000, [a, b]);
    expect(b.elector.isLeader()).toBe(true);
    b.abort.abort();
    await b.done;
  });

  it('of two candidates racing for a free lease exactly one wins', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const rs = ['a', 'b', 'c'].map((id) => replica(store, clock, id));
    await run(clock, 10_000, rs);
    expect(rs.filter((r) => r.elector.isLeader())).toHaveLength(1);
    for (const r of rs) r.abort.abort();
    await Promise.all(rs.map((r) => r.done));
  });
});
