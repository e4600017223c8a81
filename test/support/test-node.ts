// A "test node" for the real control plane of the test environment (scripts/env/components/kube.sh),
// which has no kubelet, scheduler or container runtime. It plays all three for the pods a test
// selects by label:
//
// - registers a Node (default `test-node`) with a Ready condition and keeps it heartbeating, so that
//   the node lifecycle and pod GC controllers treat the pods bound to it as alive;
// - binds unscheduled matching pods to that Node (pods/binding, like the scheduler); the Node carries
//   the taint pyworkflow.io/test-node=true:NoSchedule so that the real scheduler of the environment
//   never places other pods on it, and pods bound to another node are left alone;
// - runs the pod's first container as a local child process: `command` + `args` with `$(VAR)`
//   expansion, `env` (value, secretKeyRef, configMapKeyRef, fieldRef) and `envFrom` resolved from the
//   API server, the image ignored (`commandMap`/`imageMap` map a container command or image to a
//   local program);
// - materialises volumes in a per-pod directory: secret, configMap, downwardAPI, projected (with a
//   real service-account token from the TokenRequest API) and emptyDir as files/directories,
//   persistentVolumeClaim via `claims`/`resolveClaim`, hostPath as the host path itself;
// - since nothing can be mounted, every occurrence of a volumeMount's mountPath (and of the
//   container's terminationMessagePath, and of each `pathRewrite` prefix) at the start of a path in
//   command, args, env values and workingDir is rewritten to the local directory/file; a program
//   that hard-codes a path (not passed in args/env) is not rewritten;
// - reports pod status like the kubelet: Pending -> Running (startTime, podIP 127.0.0.1, running
//   container status, conditions) -> Succeeded/Failed with `state.terminated` {exitCode, reason
//   Completed/Error, message, startedAt, finishedAt}; the message is the termination-message file's
//   content (at most 4096 bytes), or the log tail with `terminationMessagePolicy:
//   FallbackToLogsOnError` when the file is empty and the container failed. So the real Job
//   controller counts succeeded/failed pods, removes its tracking finalizers and completes/fails Jobs;
// - honours `restartPolicy` (OnFailure/Always restart the process in the same pod, restartCount
//   grows), `activeDeadlineSeconds` (kills the process; phase Failed, reason DeadlineExceeded) and
//   deletion (SIGTERM, SIGKILL after the grace period, terminal status, then the final delete with
//   grace period 0 like the kubelet's);
// - keeps each pod's combined stdout/stderr in a file (`logs(podName)`).
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1EnvVar,
  type V1ObjectFieldSelector,
  type V1Pod,
  type V1Volume,
} from '@kubernetes/client-node';

export interface TestNodeOptions {
  /** kubeconfig of a user allowed to manage nodes, pods, pod status and bindings (the admin one). */
  kubeconfigPath: string;
  /** Only pods in this namespace (default: all namespaces). */
  namespace?: string;
  /** Label selector of the pods this node runs, e.g. `app.kubernetes.io/name=pyworkflow-retention`. */
  labelSelector: string;
  /** Name of the Node object (default `test-node`). */
  nodeName?: string;
  /** Directory for per-pod volumes, termination-message files and logs (created if missing). */
  workDir: string;
  /**
   * Maps a container's command[0] (exact, else its basename) to a local argv prefix that replaces it,
   * e.g. `{ 'pyworkflow-retention': ['node', '/repo/dist/src/cli/main.js'] }`. Unmapped commands run
   * as they are (found on PATH).
   */
  commandMap?: Record<string, string[]>;
  /** Maps an image to the local argv of its entrypoint, for containers without `command`. */
  imageMap?: Record<string, string[]>;
  /** PersistentVolumeClaim name -> local directory (the claim's "volume"). */
  claims?: Record<string, string>;
  /** Fallback for claims not in `claims`: returns the local directory or undefined. */
  resolveClaim?: (claimName: string, namespace: string) => string | undefined;
  /** Extra absolute path prefix -> local path rewrites applied to command, args, env and workingDir. */
  pathRewrite?: Record<string, string>;
  /** Variables every process gets (before the pod's own env). */
  env?: Record<string, string>;
  /** Names of this process's variables passed on (default PATH, HOME, LANG, TMPDIR). */
  inheritEnv?: string[];
  /** When set, every process also gets this variable holding its local termination-message file. */
  terminationMessagePathEnv?: string;
  /** Poll interval of the pod list (default 500 ms). */
  pollIntervalMs?: number;
  /** Longest grace period honoured on deletion/deadline/stop before SIGKILL (default 10 s). */
  maxGracePeriodSeconds?: number;
  /** Called with a line for every notable action and error (default: nothing; errors also in `errors()`). */
  log?: (line: string) => void;
}

export interface TestNodeRun {
  namespace: string;
  podName: string;
  uid: string;
  /** The argv actually run (after mapping and rewriting). */
  argv: string[];
  pid: number | undefined;
  /** undefined while running. */
  exitCode: number | undefined;
  restartCount: number;
  /** Directory of this pod's volumes, termination-message file and log. */
  dir: string;
  logFile: string;
}

export interface TestNode {
  readonly nodeName: string;
  /** Combined stdout/stderr of the newest pod named podName ('' when it never ran). */
  logs(podName: string, namespace?: string): string;
  /** The run record of the newest pod named podName. */
  run(podName: string, namespace?: string): TestNodeRun | undefined;
  /** Every pod this node has run or is running. */
  runs(): TestNodeRun[];
  /** Errors met so far (API errors, unresolvable env/volumes, spawn failures). */
  errors(): string[];
  /** Kills the running processes (pods become Failed, like on a node shutdown) and stops polling. */
  stop(): Promise<void>;
}

/** Taint of the test node's Node (value `true`, effect NoSchedule): the scheduler never places pods there. */
export const TEST_NODE_TAINT_KEY = 'pyworkflow.io/test-node';

const DEFAULT_INHERIT = ['PATH', 'HOME', 'LANG', 'TMPDIR'];
const MAX_MESSAGE_BYTES = 4096;
const LOG_TAIL_LINES = 80;
const LOG_TAIL_BYTES = 2048;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** RFC 3339 without fractional seconds, as metav1.Time serialises. */
function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function isoOf(d: Date | string | undefined): string | undefined {
  if (d === undefined) return undefined;
  return (typeof d === 'string' ? new Date(d) : d).toISOString().replace(/\.\d+Z$/, 'Z');
}

function httpCode(err: unknown): number | undefined {
  return err instanceof ApiException ? (err as ApiException<unknown>).code : undefined;
}

function errText(err: unknown): string {
  if (err instanceof ApiException) {
    const e = err as ApiException<unknown>;
    const body = typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
    return `HTTP ${e.code}: ${body.slice(0, 500)}`;
  }
  return err instanceof Error ? err.message : String(err);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Kubernetes `$(VAR)` expansion; `$$` escapes; unknown references stay as they are. */
export function expandVars(input: string, vars: Record<string, string>): string {
  return input.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m: string, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && name in vars ? vars[name]! : m;
  });
}

/**
 * Rewrites occurrences of absolute path prefixes to local paths. A prefix matches at the start of a
 * path: at the beginning of the string, after one of `=:,;'"(` or whitespace, or after `://` / `:///`
 * (URLs such as `sqlite:////data/db.sqlite`), and only when followed by `/`, the end, or a separator.
 */
export function rewritePaths(input: string, rewrites: Array<[string, string]>): string {
  let out = input;
  const sorted = [...rewrites].sort((a, b) => b[0].length - a[0].length);
  // One pass over all prefixes so that a replacement is never rewritten again.
  if (sorted.length === 0) return out;
  const alternatives = sorted.map(([from]) => escapeRegExp(from.replace(/\/+$/, '') || '/')).join('|');
  const re = new RegExp(`(?<=^|[=:,;'"(\\s]|:\\/\\/\\/?)(${alternatives})(?=$|[/\\s:;,'"=)])`, 'g');
  const table = new Map(sorted.map(([from, to]) => [from.replace(/\/+$/, '') || '/', to]));
  out = out.replace(re, (m: string) => table.get(m) ?? m);
  return out;
}

interface PodRecord {
  run: TestNodeRun;
  pod: V1Pod;
  state: 'preparing' | 'running' | 'restarting' | 'terminating' | 'finished';
  child?: ChildProcess;
  startedAt?: string;
  podStartTime?: string;
  deadlineTimer?: NodeJS.Timeout;
  /** Why the process is being killed (decides the pod's final phase/reason). */
  killReason?: 'deleted' | 'deadline' | 'shutdown' | 'gone';
  lastTerminated?: Record<string, unknown>;
  exited?: Promise<void>;
  statusChain: Promise<void>;
  deleteConfirmed: boolean;
  preparing: boolean;
  lastPrepareError?: string;
}

interface PodCondition {
  type: string;
  status: string;
  reason?: string | undefined;
  message?: string | undefined;
  lastTransitionTime: string;
}

interface Prepared {
  argv: string[];
  env: Record<string, string>;
  cwd: string | undefined;
  messageFile: string;
}

class TestNodeImpl implements TestNode {
  readonly nodeName: string;
  private readonly kc = new KubeConfig();
  private readonly core: CoreV1Api;
  private readonly records = new Map<string, PodRecord>(); // by pod uid
  private readonly errorList: string[] = [];
  private stopped = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private readonly registeredAt = now();
  private readonly apiHost: string;
  private readonly apiPort: string;

  constructor(private readonly opts: TestNodeOptions) {
    this.nodeName = opts.nodeName ?? 'test-node';
    this.kc.loadFromFile(opts.kubeconfigPath);
    this.core = this.kc.makeApiClient(CoreV1Api);
    const server = new URL(this.kc.getCurrentCluster()?.server ?? 'https://127.0.0.1:443');
    this.apiHost = server.hostname;
    this.apiPort = server.port || '443';
    mkdirSync(opts.workDir, { recursive: true });
  }

  // ------------------------------------------------------------------------------- public API

  logs(podName: string, namespace?: string): string {
    const run = this.run(podName, namespace);
    return run && existsSync(run.logFile) ? readFileSync(run.logFile, 'utf8') : '';
  }

  run(podName: string, namespace?: string): TestNodeRun | undefined {
    const matches = this.runs().filter((r) => r.podName === podName && (namespace === undefined || r.namespace === namespace));
    return matches[matches.length - 1];
  }

  runs(): TestNodeRun[] {
    return [...this.records.values()].map((r) => r.run);
  }

  errors(): string[] {
    return [...this.errorList];
  }

  async start(): Promise<void> {
    await this.registerNode();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), 10_000);
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      this.ticking = this.tick();
      await this.ticking;
      if (!this.stopped) this.pollTimer = setTimeout(() => void loop(), this.opts.pollIntervalMs ?? 500);
    };
    await loop();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.ticking;
    const live = [...this.records.values()].filter((r) => r.state === 'running' || r.state === 'restarting' || r.state === 'terminating');
    await Promise.all(live.map((r) => this.kill(r, 'shutdown', 5)));
    await Promise.all([...this.records.values()].map((r) => r.statusChain));
  }

  // --------------------------------------------------------------------------------- the node

  private note(line: string): void {
    this.opts.log?.(`[test-node ${this.nodeName}] ${line}`);
  }

  private fail(line: string): void {
    this.errorList.push(line);
    this.note(`ERROR ${line}`);
  }

  private nodeStatus(): Record<string, unknown> {
    const t = now();
    const cond = (type: string, status: string, reason: string, message: string): Record<string, string> => ({
      type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: this.registeredAt,
    });
    return {
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'test node'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'test node'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'test node'),
        cond('Ready', 'True', 'KubeletReady', 'test node runs pods as local processes'),
      ],
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: this.nodeName },
      ],
      capacity: { cpu: '2', memory: '8Gi', pods: '110', 'ephemeral-storage': '20Gi' },
      allocatable: { cpu: '2', memory: '8Gi', pods: '110', 'ephemeral-storage': '20Gi' },
      daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
      nodeInfo: {
        machineID: 'test-node', systemUUID: 'test-node', bootID: 'test-node', kernelVersion: 'n/a',
        osImage: 'pyworkflow-retention test node', containerRuntimeVersion: 'test-node://1',
        kubeletVersion: 'v1.33.0', kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64',
      },
    };
  }

  private async registerNode(): Promise<void> {
    try {
      await this.core.createNode({
        body: {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name: this.nodeName,
            labels: {
              'kubernetes.io/hostname': this.nodeName,
              'kubernetes.io/os': 'linux',
              'kubernetes.io/arch': 'amd64',
              'pyworkflow.io/test-node': 'true',
            },
          },
          // This node binds its pods itself; the taint keeps the real scheduler (scripts/env/components/
          // node.sh) from placing other pods here, where nothing would run them.
          spec: { taints: [{ key: TEST_NODE_TAINT_KEY, value: 'true', effect: 'NoSchedule' }] },
        },
      });
      this.note('registered node');
    } catch (err) {
      if (httpCode(err) !== 409) throw new Error(`test node: cannot create Node ${this.nodeName}: ${errText(err)}`);
    }
    await this.core.patchNodeStatus({ name: this.nodeName, body: { status: this.nodeStatus() } }, mergePatch);
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.core.patchNodeStatus({ name: this.nodeName, body: { status: this.nodeStatus() } }, mergePatch);
    } catch (err) {
      if (httpCode(err) === 404) {
        await this.registerNode().catch((e: unknown) => this.fail(`re-registering node: ${errText(e)}`));
      } else {
        this.note(`heartbeat failed: ${errText(err)}`);
      }
    }
  }

  // --------------------------------------------------------------------------------- the loop

  private async tick(): Promise<void> {
    let pods: V1Pod[];
    try {
      const list = this.opts.namespace
        ? await this.core.listNamespacedPod({ namespace: this.opts.namespace, labelSelector: this.opts.labelSelector })
        : await this.core.listPodForAllNamespaces({ labelSelector: this.opts.labelSelector });
      pods = list.items;
    } catch (err) {
      this.note(`listing pods failed (will retry): ${errText(err)}`);
      return;
    }
    const seen = new Set<string>();
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      if (!uid) continue;
      seen.add(uid);
      try {
        await this.handle(pod, uid);
      } catch (err) {
        this.fail(`${pod.metadata?.namespace}/${pod.metadata?.name}: ${errText(err)}`);
      }
    }
    // Pods that disappeared (deleted with grace period 0, or their namespace is gone): kill leftovers.
    for (const [uid, rec] of this.records) {
      if (seen.has(uid)) continue;
      if (rec.state === 'running' || rec.state === 'restarting') {
        this.note(`${rec.run.namespace}/${rec.run.podName} vanished; killing its process`);
        void this.kill(rec, 'gone', 0);
      } else if (rec.state === 'preparing') {
        rec.state = 'finished';
      }
    }
  }

  private async handle(pod: V1Pod, uid: string): Promise<void> {
    const ns = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    let rec = this.records.get(uid);
    if (rec) rec.pod = pod;
    const phase = pod.status?.phase;
    const terminal = phase === 'Succeeded' || phase === 'Failed';
    const nodeName = pod.spec?.nodeName;

    if (pod.metadata?.deletionTimestamp) {
      // Graceful deletion of a pod bound to this node: the kubelet's part is to stop the container,
      // report the terminal status and confirm with a delete of grace period 0.
      if (nodeName !== this.nodeName) return;
      const r = rec ?? this.newRecord(pod, uid, []);
      if (r.state === 'running' || r.state === 'restarting') {
        const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
        void this.kill(r, 'deleted', grace).then(() => this.confirmDeletion(r));
      } else if (r.state === 'preparing') {
        r.state = 'finished';
        if (!terminal) this.queueStatus(r, () => this.terminalStatus(r, undefined, 'Failed', undefined, undefined));
        void this.confirmDeletion(r);
      } else if (r.state === 'finished') {
        void this.confirmDeletion(r);
      }
      return;
    }

    if (!nodeName) {
      await this.core.createNamespacedPodBinding({
        name, namespace: ns,
        body: {
          apiVersion: 'v1', kind: 'Binding',
          metadata: { name, namespace: ns, uid },
          target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName },
        },
      }).catch((err: unknown) => {
        // 409: bound meanwhile (by us in an earlier tick or someone else); the next tick sees it.
        if (httpCode(err) !== 409) throw err;
      });
      this.note(`bound ${ns}/${name}`);
      return; // started on the next tick, from the bound object
    }
    if (nodeName !== this.nodeName) return;
    if (rec) {
      if (rec.state === 'preparing' && !rec.preparing) void this.startPod(rec); // retry, like the kubelet
      return;
    }
    if (terminal) return; // finished before this node (instance) saw it
    rec = this.newRecord(pod, uid, []);
    if (phase === 'Running') {
      // Bound to this node by an earlier test-node instance whose process is gone.
      rec.state = 'finished';
      this.queueStatus(rec, () => this.lostStatus(rec));
      return;
    }
    void this.startPod(rec);
  }

  private newRecord(pod: V1Pod, uid: string, argv: string[]): PodRecord {
    const ns = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const dir = join(this.opts.workDir, ns, `${name}-${uid.slice(0, 8)}`);
    mkdirSync(dir, { recursive: true });
    const rec: PodRecord = {
      run: { namespace: ns, podName: name, uid, argv, pid: undefined, exitCode: undefined, restartCount: 0, dir, logFile: join(dir, 'container.log') },
      pod,
      state: 'preparing',
      statusChain: Promise.resolve(),
      deleteConfirmed: false,
      preparing: false,
    };
    this.records.set(uid, rec);
    return rec;
  }

  // ------------------------------------------------------------------------ preparing a pod

  private async startPod(rec: PodRecord): Promise<void> {
    if (rec.state !== 'preparing' || rec.preparing || this.stopped) return;
    rec.preparing = true;
    let prepared: Prepared;
    try {
      prepared = await this.prepare(rec);
    } catch (err) {
      const message = errText(err);
      if (rec.lastPrepareError !== message) {
        this.fail(`${rec.run.namespace}/${rec.run.podName}: cannot start container: ${message}`);
        this.queueStatus(rec, () => this.waitingStatus(rec, 'CreateContainerConfigError', message));
      }
      rec.lastPrepareError = message;
      await sleep(1000); // retried on a later tick
      rec.preparing = false;
      return;
    }
    rec.preparing = false;
    if (rec.state !== 'preparing' || this.stopped) return; // deleted meanwhile
    rec.lastPrepareError = undefined;
    rec.run.argv = prepared.argv;
    rec.podStartTime = now();
    this.spawnProcess(rec, prepared);
    const deadline = rec.pod.spec?.activeDeadlineSeconds;
    if (deadline !== undefined && deadline !== null) {
      rec.deadlineTimer = setTimeout(() => {
        if (rec.state === 'running' || rec.state === 'restarting') {
          this.note(`${rec.run.namespace}/${rec.run.podName} exceeded activeDeadlineSeconds=${deadline}`);
          void this.kill(rec, 'deadline', rec.pod.spec?.terminationGracePeriodSeconds ?? 30);
        }
      }, deadline * 1000);
    }
  }

  private container(pod: V1Pod): V1Container {
    const c = pod.spec?.containers?.[0];
    if (!c) throw new Error('pod has no containers');
    return c;
  }

  private async prepare(rec: PodRecord): Promise<Prepared> {
    const pod = rec.pod;
    const ns = rec.run.namespace;
    const c = this.container(pod);
    if ((pod.spec?.initContainers ?? []).length > 0) {
      throw new Error('the test node does not run initContainers');
    }
    const volumesDir = join(rec.run.dir, 'volumes');
    mkdirSync(volumesDir, { recursive: true });

    // Volumes -> local directories.
    const volumePaths = new Map<string, string>();
    for (const v of pod.spec?.volumes ?? []) {
      volumePaths.set(v.name, await this.materialiseVolume(v, pod, join(volumesDir, v.name)));
    }
    const rewrites: Array<[string, string]> = [];
    for (const m of c.volumeMounts ?? []) {
      const local = volumePaths.get(m.name);
      if (local === undefined) throw new Error(`volumeMount ${m.name} names no volume of the pod`);
      rewrites.push([m.mountPath, m.subPath ? join(local, m.subPath) : local]);
    }
    const messageFile = join(rec.run.dir, 'termination-log');
    writeFileSync(messageFile, '');
    rewrites.push([c.terminationMessagePath ?? '/dev/termination-log', messageFile]);
    for (const [from, to] of Object.entries(this.opts.pathRewrite ?? {})) rewrites.push([from, to]);

    // Environment: inherited basics, node-wide extras, envFrom, then env (later wins), like the kubelet.
    const env: Record<string, string> = {};
    for (const k of this.opts.inheritEnv ?? DEFAULT_INHERIT) {
      const v = process.env[k];
      if (v !== undefined) env[k] = v;
    }
    Object.assign(env, this.opts.env ?? {});
    env.HOSTNAME = pod.spec?.hostname ?? rec.run.podName;
    env.KUBERNETES_SERVICE_HOST = this.apiHost;
    env.KUBERNETES_SERVICE_PORT = this.apiPort;
    env.KUBERNETES_SERVICE_PORT_HTTPS = this.apiPort;
    if (this.opts.terminationMessagePathEnv) env[this.opts.terminationMessagePathEnv] = messageFile;
    const podVars: Record<string, string> = {};
    for (const src of c.envFrom ?? []) {
      const prefix = src.prefix ?? '';
      if (src.configMapRef) {
        const data = await this.configMapData(ns, src.configMapRef.name ?? '', src.configMapRef.optional ?? false);
        for (const [k, v] of Object.entries(data)) podVars[prefix + k] = v;
      }
      if (src.secretRef) {
        const data = await this.secretData(ns, src.secretRef.name ?? '', src.secretRef.optional ?? false);
        for (const [k, v] of Object.entries(data)) podVars[prefix + k] = v.toString('utf8');
      }
    }
    for (const e of c.env ?? []) {
      const value = await this.envValue(e, pod, { ...env, ...podVars });
      if (value !== undefined) podVars[e.name] = value;
    }
    for (const [k, v] of Object.entries(podVars)) env[k] = rewritePaths(v, rewrites);

    // argv: command (or the image's entrypoint) + args, $(VAR)-expanded, mapped to a local program.
    const expand = (s: string): string => rewritePaths(expandVars(s, env), rewrites);
    const command = (c.command ?? []).map(expand);
    const args = (c.args ?? []).map(expand);
    let argv: string[];
    if (command.length > 0) {
      const head = command[0]!;
      const mapped = this.opts.commandMap?.[head] ?? this.opts.commandMap?.[basename(head)];
      argv = [...(mapped ?? [head]), ...command.slice(1), ...args];
    } else {
      const entry = c.image !== undefined ? this.opts.imageMap?.[c.image] : undefined;
      if (!entry) throw new Error(`container ${c.name} has no command and image ${c.image} is not in imageMap`);
      argv = [...entry, ...args];
    }
    const cwd = c.workingDir ? rewritePaths(c.workingDir, rewrites) : undefined;
    if (cwd !== undefined) mkdirSync(cwd, { recursive: true });
    return { argv, env, cwd, messageFile };
  }

  private async configMapData(ns: string, name: string, optional: boolean): Promise<Record<string, string>> {
    try {
      const cm = await this.core.readNamespacedConfigMap({ name, namespace: ns });
      const out: Record<string, string> = { ...(cm.data ?? {}) };
      for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
      return out;
    } catch (err) {
      if (optional && httpCode(err) === 404) return {};
      throw new Error(`configmap "${name}" not found or unreadable: ${errText(err)}`);
    }
  }

  private async configMapBytes(ns: string, name: string, optional: boolean): Promise<Record<string, Buffer>> {
    try {
      const cm = await this.core.readNamespacedConfigMap({ name, namespace: ns });
      const out: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries(cm.data ?? {})) out[k] = Buffer.from(v, 'utf8');
      for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
      return out;
    } catch (err) {
      if (optional && httpCode(err) === 404) return {};
      throw new Error(`configmap "${name}" not found or unreadable: ${errText(err)}`);
    }
  }

  private async secretData(ns: string, name: string, optional: boolean): Promise<Record<string, Buffer>> {
    try {
      const s = await this.core.readNamespacedSecret({ name, namespace: ns });
      const out: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64');
      return out;
    } catch (err) {
      if (optional && httpCode(err) === 404) return {};
      throw new Error(`secret "${name}" not found or unreadable: ${errText(err)}`);
    }
  }

  private fieldValue(sel: V1ObjectFieldSelector, pod: V1Pod): string {
    const path = sel.fieldPath;
    const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
    if (m) {
      const map = m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
      return map?.[m[2]!] ?? '';
    }
    const mapText = (map: Record<string, string> | undefined): string =>
      Object.entries(map ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n');
    switch (path) {
      case 'metadata.name': return pod.metadata?.name ?? '';
      case 'metadata.namespace': return pod.metadata?.namespace ?? '';
      case 'metadata.uid': return pod.metadata?.uid ?? '';
      case 'metadata.labels': return mapText(pod.metadata?.labels);
      case 'metadata.annotations': return mapText(pod.metadata?.annotations);
      case 'spec.nodeName': return this.nodeName;
      case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? 'default';
      case 'status.hostIP': case 'status.podIP': return '127.0.0.1';
      case 'status.hostIPs': case 'status.podIPs': return '127.0.0.1';
      default: throw new Error(`fieldRef ${path} is not supported by the test node`);
    }
  }

  private async envValue(e: V1EnvVar, pod: V1Pod, vars: Record<string, string>): Promise<string | undefined> {
    const ns = pod.metadata!.namespace!;
    if (e.valueFrom === undefined) return expandVars(e.value ?? '', vars);
    const vf = e.valueFrom;
    if (vf.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const data = await this.secretData(ns, ref.name ?? '', ref.optional ?? false);
      const v = data[ref.key];
      if (v === undefined) {
        if (ref.optional) return undefined;
        throw new Error(`secret "${ref.name}" has no key "${ref.key}" (env ${e.name})`);
      }
      return v.toString('utf8');
    }
    if (vf.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const data = await this.configMapData(ns, ref.name ?? '', ref.optional ?? false);
      const v = data[ref.key];
      if (v === undefined) {
        if (ref.optional) return undefined;
        throw new Error(`configmap "${ref.name}" has no key "${ref.key}" (env ${e.name})`);
      }
      return v;
    }
    if (vf.fieldRef) return this.fieldValue(vf.fieldRef, pod);
    return undefined; // resourceFieldRef: not modelled
  }

  private writeFiles(dir: string, files: Record<string, Buffer>, items: Array<{ key: string; path: string; mode?: number }> | undefined, defaultMode: number | undefined): void {
    mkdirSync(dir, { recursive: true });
    const entries = items
      ? items.map((i) => {
          const data = files[i.key];
          if (data === undefined) throw new Error(`key "${i.key}" not found for volume item ${i.path}`);
          return [i.path, data, i.mode ?? defaultMode] as const;
        })
      : Object.entries(files).map(([k, v]) => [k, v, defaultMode] as const);
    for (const [path, data, mode] of entries) {
      const file = join(dir, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, data, { mode: mode ?? 0o644 });
    }
  }

  private async materialiseVolume(v: V1Volume, pod: V1Pod, dir: string): Promise<string> {
    const ns = pod.metadata!.namespace!;
    if (v.persistentVolumeClaim) {
      const claim = v.persistentVolumeClaim.claimName;
      const local = this.opts.claims?.[claim] ?? this.opts.resolveClaim?.(claim, ns);
      if (local === undefined) throw new Error(`no local directory for persistentVolumeClaim "${claim}" (test node option claims)`);
      mkdirSync(local, { recursive: true });
      return local;
    }
    if (v.hostPath) return v.hostPath.path;
    if (v.emptyDir) {
      mkdirSync(dir, { recursive: true });
      return dir;
    }
    if (v.secret) {
      const data = await this.secretData(ns, v.secret.secretName ?? '', v.secret.optional ?? false);
      this.writeFiles(dir, data, v.secret.items, v.secret.defaultMode);
      return dir;
    }
    if (v.configMap) {
      const data = await this.configMapBytes(ns, v.configMap.name ?? '', v.configMap.optional ?? false);
      this.writeFiles(dir, data, v.configMap.items, v.configMap.defaultMode);
      return dir;
    }
    if (v.downwardAPI) {
      const files: Record<string, Buffer> = {};
      for (const item of v.downwardAPI.items ?? []) {
        if (item.fieldRef) files[item.path] = Buffer.from(this.fieldValue(item.fieldRef, pod));
      }
      this.writeFiles(dir, files, undefined, v.downwardAPI.defaultMode);
      return dir;
    }
    if (v.projected) {
      mkdirSync(dir, { recursive: true });
      for (const src of v.projected.sources ?? []) {
        if (src.secret) {
          const data = await this.secretData(ns, src.secret.name ?? '', src.secret.optional ?? false);
          this.writeFiles(dir, data, src.secret.items, v.projected.defaultMode);
        }
        if (src.configMap) {
          const data = await this.configMapBytes(ns, src.configMap.name ?? '', src.configMap.optional ?? false);
          this.writeFiles(dir, data, src.configMap.items, v.projected.defaultMode);
        }
        if (src.downwardAPI) {
          const files: Record<string, Buffer> = {};
          for (const item of src.downwardAPI.items ?? []) {
            if (item.fieldRef) files[item.path] = Buffer.from(this.fieldValue(item.fieldRef, pod));
          }
          this.writeFiles(dir, files, undefined, v.projected.defaultMode);
        }
        if (src.serviceAccountToken) {
          const sat = src.serviceAccountToken;
          const tr = await this.core.createNamespacedServiceAccountToken({
            name: pod.spec?.serviceAccountName ?? 'default',
            namespace: ns,
            body: {
              apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
              spec: {
                audiences: sat.audience ? [sat.audience] : [],
                expirationSeconds: sat.expirationSeconds ?? 3607,
                boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! },
              },
            },
          });
          this.writeFiles(dir, { [sat.path]: Buffer.from(tr.status?.token ?? '') }, undefined, v.projected.defaultMode);
        }
      }
      return dir;
    }
    throw new Error(`volume ${v.name}: type not supported by the test node`);
  }

  // ----------------------------------------------------------------------- running a process

  private spawnProcess(rec: PodRecord, p: Prepared): void {
    const [file, ...args] = p.argv;
    const c = this.container(rec.pod);
    appendFileSync(rec.run.logFile, '');
    const out = openSync(rec.run.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(file!, args, { env: p.env, cwd: p.cwd ?? rec.run.dir, stdio: ['ignore', out, out], detached: true });
    } finally {
      closeSync(out);
    }
    rec.child = child;
    rec.state = 'running';
    rec.startedAt = now();
    rec.run.pid = child.pid;
    rec.run.exitCode = undefined;
    this.note(`${rec.run.namespace}/${rec.run.podName} started pid ${child.pid}: ${p.argv.join(' ')}`);
    const startedAt = rec.startedAt;
    this.queueStatus(rec, () => this.runningStatus(rec, c, startedAt));
    rec.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
        if (done) return;
        done = true;
        const exitCode = code ?? (signal ? 128 + (signalNumber(signal) ?? 9) : 1);
        if (spawnError) appendFileSync(rec.run.logFile, `test-node: cannot run ${file}: ${spawnError.message}\n`);
        this.onExit(rec, p, exitCode, signal ?? undefined, startedAt);
        resolve();
      };
      child.on('error', (err) => finish(127, null, err));
      child.on('exit', (code, signal) => finish(code, signal));
    });
  }

  private onExit(rec: PodRecord, p: Prepared, exitCode: number, signal: string | undefined, startedAt: string): void {
    const finishedAt = now();
    rec.run.exitCode = exitCode;
    rec.child = undefined;
    const c = this.container(rec.pod);
    let message = readMessage(p.messageFile);
    if (message === '' && exitCode !== 0 && c.terminationMessagePolicy === 'FallbackToLogsOnError') {
      message = logTail(rec.run.logFile);
    }
    const terminated: Record<string, unknown> = {
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
      message: message || undefined,
      startedAt,
      finishedAt,
      containerID: `test-node://${rec.run.uid}/${rec.run.pid ?? 0}`,
      ...(signal ? { signal: signalNumber(signal) } : {}),
    };
    this.note(`${rec.run.namespace}/${rec.run.podName} exited with ${exitCode}${signal ? ` (${signal})` : ''}`);
    const policy = rec.pod.spec?.restartPolicy ?? 'Always';
    const restart = rec.killReason === undefined && !this.stopped &&
      (policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0));
    if (restart) {
      rec.state = 'restarting';
      rec.lastTerminated = terminated;
      rec.run.restartCount += 1;
      const delay = Math.min(10_000, 1000 * 2 ** Math.min(rec.run.restartCount - 1, 4));
      this.queueStatus(rec, () => this.waitingStatus(rec, 'CrashLoopBackOff', `back-off ${delay / 1000}s restarting failed container`));
      setTimeout(() => {
        if (rec.state !== 'restarting' || this.stopped) return;
        writeFileSync(p.messageFile, '');
        this.spawnProcess(rec, p);
      }, delay);
      return;
    }
    rec.state = 'finished';
    if (rec.deadlineTimer) clearTimeout(rec.deadlineTimer);
    const phase = rec.killReason === 'deadline' || rec.killReason === 'shutdown' || exitCode !== 0 ? 'Failed' : 'Succeeded';
    if (rec.killReason !== 'gone') {
      this.queueStatus(rec, () => this.terminalStatus(rec, c, phase, terminated, rec.killReason));
    }
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; resolves when the process exited. */
  private async kill(rec: PodRecord, reason: NonNullable<PodRecord['killReason']>, graceSeconds: number): Promise<void> {
    rec.killReason ??= reason;
    if (rec.state === 'restarting') {
      // No process between restarts: finish the pod now.
      if (rec.deadlineTimer) clearTimeout(rec.deadlineTimer);
      rec.state = 'finished';
      const c = this.container(rec.pod);
      const phase = reason === 'deleted' && rec.lastTerminated?.exitCode === 0 ? 'Succeeded' : 'Failed';
      if (reason !== 'gone') this.queueStatus(rec, () => this.terminalStatus(rec, c, phase, rec.lastTerminated, reason));
      return;
    }
    const child = rec.child;
    if (!child || rec.state === 'finished') return;
    rec.state = 'terminating';
    const grace = Math.max(0, Math.min(graceSeconds, this.opts.maxGracePeriodSeconds ?? 10));
    signalGroup(child, grace === 0 ? 'SIGKILL' : 'SIGTERM');
    const timer = grace > 0 ? setTimeout(() => signalGroup(child, 'SIGKILL'), grace * 1000) : undefined;
    await rec.exited;
    if (timer) clearTimeout(timer);
  }

  private async confirmDeletion(rec: PodRecord): Promise<void> {
    if (rec.deleteConfirmed) return;
    rec.deleteConfirmed = true;
    await rec.statusChain;
    try {
      await this.core.deleteNamespacedPod({
        name: rec.run.podName, namespace: rec.run.namespace, gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: rec.run.uid } },
      });
    } catch (err) {
      const code = httpCode(err);
      if (code !== 404 && code !== 409) {
        rec.deleteConfirmed = false; // retried on the next tick
        this.note(`confirming deletion of ${rec.run.namespace}/${rec.run.podName} failed: ${errText(err)}`);
      }
    }
  }

  // ---------------------------------------------------------------------------- pod status

  /** Serialises status writes per pod; each write is retried while the API server is unreachable. */
  private queueStatus(rec: PodRecord, build: () => Record<string, unknown>): void {
    rec.statusChain = rec.statusChain.then(async () => {
      const status = build();
      for (let attempt = 0; ; attempt++) {
        try {
          await this.core.patchNamespacedPodStatus(
            { name: rec.run.podName, namespace: rec.run.namespace, body: { metadata: { uid: rec.run.uid }, status } },
            mergePatch,
          );
          return;
        } catch (err) {
          const code = httpCode(err);
          // Pod gone, or replaced by a new pod of that name (the uid in the patch no longer matches).
          if (code === 404 || code === 409 || (code === 422 && errText(err).includes('metadata.uid'))) return;
          if ((code !== undefined && code < 500 && code !== 429) || attempt >= 240 || (this.stopped && attempt >= 20)) {
            this.fail(`status of ${rec.run.namespace}/${rec.run.podName}: ${errText(err)}`);
            return;
          }
          await sleep(500);
        }
      }
    });
  }

  /** Pod conditions as the kubelet reports them; PodScheduled/DisruptionTarget are kept as they are. */
  private conditions(rec: PodRecord, sandbox: boolean, ready: boolean, reason: string): PodCondition[] {
    const t = now();
    const previous = rec.pod.status?.conditions ?? [];
    const cond = (type: string, status: boolean, r?: string): PodCondition => {
      const old = previous.find((c) => c.type === type);
      const value = status ? 'True' : 'False';
      const since = old?.status === value ? isoOf(old.lastTransitionTime) ?? t : t;
      return { type, status: value, lastTransitionTime: since, ...(r && !status ? { reason: r } : {}) };
    };
    const out: PodCondition[] = previous
      .filter((c) => c.type === 'PodScheduled' || c.type === 'DisruptionTarget')
      .map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: isoOf(c.lastTransitionTime) ?? t }));
    if (!out.some((c) => c.type === 'PodScheduled')) out.push(cond('PodScheduled', true));
    out.push(cond('PodReadyToStartContainers', sandbox));
    out.push(cond('Initialized', true));
    out.push(cond('ContainersReady', ready, reason));
    out.push(cond('Ready', ready, reason));
    return out;
  }

  private base(rec: PodRecord): Record<string, unknown> {
    return {
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      startTime: rec.podStartTime ?? isoOf(rec.pod.status?.startTime) ?? now(),
      qosClass: rec.pod.status?.qosClass ?? 'BestEffort',
    };
  }

  private containerStatus(rec: PodRecord, c: V1Container, state: Record<string, unknown>, ready: boolean): Record<string, unknown> {
    return {
      name: c.name,
      image: c.image ?? 'test-node',
      imageID: `test-node://${c.image ?? 'none'}`,
      containerID: `test-node://${rec.run.uid}/${rec.run.pid ?? 0}`,
      ready,
      started: ready,
      restartCount: rec.run.restartCount,
      state,
      ...(rec.lastTerminated ? { lastState: { terminated: rec.lastTerminated } } : {}),
    };
  }

  private runningStatus(rec: PodRecord, c: V1Container, startedAt: string): Record<string, unknown> {
    return {
      ...this.base(rec),
      phase: 'Running',
      conditions: this.conditions(rec, true, true, ''),
      containerStatuses: [this.containerStatus(rec, c, { running: { startedAt } }, true)],
    };
  }

  private waitingStatus(rec: PodRecord, reason: string, message: string): Record<string, unknown> {
    const c = this.container(rec.pod);
    return {
      ...this.base(rec),
      phase: rec.state === 'restarting' ? 'Running' : 'Pending',
      conditions: this.conditions(rec, true, false, 'ContainersNotReady'),
      containerStatuses: [this.containerStatus(rec, c, { waiting: { reason, message } }, false)],
    };
  }

  private terminalStatus(rec: PodRecord, c: V1Container | undefined, phase: 'Succeeded' | 'Failed', terminated: Record<string, unknown> | undefined, why: PodRecord['killReason']): Record<string, unknown> {
    const status: Record<string, unknown> = {
      ...this.base(rec),
      phase,
      conditions: this.conditions(rec, false, false, 'PodCompleted'),
    };
    const container = c ?? rec.pod.spec?.containers?.[0];
    if (container) {
      const t = terminated ?? { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'the container was never started', startedAt: now(), finishedAt: now() };
      status.containerStatuses = [this.containerStatus(rec, container, { terminated: t }, false)];
    }
    if (why === 'deadline') {
      status.reason = 'DeadlineExceeded';
      status.message = `Pod was active on the node longer than the specified deadline`;
    } else if (why === 'shutdown') {
      status.reason = 'Terminated';
      status.message = 'Pod was terminated in response to the test node stopping.';
      (status.conditions as PodCondition[]).push({
        type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet',
        message: 'Pod was terminated in response to the test node stopping.', lastTransitionTime: now(),
      });
    }
    return status;
  }

  private lostStatus(rec: PodRecord): Record<string, unknown> {
    const status = this.terminalStatus(rec, undefined, 'Failed', undefined, undefined);
    status.reason = 'ProcessLost';
    status.message = 'the test node that ran this pod stopped; its process is gone';
    return status;
  }
}

function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try { child.kill(sig); } catch { /* already gone */ }
  }
}

function signalNumber(sig: string): number | undefined {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
  return table[sig];
}

function readMessage(file: string): string {
  if (!existsSync(file)) return '';
  const buf = readFileSync(file);
  return buf.subarray(0, MAX_MESSAGE_BYTES).toString('utf8');
}

function logTail(file: string): string {
  if (!existsSync(file)) return '';
  const buf = readFileSync(file);
  const tail = buf.subarray(Math.max(0, buf.length - LOG_TAIL_BYTES)).toString('utf8');
  return tail.split('\n').slice(-LOG_TAIL_LINES - 1).join('\n').trimEnd();
}

/**
 * Registers the Node, then polls pods matching `labelSelector` and runs them (see the file comment).
 * Resolves once the Node exists and the first poll is done; call `stop()` when the test ends.
 */
export async function startTestNode(opts: TestNodeOptions): Promise<TestNode> {
  const node = new TestNodeImpl(opts);
  await node.start();
  return node;
}
