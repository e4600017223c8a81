// A second kube-apiserver of the test environment's cluster, for tests that change cluster-scoped API
// definitions (CRDs) that the other suites, running at the same time, must not see. It is the same
// binary with the same flags as the environment's (read from its process, scripts/env/components/kube.sh),
// on another port, with its own audit log and its own key prefix in the same etcd: a real API server
// with an empty cluster of its own. No kube-controller-manager runs for it (nothing runs pods).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { kubectl, type CommandResult } from './kubectl.js';
import { requireEnv } from './test-env.js';

export interface PrivateApiServer {
  /** A kubeconfig (the environment's admin credentials) that points at this server. */
  kubeconfig: string;
  /** This server's audit log (same policy as the environment's). */
  auditLog: string;
  /** kubectl against this server. */
  kubectl(args: readonly string[], input?: string): Promise<CommandResult>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The flags of the running kube-apiserver, with `overrides` replacing flags of the same name. */
function apiServerCommand(overrides: Record<string, string>): { binary: string; args: string[] } {
  const run = dirname(dirname(requireEnv('KUBE_CA_FILE')));
  const pid = readFileSync(join(run, 'kube-apiserver.pid'), 'utf8').trim();
  const binary = readlinkSync(`/proc/${pid}/exe`);
  const original = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '').slice(1);
  const args = original.filter((a) => !Object.keys(overrides).some((flag) => a.startsWith(`--${flag}=`)));
  for (const [flag, value] of Object.entries(overrides)) args.push(`--${flag}=${value}`);
  return { binary, args };
}

/** Deletes every etcd key under `prefix` (etcd's JSON gateway: keys are base64; range_end is the prefix + 1). */
async function deleteEtcdPrefix(prefix: string): Promise<void> {
  const key = Buffer.from(prefix);
  const end = Buffer.from(prefix);
  end[end.length - 1] = end[end.length - 1]! + 1;
  await fetch(`${requireEnv('KUBE_ETCD_URL')}/v3/kv/deleterange`, {
    method: 'POST',
    body: JSON.stringify({ key: key.toString('base64'), range_end: end.toString('base64') }),
  });
}

export async function startPrivateApiServer(name: string): Promise<PrivateApiServer> {
  const work = mkdtempSync(join(tmpdir(), `pywr-apiserver-${name}-`));
  const port = await freePort();
  const prefix = `/pywr-private-${name}-${process.pid}/`;
  const auditLog = join(work, 'audit.log');
  const { binary, args } = apiServerCommand({
    'secure-port': String(port),
    'etcd-prefix': prefix,
    'audit-log-path': auditLog,
    'cert-dir': join(work, 'certs'),
  });
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));

  const admin = readFileSync(requireEnv('KUBECONFIG'), 'utf8');
  const kubeconfig = join(work, 'kubeconfig');
  writeFileSync(kubeconfig, admin.replace(/server: *https:\/\/127\.0\.0\.1:\d+/g, `server: https://127.0.0.1:${port}`));
  const run = (a: readonly string[], input?: string): Promise<CommandResult> => kubectl(['--kubeconfig', kubeconfig, ...a], input, 5_000);

  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await deleteEtcdPrefix(prefix);
    rmSync(work, { recursive: true, force: true });
  };

  // Ready when /readyz says so (its post-start hooks create the default namespaces and RBAC roles).
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the private kube-apiserver exited (${child.exitCode}):\n${stderr}`);
    const r = await run(['get', '--raw', '/readyz']);
    if (r.code === 0 && r.stdout.trim() === 'ok') break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the private kube-apiserver on port ${port} was not ready within 120 s:\n${stderr}`);
    }
    await new Promise((r2) => setTimeout(r2, 500));
  }
  return { kubeconfig, auditLog, kubectl: run, stop };
}
