// kubectl and helm for tests against the real API server of the test environment (KUBECONFIG, KUBECTL,
// HELM from .test-env/env), retrying while the API server is briefly down (other suites restart it).

import { execFile } from 'node:child_process';
import { requireEnv } from './test-env.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

const UNREACHABLE = /connection refused|was refused|connection reset|EOF|i\/o timeout|TLS handshake timeout|ServiceUnavailable|the server is currently unable/i;

function exec(file: string, args: readonly string[], input: string | undefined, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, KUBECONFIG: requireEnv('KUBECONFIG') } }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`${file} ${args.join(' ')}: ${err.message}`));
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

/**
 * Runs a command, retrying for up to `retryForMs` while its stderr says the API server is unreachable.
 * Never throws on a non-zero exit: callers assert on code and output.
 */
async function withRetry(file: string, args: readonly string[], input: string | undefined, retryForMs: number): Promise<CommandResult> {
  const deadline = Date.now() + retryForMs;
  for (;;) {
    const result = await exec(file, args, input, 120_000);
    if (result.code === 0 || !UNREACHABLE.test(result.stderr) || Date.now() > deadline) return result;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export function kubectl(args: readonly string[], input?: string, retryForMs = 60_000): Promise<CommandResult> {
  return withRetry(requireEnv('KUBECTL'), args, input, retryForMs);
}

export function helm(args: readonly string[], input?: string, retryForMs = 60_000): Promise<CommandResult> {
  return withRetry(requireEnv('HELM'), args, input, retryForMs);
}

/** kubectl that must succeed: returns stdout, throws with stderr otherwise. */
export async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export async function helmOk(args: readonly string[], input?: string): Promise<string> {
  const r = await helm(args, input);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Polls `probe` until it returns a value, or fails with the last error after `timeoutMs`. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Applies the generated CRDs (server-side, idempotent) and waits until both are Established. */
export async function installCrds(dir: string): Promise<void> {
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager', 'pyworkflow-retention-tests', '-f', dir]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', '-f', dir]);
}

/** A namespace for one test file (created if missing); delete it with `deleteNamespace`. */
export async function createNamespace(name: string): Promise<void> {
  const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'pyworkflow-retention-test': 'true' } } });
  await kubectlOk(['apply', '-f', '-'], manifest);
}

export async function deleteNamespace(name: string): Promise<void> {
  await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
}
