// Where the controller's API credentials come from: --kubeconfig, else the pod's service account
// (in-cluster), else $KUBECONFIG or ~/.kube/config, like kubectl and controller-runtime.
// The common forms (CA, client certificate, token, token file) are read here: loading
// @kubernetes/client-node's KubeConfig costs ~75 MiB of resident memory because it pulls in every
// generated API, so it is imported only for what we do not handle (exec plugins, auth providers,
// impersonation, proxies, several merged files).

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { isIPv6 } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../errors.js';

export interface ClusterAccess {
  server: string;
  /** Where it came from, for the startup log. */
  source: string;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string };
  /** Headers for one request (bearer token, re-read from its file as it rotates). */
  headers(): Promise<Record<string, string>>;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export async function loadClusterAccess(path: string | undefined, env: NodeJS.ProcessEnv, now: () => number = Date.now): Promise<ClusterAccess> {
  if (path !== undefined) {
    if (!existsSync(path)) throw new InvalidInputError(`--kubeconfig: ${path} does not exist`);
    return fromKubeconfigFiles([path], path);
  }
  if (env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) return inCluster(env, SA_DIR, now);
  const files = env.KUBECONFIG ? env.KUBECONFIG.split(delimiter).filter((f) => f !== '') : [join(homedir(), '.kube', 'config')];
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) throw new InvalidInputError('no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
  return fromKubeconfigFiles(present, env.KUBECONFIG ? `$KUBECONFIG (${env.KUBECONFIG})` : '~/.kube/config');
}

/** The pod's service account: token re-read every minute (the kubelet rotates projected tokens). */
export function inCluster(env: NodeJS.ProcessEnv, dir: string, now: () => number = Date.now): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  let token = '';
  let readAt = -Infinity;
  return {
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    source: 'in-cluster service account',
    tls: { ca: readFileSync(join(dir, 'ca.crt')) },
    async headers() {
      if (now() - readAt > 60_000) {
        token = readFileSync(join(dir, 'token'), 'utf8').trim();
        readAt = now();
      }
      return { Authorization: `Bearer ${token}` };
    },
  };
}

interface NamedCluster { name: string; cluster?: Record<string, unknown> }
interface NamedUser { name: string; user?: Record<string, unknown> }
interface NamedContext { name: string; context?: { cluster?: string; user?: string } }
interface KubeconfigDoc {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: NamedContext[];
  'current-context'?: string;
}

/** Reads a kubeconfig we can serve ourselves; undefined when it needs client-node's machinery. */
export function parseKubeconfig(text: string, baseDir: string, source: string): ClusterAccess | undefined {
  const doc = parseYaml(text) as KubeconfigDoc | null;
  const contextName = doc?.['current-context'];
  const context = doc?.contexts?.find((c) => c.name === contextName)?.context;
  const cluster = doc?.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = doc?.users?.find((u) => u.name === context?.user)?.user ?? {};
  if (!context || !cluster || typeof cluster.server !== 'string') {
    throw new InvalidInputError(`${source}: no usable current context (current-context "${contextName ?? ''}" with a cluster server)`);
  }
  const unsupported = ['exec', 'auth-provider', 'as', 'as-groups', 'as-uid', 'username'].some((k) => user[k] !== undefined) || cluster['proxy-url'] !== undefined;
  if (unsupported) return undefined;
  const file = (value: unknown): Buffer | undefined => (typeof value === 'string' && value !== '' ? readFileSync(isAbsolute(value) ? value : join(baseDir, value)) : undefined);
  const data = (value: unknown): Buffer | undefined => (typeof value === 'string' && value !== '' ? Buffer.from(value, 'base64') : undefined);
  const tls: ClusterAccess['tls'] = {};
  const ca = data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']);
  if (ca) tls.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) tls.rejectUnauthorized = false;
  if (typeof cluster['tls-server-name'] === 'string') tls.servername = cluster['tls-server-name'];
  const cert = data(user['client-certificate-data']) ?? file(user['client-certificate']);
  const key = data(user['client-key-data']) ?? file(user['client-key']);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  const staticToken = typeof user.token === 'string' ? user.token : undefined;
  const tokenFile = typeof user.tokenFile === 'string' ? (isAbsolute(user.tokenFile) ? user.tokenFile : join(baseDir, user.tokenFile)) : undefined;
  return {
    server: cluster.server,
    source,
    tls,
    async headers(): Promise<Record<string, string>> {
      const token = tokenFile ? readFileSync(tokenFile, 'utf8').trim() : staticToken;
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
  };
}

async function fromKubeconfigFiles(files: string[], source: string): Promise<ClusterAccess> {
  if (files.length === 1) {
    const own = parseKubeconfig(readFileSync(files[0]!, 'utf8'), dirname(files[0]!), source);
    if (own) return own;
  }
  return viaClientNode(files, source);
}

/** Everything else, through @kubernetes/client-node (loaded only here). */
async function viaClientNode(files: string[], source: string): Promise<ClusterAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(files[0]!);
  for (const f of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(f);
    kc.mergeConfig(more);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new InvalidInputError(`${source}: no current cluster`);
  const probe: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string; headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(probe);
  const tls: ClusterAccess['tls'] = {};
  if (probe.ca) tls.ca = probe.ca;
  if (probe.cert) tls.cert = probe.cert;
  if (probe.key) tls.key = probe.key;
  if (probe.rejectUnauthorized !== undefined) tls.rejectUnauthorized = probe.rejectUnauthorized;
  if (probe.servername) tls.servername = probe.servername;
  return {
    server: cluster.server,
    source,
    tls,
    async headers() {
      // Exec plugins and auth providers cache and refresh their credentials themselves.
      const opts: { headers?: Record<string, string> } = {};
      await kc.applyToHTTPSOptions(opts);
      return Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k, String(v)]));
    },
  };
}
