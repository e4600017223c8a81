// Smoke tests of the real node of the test environment (scripts/env/components/node.sh): kube-scheduler
// places pods, the kubelet runs them in containerd/runc containers with the pod's securityContext,
// volumes (emptyDir, a `local` PersistentVolume of the pywr-local StorageClass) and host networking,
// and the taints keep the real node and the test node (test/support/test-node.ts) apart.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../support/kubectl.js';
import { createLocalVolume, podLog, realNode } from '../../support/real-node.js';
import { startTestNode, TEST_NODE_TAINT_KEY, type TestNode } from '../../support/test-node.js';
import { requireEnv } from '../../support/test-env.js';

const KUBECONFIG = requireEnv('KUBECONFIG');
const node = realNode();

const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const RESTRICTED_NS = `node-smoke-r-${suffix}`;
const PRIVILEGED_NS = `node-smoke-p-${suffix}`;
const PV_NAME = `node-smoke-${suffix}`;
const TEST_NODE_NAME = `test-node-${suffix}`;

const kc = new KubeConfig();
kc.loadFromFile(KUBECONFIG);
const core = kc.makeApiClient(CoreV1Api);

let hostDir: string;
let workDir: string;
let deleteVolume: (() => Promise<void>) | undefined;
let testNode: TestNode | undefined;

function isTerminal(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Creates the pod, retrying while the namespace's default ServiceAccount does not exist yet. */
async function createPod(namespace: string, pod: V1Pod): Promise<void> {
  await eventually(`pod ${pod.metadata?.name} created`, 30_000, async () => {
    await core.createNamespacedPod({ namespace, body: pod });
    return true;
  });
}

async function waitForTerminal(namespace: string, name: string, timeoutMs = 120_000): Promise<V1Pod> {
  return eventually(`pod ${namespace}/${name} to finish`, timeoutMs, async () => {
    const pod = await core.readNamespacedPod({ name, namespace });
    return isTerminal(pod) ? pod : undefined;
  });
}

function describePod(pod: V1Pod): string {
  return JSON.stringify({ nodeName: pod.spec?.nodeName, status: pod.status }, null, 1);
}

beforeAll(async () => {
  const server = kc.getCurrentCluster()?.server;
  expect(server, `KUBECONFIG=${KUBECONFIG} must point at the test API server`).toBe(requireEnv('KUBE_APISERVER_URL'));
  await core.createNamespace({
    body: { metadata: { name: RESTRICTED_NS, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
  });
  await core.createNamespace({
    body: { metadata: { name: PRIVILEGED_NS, labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } },
  });
  hostDir = mkdtempSync(join(tmpdir(), 'pywr-node-pv-'));
  workDir = mkdtempSync(join(tmpdir(), 'pywr-node-smoke-'));
});

afterAll(async () => {
  await testNode?.stop();
  await core.deleteNode({ name: TEST_NODE_NAME }).catch(() => undefined);
  await core.deleteNamespace({ name: RESTRICTED_NS }).catch(() => undefined);
  await core.deleteNamespace({ name: PRIVILEGED_NS }).catch(() => undefined);
  await deleteVolume?.().catch(() => undefined);
  if (hostDir) rmSync(hostDir, { recursive: true, force: true });
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('real node', () => {
  it('is Ready, runs containerd and carries its taint', async () => {
    const n = await core.readNode({ name: node.name });
    expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(n.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(n.status?.nodeInfo?.kubeletVersion).toBe(requireEnv('KUBE_VERSION'));
    expect(n.spec?.taints?.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`)).toContain(node.taint);
  });

  it('schedules a restricted pod onto the real node; it writes an emptyDir and a local PV as 65532:2000 and reports its termination message', async () => {
    const claim = 'smoke-data';
    deleteVolume = await createLocalVolume(core, { pvName: PV_NAME, namespace: RESTRICTED_NS, claimName: claim, hostPath: hostDir });
    // Every check runs inside the container; the termination message carries the evidence out.
    const script = [
      'set -e',
      'echo scratch > /scratch/x',
      'echo "written by $(id -u)" > /data/out.txt',
      'if touch /rootfs-is-writable 2>/dev/null; then echo "root filesystem is writable"; exit 9; fi',
      'test -s /var/run/secrets/kubernetes.io/serviceaccount/token',
      'echo "log line from the container"',
      'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) scratch=$(stat -c %u:%g /scratch/x) data=$(stat -c %u:%g /data/out.txt)" > /dev/termination-log',
    ].join('\n');
    await createPod(RESTRICTED_NS, {
      metadata: { name: 'restricted' },
      spec: {
        restartPolicy: 'Never',
        tolerations: [node.toleration],
        securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 2000, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{
          name: 'main',
          image: node.image,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', script],
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }, { name: 'data', mountPath: '/data' }],
        }],
        volumes: [{ name: 'scratch', emptyDir: {} }, { name: 'data', persistentVolumeClaim: { claimName: claim } }],
      },
    });
    const pod = await waitForTerminal(RESTRICTED_NS, 'restricted');
    expect(pod.status?.phase, describePod(pod)).toBe('Succeeded');
    expect(pod.spec?.nodeName).toBe(node.name);
    expect(pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status).toBe('True');
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.reason).toBe('Completed');
    expect(terminated?.message).toBe('uid=65532 gid=65532 groups=65532 2000 scratch=65532:2000 data=65532:2000\n');
    expect(podLog(RESTRICTED_NS, 'restricted', 'main')).toContain('log line from the container\n');

    const onHost = statSync(join(hostDir, 'out.txt'));
    expect({ uid: onHost.uid, gid: onHost.gid }).toEqual({ uid: 65532, gid: 2000 });
    expect(readFileSync(join(hostDir, 'out.txt'), 'utf8')).toBe('written by 65532\n');
  });

  it('a hostNetwork pod on the real node reaches a TCP port on 127.0.0.1', async () => {
    const token = `ping-${suffix}`;
    const received: string[] = [];
    const server: Server = createServer((socket) => {
      let data = '';
      socket.on('data', (chunk: Buffer) => { data += chunk.toString('utf8'); });
      socket.on('end', () => { received.push(data); socket.end('pong\n'); });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const hostNetPod = (namespace: string): V1Pod => ({
      metadata: { name: 'host-net', namespace },
      spec: {
        restartPolicy: 'Never',
        hostNetwork: true,
        tolerations: [node.toleration],
        automountServiceAccountToken: false,
        containers: [{
          name: 'main',
          image: node.image,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', `echo ${token} | nc -w 10 127.0.0.1 ${port}`],
        }],
      },
    });
    try {
      // Pod Security admission is really enforced: the restricted namespace refuses host networking.
      const refused = await core.createNamespacedPod({ namespace: RESTRICTED_NS, body: hostNetPod(RESTRICTED_NS) }).then(
        () => undefined,
        (err: unknown) => {
          if (!(err instanceof ApiException)) return String(err);
          const e = err as ApiException<unknown>;
          return `${e.code} ${(JSON.parse(String(e.body)) as { message?: string }).message}`;
        },
      );
      expect(refused).toMatch(/^403 .*violates PodSecurity "restricted:latest": host namespaces \(hostNetwork=true\)/);
      await createPod(PRIVILEGED_NS, hostNetPod(PRIVILEGED_NS));
      const pod = await waitForTerminal(PRIVILEGED_NS, 'host-net');
      expect(pod.status?.phase, describePod(pod)).toBe('Succeeded');
      expect(pod.spec?.nodeName).toBe(node.name);
      expect(received).toContain(`${token}\n`);
      expect(podLog(PRIVILEGED_NS, 'host-net', 'main')).toBe('pong\n');
    } finally {
      server.close();
    }
  });

  it('the scheduler places an untolerating pod on neither the real node nor a test node: it stays Pending, Unschedulable', async () => {
    // A test node that runs none of this file's pods (its selector matches nothing here).
    testNode = await startTestNode({ kubeconfigPath: KUBECONFIG, namespace: RESTRICTED_NS, labelSelector: `nothing-${suffix}=1`, nodeName: TEST_NODE_NAME, workDir });
    // Until the node lifecycle controller has seen the test node Ready, its not-ready taint alone would
    // keep the pod away: wait until the test node's own taint is the only one.
    const taints = await eventually('the test node to carry only its own taint', 60_000, async () => {
      const fake = await core.readNode({ name: TEST_NODE_NAME });
      const list = (fake.spec?.taints ?? []).map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`);
      return list.some((t) => t.startsWith('node.kubernetes.io/')) ? undefined : list;
    });
    expect(taints).toEqual([`${TEST_NODE_TAINT_KEY}=true:NoSchedule`]);
    await createPod(RESTRICTED_NS, {
      metadata: { name: 'untolerating' },
      spec: {
        restartPolicy: 'Never',
        securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{
          name: 'main',
          image: node.image,
          imagePullPolicy: 'Never',
          command: ['true'],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        }],
      },
    });
    const seen = await eventually('the scheduler to bind the pod or report it Unschedulable', 60_000, async () => {
      const pod = await core.readNamespacedPod({ name: 'untolerating', namespace: RESTRICTED_NS });
      if (pod.spec?.nodeName) return { boundTo: pod.spec.nodeName };
      const condition = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
      return condition ? { condition } : undefined;
    });
    expect(seen.boundTo).toBeUndefined();
    const condition = seen.condition!;
    // Both taints turned the pod away (the message counts nodes per reason).
    expect(condition.message).toContain(`untolerated taint {${node.toleration.key}: ${node.toleration.value}}`);
    expect(condition.message).toContain(`untolerated taint {${TEST_NODE_TAINT_KEY}: true}`);
    const pod = await core.readNamespacedPod({ name: 'untolerating', namespace: RESTRICTED_NS });
    expect(pod.spec?.nodeName ?? '').toBe('');
    expect(pod.status?.phase).toBe('Pending');
    expect(testNode.errors()).toEqual([]);
  });

  it('a pod tolerating every taint goes to the real node, never to a test node (the scheduler adds the real node affinity)', async () => {
    expect(testNode, 'the previous test starts a test node').toBeDefined();
    const names = ['tolerates-all-1', 'tolerates-all-2', 'tolerates-all-3'];
    for (const name of names) {
      await createPod(RESTRICTED_NS, {
        metadata: { name },
        spec: {
          restartPolicy: 'Never',
          tolerations: [{ operator: 'Exists' }],
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'main',
            image: node.image,
            imagePullPolicy: 'Never',
            command: ['true'],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          }],
        },
      });
    }
    for (const name of names) {
      const pod = await eventually(`pod ${name} bound`, 60_000, async () => {
        const p = await core.readNamespacedPod({ name, namespace: RESTRICTED_NS });
        return p.spec?.nodeName ? p : undefined;
      });
      expect(pod.spec?.nodeName).toBe(node.name);
    }
  });
});
