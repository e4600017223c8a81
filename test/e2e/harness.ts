// End-to-end harness on the real control plane: builds the CLI, runs the controller as a real child
// process (JSON logs captured), runs the test node that executes run pods as local processes, and
// reads the API server's audit log to count the controller's writes.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, kubectlOk } from '../support/kubectl.js';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { CLI_PATH, REPO_ROOT, requireEnv } from '../support/test-env.js';

export const MANAGED = 'app.kubernetes.io/managed-by=pyworkflow-retention-operator';
export const USER_AGENT_PREFIX = 'pyworkflow-retention-operator/';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Compiles the project unless dist is newer than every source file (the e2e files share one build). */
export function buildOnce(): void {
  if (existsSync(CLI_PATH) && statSync(CLI_PATH).mtimeMs > newestMtime(join(REPO_ROOT, 'src'))) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, stdio: 'pipe' });
  } catch (err) {
    // Type errors elsewhere in the tree still emit JavaScript; only a missing entry point is fatal.
    if (!existsSync(CLI_PATH)) throw err;
  }
}

export interface LogLine {
  time: string;
  level: string;
  msg: string;
  [k: string]: unknown;
}

export class ControllerProcess {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  readonly exited: Promise<number | null>;
  private constructor(readonly child: ChildProcess, readonly name: string) {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.raw.push(line);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          /* not a log line */
        }
        if (process.env.PYWR_E2E_VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  static start(name: string, args: readonly string[], kubeconfig = requireEnv('KUBECONFIG')): ControllerProcess {
    const child = spawn(process.execPath, [CLI_PATH, 'controller', '--kubeconfig', kubeconfig, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, POD_NAME: name },
    });
    return new ControllerProcess(child, name);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  has(pred: (l: LogLine) => boolean): boolean {
    return this.lines.some(pred);
  }

  count(pred: (l: LogLine) => boolean): number {
    return this.lines.filter(pred).length;
  }

  async waitFor(what: string, pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (this.child.exitCode !== null) throw new Error(`controller ${this.name} exited (${this.child.exitCode}) while waiting for ${what}:\n${this.raw.slice(-30).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`controller ${this.name}: no "${what}" within ${timeoutMs} ms:\n${this.raw.slice(-30).join('\n')}`);
      await sleep(100);
    }
  }

  /** SIGTERM and wait for a clean exit. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** SIGKILL: a crash, nothing released. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** CPU time (user + system) used so far, in seconds. */
  cpuSeconds(): number {
    // Fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name.
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  /** Resident memory in MiB (VmRSS). */
  rssMiB(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  }
}

export function controllerArgs(namespace: string, extra: readonly string[] = []): string[] {
  return [
    '--namespace', namespace,
    '--leader-election-namespace', namespace,
    '--leader-election-id', 'pyworkflow-retention-e2e',
    '--metrics-bind-address', '127.0.0.1:0',
    '--health-probe-bind-address', '127.0.0.1:0',
    '--run-image', 'registry.example/pyworkflow-retention:e2e',
    '--resync-period', '20s',
    ...extra,
  ];
}

/** The test node for one file: runs our run pods of `namespace` with the built CLI; claims map to local folders. */
export function startNode(name: string, namespace: string, workDir: string, claims: Record<string, string>): Promise<TestNode> {
  return startTestNode({
    kubeconfigPath: requireEnv('KUBECONFIG'),
    namespace,
    labelSelector: MANAGED,
    nodeName: name,
    workDir,
    // The run pods start `node /app/dist/src/cli/main.js` (the image's layout): this node's node, the repo's dist.
    commandMap: { node: [process.execPath] },
    pathRewrite: { '/app/dist': join(REPO_ROOT, 'dist') },
    claims,
    pollIntervalMs: 300,
    log: process.env.PYWR_E2E_VERBOSE ? (l) => process.stderr.write(`${l}\n`) : undefined,
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function getJson<T>(args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectlOk([...args, '-o', 'json'])) as T;
}

export async function tryGetJson<T>(args: readonly string[]): Promise<T | undefined> {
  const r = await kubectl([...args, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as T;
}

export async function apply(namespace: string, ...objects: unknown[]): Promise<void> {
  await kubectlOk(['apply', '-n', namespace, '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n'));
}

export interface AuditEvent {
  verb: string;
  userAgent?: string;
  stage?: string;
  requestReceivedTimestamp?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
}

/** The API server's audit log of writes (scripts/env/components/kube.sh), from a byte offset. */
export class AuditLog {
  private offset = 0;
  constructor(private readonly path = requireEnv('KUBE_AUDIT_LOG')) {}

  mark(): void {
    this.offset = existsSync(this.path) ? statSync(this.path).size : 0;
  }

  /** Completed writes by the controller (its user agent) in a namespace since mark(). */
  controllerWrites(namespace: string, options: { excludeLeases?: boolean } = {}): AuditEvent[] {
    if (!existsSync(this.path)) return [];
    const size = statSync(this.path).size;
    // A rotated log restarts smaller: read it whole.
    const from = size < this.offset ? 0 : this.offset;
    const text = readFileSync(this.path).subarray(from).toString('utf8');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as AuditEvent];
        } catch {
          return [];
        }
      })
      .filter((e) => e.stage === 'ResponseComplete' && e.userAgent?.startsWith(USER_AGENT_PREFIX) && e.objectRef?.namespace === namespace)
      .filter((e) => !(options.excludeLeases && e.objectRef?.resource === 'leases'));
  }
}

export function describeWrites(events: AuditEvent[]): string[] {
  return events.map((e) => `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${e.objectRef?.name ?? ''} -> ${e.responseStatus?.code ?? '?'}`);
}
