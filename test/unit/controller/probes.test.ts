// The health endpoint: /healthz answers 503 naming each problem (a dead or stalled watch loop) so the
// kubelet's liveness probe restarts the pod; /readyz follows the caches.
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type Endpoint } from '../../../src/controller/probes.js';

let endpoint: Endpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${endpoint!.address}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('health probe endpoint', () => {
  it('answers /healthz 200 while there is no problem and 503 naming every problem otherwise', async () => {
    let problems: string[] = [];
    endpoint = await serve({ host: '127.0.0.1', port: 0 }, { healthProblems: () => problems, ready: () => true });
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    problems = ['jobs in team-a: the list/watch loop has not progressed for 400 s', 'pods: the list/watch loop crashed: boom'];
    expect(await get('/healthz')).toEqual({
      status: 503,
      body: 'unhealthy:\n- jobs in team-a: the list/watch loop has not progressed for 400 s\n- pods: the list/watch loop crashed: boom\n',
    });
  });

  it('answers /readyz from the caches', async () => {
    let synced = false;
    endpoint = await serve({ host: '127.0.0.1', port: 0 }, { healthProblems: () => [], ready: () => synced });
    expect((await get('/readyz')).status).toBe(503);
    synced = true;
    expect(await get('/readyz')).toEqual({ status: 200, body: 'ok\n' });
    expect((await get('/nope')).status).toBe(404);
  });
});
