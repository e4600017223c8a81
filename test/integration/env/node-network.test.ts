// Needs: the control plane and the real node (`npm run env:up kube node`). Next to node-smoke.test.ts.
//
// The real node's pod network (scripts/env/components/node.sh) gives pods what a cluster gives them and
// nothing more: the API server at the `kubernetes` Service's ClusterIP, other pods through a ClusterIP
// Service (kube-proxy), the gateway's forwarded ports; and not the host's other ports, on the gateway
// or on the machine's own address. Nothing the node adds listens beyond 127.0.0.1 and the gateway.
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kubectl, kubectlOk } from '../../support/kubectl.js';
import { runProcess } from '../../support/process.js';
import { podLog, realNode } from '../../support/real-node.js';
import { requireEnv } from '../../support/test-env.js';

const NS = `net-${randomBytes(3).toString('hex')}`;
const node = realNode();
let server: Server;
let serverPort = 0;
/** Remote addresses of every connection the host's test server accepted. */
const accepted: string[] = [];

const getJson = async <T>(args: readonly string[]): Promise<T> => JSON.parse(await kubectlOk([...args, '-o', 'json'])) as T;
const apply = (namespace: string, ...objects: unknown[]): Promise<string> =>
  kubectlOk(['apply', '-n', namespace, '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n'));

/** The restricted Pod Security Standard's fields, for the node's busybox image (uid 65532). */
const restricted = {
  securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
  container: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
};

function pod(name: string, labels: Record<string, string>, command: string[], env: { name: string; value?: string; valueFrom?: unknown }[] = []): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      tolerations: [node.toleration],
      securityContext: restricted.securityContext,
      containers: [{ name: 'main', image: node.image, imagePullPolicy: 'Never', command, env, securityContext: restricted.container }],
    },
  };
}

/** Can this process connect to host:port (within 3 s)? */
function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 3_000 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

beforeAll(async () => {
  // A server on every address of the host, as a careless host process would listen.
  server = createServer((c) => {
    accepted.push(c.remoteAddress ?? '');
    c.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  serverPort = (server.address() as { port: number }).port;
  await apply('default', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'pyworkflow-retention-test': 'true', 'pod-security.kubernetes.io/enforce': 'restricted' } } });
});

afterAll(async () => {
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
  await new Promise((r) => server?.close(r));
});

describe('the real node\'s pod network', () => {
  it('a pod reaches the API server through the kubernetes Service and another pod through a ClusterIP Service, but no other port of the host', async () => {
    const gateway = requireEnv('PYWR_NODE_GATEWAY_IP');
    const apiPort = new URL(requireEnv('KUBE_APISERVER_URL')).port;
    expect(requireEnv('PYWR_NODE_HOST_PORTS').split(',')).toContain(apiPort);
    const hostIP = (await getJson<{ status: { addresses: { type: string; address: string }[] } }>(['get', 'node', node.name])).status.addresses.find((a) => a.type === 'InternalIP')!.address;
    // The control for "closed" below: the test server does answer on those addresses, from the host.
    expect(await canConnect(hostIP, serverPort)).toBe(true);
    expect(await canConnect(gateway, serverPort)).toBe(true);

    // A pod serving TCP on 8080 (busybox nc: a persistent listener), behind a Service on port 80.
    await apply(NS,
      pod('echo', { app: 'echo' }, ['nc', '-ll', '-p', '8080', '-e', '/bin/true']),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo' }, spec: { selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080 }] } },
    );
    await eventually('the echo pod Running and in its Service\'s EndpointSlice', 120_000, async () => {
      const slices = await getJson<{ items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }>(['get', 'endpointslices', '-n', NS, '-l', 'kubernetes.io/service-name=echo']);
      return slices.items.some((s) => s.endpoints?.some((e) => e.conditions?.ready)) ? true : undefined;
    });
    const echoIP = (await getJson<{ spec: { clusterIP: string } }>(['get', 'service', 'echo', '-n', NS])).spec.clusterIP;

    // busybox nc -e runs its program once connected: exit 0 exactly when the connection was made.
    const probe = [
      'try() { if nc -w 3 "$2" "$3" -e /bin/true </dev/null; then echo "$1 open"; else echo "$1 closed"; fi; }',
      'try kubernetes "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT"',
      'try echo-service "$ECHO_SERVICE_HOST" "$ECHO_SERVICE_PORT"',
      `try echo-clusterip ${echoIP} 80`,
      `try gateway-apiserver ${gateway} ${apiPort}`,
      `try gateway-other ${gateway} ${serverPort}`,
      `try host-address ${hostIP} ${serverPort}`,
      'echo done',
    ].join('\n');
    await apply(NS, pod('probe', { app: 'probe' }, ['/bin/sh', '-c', probe]));
    const done = await eventually('the probe pod to finish', 120_000, async () => {
      const p = await getJson<V1Pod>(['get', 'pod', 'probe', '-n', NS]);
      return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
    });
    const log = podLog(NS, 'probe', 'main');
    expect(done.status?.phase, log).toBe('Succeeded');
    const result = Object.fromEntries(log.trim().split('\n').filter((l) => / (open|closed)$/.test(l)).map((l) => l.split(' ') as [string, string]));
    expect(result, log).toEqual({
      kubernetes: 'open',
      'echo-service': 'open',
      'echo-clusterip': 'open',
      'gateway-apiserver': 'open',
      'gateway-other': 'closed',
      'host-address': 'closed',
    });
    // Dropped on the way, not refused by the server: it never saw a connection from the pod.
    const podIP = done.status?.podIP;
    expect(podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(accepted.filter((a) => a.endsWith(podIP!))).toEqual([]);
  });

  it('kube-proxy and the forwarders listen only on 127.0.0.1 and the gateway address', async () => {
    const gateway = requireEnv('PYWR_NODE_GATEWAY_IP');
    const ss = await runProcess('ss', ['-Hltnp'], { timeoutMs: 10_000 });
    expect(ss.code).toBe(0);
    const ours = ss.stdout.split('\n').filter((l) => /"(kube-proxy|socat)"/.test(l));
    expect(ours.some((l) => l.includes('"kube-proxy"'))).toBe(true);
    expect(ours.filter((l) => l.includes('"socat"')).length).toBe(requireEnv('PYWR_NODE_HOST_PORTS').split(',').length);
    for (const l of ours) {
      const local = l.trim().split(/\s+/)[3]!;
      expect([`127.0.0.1`, gateway], l).toContain(local.slice(0, local.lastIndexOf(':')));
    }
  });
});
