// The manager's liveness (/healthz): healthy while its watch loops step, and naming every informer
// whose loop froze on a connection its watchdog could not end. Namespaced mode scopes every list and
// watch to the watched namespaces.
import { describe, expect, it } from 'vitest';
import type { KubeApi, KubeRequest, Query, WatchEvent, WatchOptions } from '../../../src/controller/kube-api.js';
import { Manager } from '../../../src/controller/manager.js';
import { ControllerMetrics } from '../../../src/controller/metrics.js';
import { setupReconcilers } from '../../../src/reconcilers/setup.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock, flush } from './fake-clock.js';

/** Empty lists; watches that open and then hang, ignoring their abort, until released. */
class StuckApi implements KubeApi {
  readonly paths: string[] = [];
  private readonly releases: Array<() => void> = [];
  async request<T>(req: KubeRequest): Promise<T> {
    this.paths.push(`${req.method} ${req.path}`);
    return { metadata: { resourceVersion: '1' }, items: [] } as T;
  }
  watch(path: string, _query: Query, _onEvent: (e: WatchEvent) => void, options: WatchOptions): Promise<void> {
    this.paths.push(`WATCH ${path}`);
    options.onOpen?.();
    return new Promise<void>((resolve) => this.releases.push(resolve));
  }
  releaseAll(): void {
    for (const r of this.releases.splice(0)) r();
  }
}

describe('Manager.healthProblems', () => {
  it('is empty while the watches are young, and names every frozen informer past its guard', async () => {
    const api = new StuckApi();
    const clock = new FakeClock();
    const manager = new Manager({ api, logger: silentLogger, metrics: new ControllerMetrics({ processMetrics: false }), identity: 't', namespaces: ['team-a'], resyncMs: 0, clock });
    setupReconcilers(manager, { runImage: 'img' });
    const stop = new AbortController();
    const running = manager.run(stop.signal);
    await flush();
    expect(manager.ready()).toBe(true);
    expect(manager.healthProblems()).toEqual([]);
    // Every list and watch is in the watched namespace.
    expect(api.paths.length).toBeGreaterThanOrEqual(10);
    expect(api.paths.every((p) => p.includes('/namespaces/team-a/'))).toBe(true);

    // Open watches live up to 300 s + 30 s grace; the guard adds the backoff cap and slack.
    await clock.advance(300_000);
    expect(manager.healthProblems()).toEqual([]);
    await clock.advance(120_000);
    const problems = manager.healthProblems();
    expect(problems).toHaveLength(5);
    expect(problems).toContain('retentionpolicies in team-a: the list/watch loop has not progressed for 420 s');
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['cronjobs', 'jobs', 'pods', 'retentionpolicies', 'storagebackends'].map((r) => `${r} in team-a`));

    stop.abort();
    api.releaseAll();
    await running;
  });
});
