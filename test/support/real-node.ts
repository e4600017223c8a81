// The real node of the test environment (scripts/env/components/node.sh): a kubelet with containerd,
// kube-scheduler, a local busybox image and the `pywr-local` StorageClass. Pods run there only when
// they tolerate the node's taint; they are scheduled by the real scheduler (leave nodeName unset).
//
// - `realNode()`: the node's name, taint, matching toleration, image and directories from .test-env/env;
// - `createLocalVolume()`: a `local` PersistentVolume on a host directory, pre-bound to a new
//   PersistentVolumeClaim, so a pod that mounts the claim is scheduled onto the real node and sees the
//   directory (the kubelet applies the pod's fsGroup to it);
// - `podLog()`: a container's log, read from the kubelet's pod log files (the kubelet listens on
//   127.0.0.1 only, so the API server cannot serve `kubectl logs` for this node).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, type CoreV1Api, type V1Toleration } from '@kubernetes/client-node';
import { eventually } from './kubectl.js';
import { requireEnv } from './test-env.js';

export interface RealNode {
  name: string;
  /** `key=value:effect`, as published by node.sh. */
  taint: string;
  /** The toleration a pod needs to run on the real node. */
  toleration: V1Toleration;
  /** Local image with busybox (every applet in /bin), user 65532; use `imagePullPolicy: Never`. */
  image: string;
  /** StorageClass of the local PersistentVolumes (no provisioner, WaitForFirstConsumer). */
  storageClass: string;
  /** The kubelet's pod log directory (`<namespace>_<pod>_<uid>/<container>/<restart>.log`). */
  podLogsDir: string;
  /** containerd's socket (for `ctr -a ... -n k8s.io images import`). */
  containerdAddress: string;
}

export function realNode(): RealNode {
  const taint = requireEnv('PYWR_NODE_TAINT');
  const m = /^([^=]+)=([^:]*):(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(taint);
  if (!m) throw new Error(`PYWR_NODE_TAINT=${taint} is not key=value:effect`);
  return {
    name: requireEnv('PYWR_NODE_NAME'),
    taint,
    toleration: { key: m[1]!, operator: 'Equal', value: m[2]!, effect: m[3]! },
    image: requireEnv('PYWR_NODE_IMAGE'),
    storageClass: requireEnv('PYWR_NODE_STORAGE_CLASS'),
    podLogsDir: requireEnv('PYWR_NODE_POD_LOGS_DIR'),
    containerdAddress: requireEnv('PYWR_CONTAINERD_ADDRESS'),
  };
}

export interface LocalVolumeOptions {
  /** Name of the PersistentVolume (cluster-wide: make it unique per test). */
  pvName: string;
  namespace: string;
  claimName: string;
  /** Host directory behind the volume (created if missing). */
  hostPath: string;
  /** Default 1Gi (not enforced: a local volume is the directory as it is). */
  capacity?: string;
  accessModes?: string[];
}

/**
 * Creates a `local` PersistentVolume on `hostPath` for the real node and a claim bound to it (the PV
 * names the claim and the claim names the PV, so they bind at once) and waits until they are bound.
 * Returns a function deleting both.
 */
export async function createLocalVolume(core: CoreV1Api, opts: LocalVolumeOptions): Promise<() => Promise<void>> {
  const node = realNode();
  const capacity = opts.capacity ?? '1Gi';
  const accessModes = opts.accessModes ?? ['ReadWriteOnce'];
  mkdirSync(opts.hostPath, { recursive: true });
  await core.createPersistentVolume({
    body: {
      metadata: { name: opts.pvName, labels: { 'pyworkflow.io/real-node': 'true' } },
      spec: {
        capacity: { storage: capacity },
        accessModes,
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: node.storageClass,
        local: { path: opts.hostPath },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node.name] }] }],
          },
        },
        claimRef: { namespace: opts.namespace, name: opts.claimName },
      },
    },
  });
  await core.createNamespacedPersistentVolumeClaim({
    namespace: opts.namespace,
    body: {
      metadata: { name: opts.claimName },
      spec: { storageClassName: node.storageClass, accessModes, volumeName: opts.pvName, resources: { requests: { storage: capacity } } },
    },
  });
  // The PV controller binds the pair asynchronously; a pod created before would wait for the
  // scheduler's next retry.
  await eventually(`claim ${opts.namespace}/${opts.claimName} bound to ${opts.pvName}`, 60_000, async () => {
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: opts.claimName, namespace: opts.namespace });
    return pvc.status?.phase === 'Bound' ? true : undefined;
  });
  return async () => {
    const ignoreMissing = (err: unknown): void => {
      if (!(err instanceof ApiException && (err as ApiException<unknown>).code === 404)) throw err;
    };
    await core.deleteNamespacedPersistentVolumeClaim({ name: opts.claimName, namespace: opts.namespace }).catch(ignoreMissing);
    await core.deletePersistentVolume({ name: opts.pvName }).catch(ignoreMissing);
  };
}

/**
 * The log of a container of a pod on the real node (newest pod with that name, all restarts in order),
 * without the CRI log prefix (`<time> <stream> <tag> `). '' when the kubelet has written none yet.
 */
export function podLog(namespace: string, podName: string, container: string): string {
  const { podLogsDir } = realNode();
  if (!existsSync(podLogsDir)) return '';
  const dir = readdirSync(podLogsDir)
    .filter((d) => d.startsWith(`${namespace}_${podName}_`))
    .map((d) => ({ d, t: statSync(join(podLogsDir, d)).mtimeMs }))
    .sort((a, b) => a.t - b.t)
    .at(-1)?.d;
  if (dir === undefined || !existsSync(join(podLogsDir, dir, container))) return '';
  const files = readdirSync(join(podLogsDir, dir, container))
    .filter((f) => /^\d+\.log$/.test(f))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  let out = '';
  for (const f of files) {
    for (const line of readFileSync(join(podLogsDir, dir, container, f), 'utf8').split('\n')) {
      const m = /^\S+ (?:stdout|stderr) ([FP]) (.*)$/.exec(line);
      if (m) out += m[1] === 'F' ? `${m[2]}\n` : m[2];
    }
  }
  return out;
}
