// Credentials: kubeconfig forms read without client-node, the in-cluster service account with token
// rotation, and the hand-off of exec/auth-provider configs to client-node.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inCluster, loadClusterAccess, parseKubeconfig } from '../../../src/controller/kubeconfig.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority-data': b64('CA'), ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  });
}

describe('kubeconfig', () => {
  it('reads client certificates and the CA from data fields', async () => {
    const a = parseKubeconfig(kubeconfig({ 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }), '/', 'test')!;
    expect(a.server).toBe('https://10.0.0.1:6443');
    expect(a.tls.ca?.toString()).toBe('CA');
    expect(a.tls.cert?.toString()).toBe('CERT');
    expect(a.tls.key?.toString()).toBe('KEY');
    expect(await a.headers()).toEqual({});
  });

  it('reads files relative to the kubeconfig, a static token, and a token file on every request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    writeFileSync(join(dir, 'ca.pem'), 'FILE-CA');
    writeFileSync(join(dir, 'tok'), 'one\n');
    const a = parseKubeconfig(kubeconfig({ tokenFile: 'tok' }, { 'certificate-authority-data': undefined, 'certificate-authority': 'ca.pem', 'insecure-skip-tls-verify': true }), dir, 'test')!;
    expect(a.tls.ca?.toString()).toBe('FILE-CA');
    expect(a.tls.rejectUnauthorized).toBe(false);
    expect(await a.headers()).toEqual({ Authorization: 'Bearer one' });
    writeFileSync(join(dir, 'tok'), 'two');
    expect(await a.headers()).toEqual({ Authorization: 'Bearer two' });
    const s = parseKubeconfig(kubeconfig({ token: 'static' }), dir, 'test')!;
    expect(await s.headers()).toEqual({ Authorization: 'Bearer static' });
  });

  it('leaves exec plugins and auth providers to client-node', () => {
    expect(parseKubeconfig(kubeconfig({ exec: { command: 'aws', apiVersion: 'client.authentication.k8s.io/v1beta1' } }), '/', 't')).toBeUndefined();
    expect(parseKubeconfig(kubeconfig({ 'auth-provider': { name: 'oidc' } }), '/', 't')).toBeUndefined();
  });

  it('names the problem of a kubeconfig without a usable context', () => {
    expect(() => parseKubeconfig(JSON.stringify({ 'current-context': 'x', contexts: [] }), '/', 'my.yaml')).toThrow(/my\.yaml: no usable current context/);
  });

  it('in-cluster: service host and port, CA, token re-read at most once a minute', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sa-'));
    writeFileSync(join(dir, 'ca.crt'), 'SA-CA');
    writeFileSync(join(dir, 'token'), 't1');
    let now = 0;
    const a = inCluster({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir, () => now);
    expect(a.server).toBe('https://[fd00::1]:443');
    expect(a.tls.ca?.toString()).toBe('SA-CA');
    expect(await a.headers()).toEqual({ Authorization: 'Bearer t1' });
    writeFileSync(join(dir, 'token'), 't2');
    now = 30_000;
    expect(await a.headers()).toEqual({ Authorization: 'Bearer t1' });
    now = 61_000;
    expect(await a.headers()).toEqual({ Authorization: 'Bearer t2' });
  });

  it('--kubeconfig pointing nowhere is an input error', async () => {
    await expect(loadClusterAccess('/nonexistent/kubeconfig', {})).rejects.toThrow(/--kubeconfig: \/nonexistent\/kubeconfig does not exist/);
  });
});
