// The informer's restart decisions (pure) and its behaviour against a scripted API: resume after a
// normal close, relist on 410, backoff on errors and relist storms, and the stall watchdog.
import { describe, expect, it } from 'vitest';
import { decideAfterWatch, DEFAULT_WATCH_POLICY, Informer, type InformerEventType, type InformerOptions } from '../../../src/controller/informer.js';
import { ApiError, TransportError, type KubeApi, type KubeRequest, type Query, type WatchEvent, type WatchOptions } from '../../../src/controller/kube-api.js';
import type { KubeObject, ObjectList } from '../../../src/controller/resources.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock, flush } from './fake-clock.js';

const policy = DEFAULT_WATCH_POLICY;
const noJitter = (): number => 0;

describe('decideAfterWatch', () => {
  it('resumes a healthy watch the server closed, immediately and without relisting', () => {
    expect(decideAfterWatch({ reason: 'closed', livedMs: 300_000, events: 0 }, 3, policy, noJitter)).toEqual({ relist: false, delayMs: 0, failures: 0 });
    expect(decideAfterWatch({ reason: 'closed', livedMs: 10, events: 2 }, 3, policy, noJitter)).toEqual({ relist: false, delayMs: 0, failures: 0 });
  });
  it('backs off a watch that closes right after opening', () => {
    expect(decideAfterWatch({ reason: 'closed', livedMs: 50, events: 0 }, 0, policy, noJitter)).toEqual({ relist: false, delayMs: 500, failures: 1 });
    expect(decideAfterWatch({ reason: 'closed', livedMs: 50, events: 0 }, 3, policy, noJitter)).toEqual({ relist: false, delayMs: 4000, failures: 4 });
  });
  it('relists on 410 Gone: at once after a healthy watch, with growing backoff in a relist storm', () => {
    expect(decideAfterWatch({ reason: 'expired', livedMs: 60_000, events: 0 }, 2, policy, noJitter)).toEqual({ relist: true, delayMs: 0, failures: 0 });
    const storm = [0, 1, 2, 3, 4, 5].map((f) => decideAfterWatch({ reason: 'expired', livedMs: 5, events: 0 }, f, policy, noJitter).delayMs);
    expect(storm).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
  });
  it('resumes from the last resourceVersion after a dropped connection or a stall, with backoff', () => {
    expect(decideAfterWatch({ reason: 'error', livedMs: 0, events: 0 }, 0, policy, noJitter)).toEqual({ relist: false, delayMs: 500, failures: 1 });
    expect(decideAfterWatch({ reason: 'stalled', livedMs: 0, events: 0 }, 1, policy, noJitter)).toEqual({ relist: false, delayMs: 1000, failures: 2 });
    expect(decideAfterWatch({ reason: 'error', livedMs: 0, events: 0, needsRelist: true }, 0, policy, noJitter).relist).toBe(true);
  });
  it('keeps jittered delays within the cap', () => {
    for (let i = 0; i < 50; i++) {
      const d = decideAfterWatch({ reason: 'error', livedMs: 0, events: 0 }, 20, policy).delayMs;
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });
});

interface Obj extends KubeObject {
  data?: string;
}

const obj = (name: string, rv: string, data = ''): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: rv, uid: name }, data });

class FakeWatch {
  private resolve!: () => void;
  private reject!: (err: unknown) => void;
  readonly done: Promise<void>;
  ended = false;
  constructor(readonly query: Query, private readonly onEvent: (e: WatchEvent) => void, private readonly options: WatchOptions, ignoreAbort = false) {
    this.done = new Promise<void>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // ignoreAbort: a connection stuck where the abort does not reach it, so the watchdog cannot end it.
    if (!ignoreAbort) options.signal.addEventListener('abort', () => this.close(), { once: true });
  }
  open(): void {
    this.options.onOpen?.();
  }
  send(type: WatchEvent['type'], object: unknown): void {
    this.onEvent({ type, object });
  }
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.resolve();
  }
  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.reject(err);
  }
}

class FakeApi implements KubeApi {
  lists = 0;
  listItems: Obj[] = [];
  listRv = '100';
  listError: Error | undefined;
  watches: FakeWatch[] = [];
  ignoreAbort = false;
  async request<T>(_req: KubeRequest): Promise<T> {
    this.lists += 1;
    if (this.listError) throw this.listError;
    const list: ObjectList<Obj> = { metadata: { resourceVersion: this.listRv }, items: this.listItems };
    return list as T;
  }
  watch(_path: string, query: Query, onEvent: (e: WatchEvent) => void, options: WatchOptions): Promise<void> {
    const w = new FakeWatch(query, onEvent, options, this.ignoreAbort);
    this.watches.push(w);
    return w.done;
  }
  get last(): FakeWatch {
    return this.watches[this.watches.length - 1]!;
  }
}

function setup(overrides: Partial<InformerOptions<Obj>> = {}): { api: FakeApi; clock: FakeClock; informer: Informer<Obj>; events: Array<[InformerEventType, string]> } {
  const api = new FakeApi();
  const clock = new FakeClock();
  const events: Array<[InformerEventType, string]> = [];
  const informer = new Informer<Obj>({
    api,
    resource: { group: 'x', version: 'v1', plural: 'things', kind: 'Thing' },
    logger: silentLogger,
    onEvent: (type, o) => events.push([type, o.metadata.name]),
    resyncMs: 60_000,
    clock,
    random: noJitter,
    watchTimeoutSeconds: [300, 300],
    openTimeoutMs: 10_000,
    stallGraceMs: 30_000,
    ...overrides,
  });
  return { api, clock, informer, events };
}

describe('Informer', () => {
  it('lists, then watches from the list resourceVersion and keeps the cache current', async () => {
    const { api, informer, events } = setup();
    api.listItems = [obj('a', '90')];
    informer.start();
    await flush();
    expect(informer.hasSynced()).toBe(true);
    expect(api.last.query).toMatchObject({ resourceVersion: '100', allowWatchBookmarks: true, timeoutSeconds: 300 });
    api.last.open();
    api.last.send('ADDED', obj('b', '101'));
    api.last.send('MODIFIED', obj('a', '102', 'x'));
    api.last.send('DELETED', obj('b', '103'));
    expect(events).toEqual([['add', 'a'], ['add', 'b'], ['update', 'a'], ['delete', 'b']]);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a']);
    expect(informer.get('ns', 'a')?.data).toBe('x');
    await informer.stop();
  });

  it('resumes from the last seen resourceVersion (bookmarks included) when the server closes the watch', async () => {
    const { api, clock, informer } = setup();
    informer.start();
    await flush();
    api.last.open();
    api.last.send('BOOKMARK', { metadata: { resourceVersion: '150' } });
    await clock.advance(300_000);
    api.last.close();
    await flush();
    expect(api.lists).toBe(1);
    expect(api.watches).toHaveLength(2);
    expect(api.last.query.resourceVersion).toBe('150');
    await informer.stop();
  });

  it('relists on a 410 ERROR event, emitting deletes for objects that vanished meanwhile', async () => {
    const { api, clock, informer, events } = setup();
    api.listItems = [obj('a', '90'), obj('b', '91')];
    informer.start();
    await flush();
    api.last.open();
    await clock.advance(40_000);
    api.listItems = [obj('a', '90')];
    api.listRv = '500';
    api.last.send('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
    await flush();
    expect(api.lists).toBe(2);
    expect(events).toContainEqual(['delete', 'b']);
    expect(api.last.query.resourceVersion).toBe('500');
    await informer.stop();
  });

  it('also relists when the watch request itself answers 410', async () => {
    const { api, informer } = setup();
    informer.start();
    await flush();
    api.last.fail(new ApiError(410, 'Gone', 'gone'));
    await flush();
    expect(api.lists).toBe(1); // backoff first: the watch died young
    await informer.stop();
  });

  it('backs off growing delays while the API server refuses connections, then resumes without relisting', async () => {
    const { api, clock, informer } = setup();
    informer.start();
    await flush();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = api.watches.length;
      api.last.fail(new TransportError('connect ECONNREFUSED'));
      await flush();
      let waited = 0;
      while (api.watches.length === before) {
        await clock.advance(100);
        waited += 100;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000]);
    expect(api.lists).toBe(1);
    expect(api.last.query.resourceVersion).toBe('100');
    await informer.stop();
  });

  it('backs off a relist storm: list ok, watch 410 at once, again and again', async () => {
    const { api, clock, informer } = setup();
    informer.start();
    await flush();
    const gaps: number[] = [];
    for (let i = 0; i < 4; i++) {
      const lists = api.lists;
      api.last.open();
      api.last.send('ERROR', { code: 410 });
      await flush();
      let waited = 0;
      while (api.lists === lists) {
        await clock.advance(100);
        waited += 100;
      }
      gaps.push(waited);
    }
    expect(gaps).toEqual([500, 1000, 2000, 4000]);
    await informer.stop();
  });

  it('watchdog: restarts a watch that never opens', async () => {
    const { api, clock, informer } = setup();
    informer.start();
    await flush();
    expect(api.watches).toHaveLength(1);
    await clock.advance(10_000);
    expect(api.watches[0]!.ended).toBe(true);
    await clock.advance(500);
    expect(api.watches).toHaveLength(2);
    await informer.stop();
  });

  it('watchdog: restarts a silent watch that outlives its server-side timeout', async () => {
    const { api, clock, informer } = setup();
    informer.start();
    await flush();
    api.last.open();
    await clock.advance(300_000 + 29_000);
    expect(api.watches[0]!.ended).toBe(false);
    await clock.advance(1_000);
    expect(api.watches[0]!.ended).toBe(true);
    await clock.advance(500);
    expect(api.watches).toHaveLength(2);
    expect(api.lists).toBe(1);
    await informer.stop();
  });

  it('retries a failing list with backoff and replays the cache on resync', async () => {
    const { api, clock, informer, events } = setup();
    api.listError = new TransportError('ECONNREFUSED');
    informer.start();
    await flush();
    expect(informer.hasSynced()).toBe(false);
    api.listError = undefined;
    api.listItems = [obj('a', '1')];
    await clock.advance(500);
    expect(informer.hasSynced()).toBe(true);
    api.last.open();
    events.length = 0;
    await clock.advance(60_000);
    expect(events).toEqual([['resync', 'a']]);
    await informer.stop();
  });
});

describe('Informer liveness (/healthz)', () => {
  // setup(): opens within 10 s, server timeout 300 s, stall grace 30 s, backoff at most 8 s, + 30 s slack.
  const GUARD_MS = 10_000 + 300_000 + 30_000 + 8_000 + 30_000;

  it('derives its guard from the watchdog timeouts and the backoff cap', () => {
    expect(setup().informer.livenessGuardMs()).toBe(GUARD_MS);
  });

  it('stays healthy through an hour of watches the server closes, and of connection failures retried with backoff', async () => {
    const { api, clock, informer } = setup();
    informer.start();
    await flush();
    for (let i = 0; i < 12; i++) {
      api.last.open();
      await clock.advance(300_000);
      expect(informer.health()).toEqual({ ok: true });
      if (i % 2 === 0) api.last.close();
      else api.last.fail(new TransportError('connect ECONNREFUSED'));
      await clock.advance(10_000);
      expect(informer.health()).toEqual({ ok: true });
    }
    await informer.stop();
  });

  it('stays healthy while every list fails (retrying cannot be cured by a restart)', async () => {
    const { api, clock, informer } = setup();
    api.listError = new ApiError(403, 'Forbidden', 'forbidden');
    informer.start();
    for (let i = 0; i < 60; i++) {
      await clock.advance(60_000);
      expect(informer.health()).toEqual({ ok: true });
    }
    expect(api.lists).toBeGreaterThan(60);
    await informer.stop();
  });

  it('fails once a watch the watchdog cannot end has frozen the loop beyond its guard', async () => {
    const { api, clock, informer } = setup();
    api.ignoreAbort = true;
    informer.start();
    await flush();
    api.last.open();
    await clock.advance(GUARD_MS);
    expect(informer.health()).toEqual({ ok: true });
    await clock.advance(1_000);
    const health = informer.health();
    expect(health.ok).toBe(false);
    expect(health).toMatchObject({ reason: expect.stringContaining('things: the list/watch loop has not progressed for 379 s') as unknown });
    expect(api.watches).toHaveLength(1);
  });

  it('fails at once when the loop has crashed, and is healthy again only once stopped', async () => {
    const { api, informer } = setup({
      onWatchEnd: () => {
        throw new Error('metrics hook broke');
      },
    });
    informer.start();
    await flush();
    expect(informer.health()).toEqual({ ok: true });
    api.last.open();
    api.last.close();
    await flush();
    expect(informer.health()).toEqual({ ok: false, reason: 'things: the list/watch loop crashed: metrics hook broke' });
    await informer.stop();
    expect(informer.health()).toEqual({ ok: true });
  });
});
