// The StorageBackend -> run pod mapping of every backend (src/backends/*/pod.ts via runPodStorage):
// secrets only by reference, volumes and mounts, and a storage config that the sweep command accepts
// once the kubelet has filled the env vars.
import { describe, expect, it } from 'vitest';
import type { V1EnvVar } from '@kubernetes/client-node';
import type { StorageBackendSpec } from '../../../src/api/generated/types.js';
import { validateStorageBackendSpec } from '../../../src/api/validate.js';
import { loadStorageConfig } from '../../../src/config/storage-config.js';
import { runPodStorage } from '../../../src/backends/registry.js';
import { pathInDataVolume } from '../../../src/backends/run-pod.js';

/** Applies schema defaults the way the API server does. */
function spec(raw: unknown): StorageBackendSpec {
  const v = validateStorageBackendSpec(raw);
  if (!v.ok) throw new Error(v.errors.join('; '));
  return v.value;
}

/** What the kubelet would put in the env: a fake value per secretKeyRef. */
function fakeEnv(env: V1EnvVar[]): NodeJS.ProcessEnv {
  return Object.fromEntries(env.map((e) => [e.name, e.value ?? `value-of-${e.valueFrom?.secretKeyRef?.name}-${e.valueFrom?.secretKeyRef?.key}`]));
}

/** The --storage value as the run pod parses it. */
function asSweepSees(s: StorageBackendSpec): Record<string, unknown> {
  const pod = runPodStorage(s);
  return loadStorageConfig(JSON.stringify(pod.config), fakeEnv(pod.env)) as unknown as Record<string, unknown>;
}

describe('runPodStorage', () => {
  it('postgres with host and secrets: password only through a secretKeyRef env var', () => {
    const s = spec({
      type: 'postgres',
      postgres: { host: 'db.example', port: 5433, database: 'wf', user: 'sweeper', passwordSecretRef: { name: 'db', key: 'password' } },
    });
    const pod = runPodStorage(s);
    expect(pod.config).toEqual({
      type: 'postgres', host: 'db.example', port: 5433, database: 'wf', user: 'sweeper', password: '${PYWR_PASSWORD}',
      connect_timeout_ms: 10_000, statement_timeout_ms: 60_000,
    });
    expect(pod.env).toEqual([{ name: 'PYWR_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }]);
    expect(pod.volumes).toEqual([]);
    expect(JSON.stringify(pod)).not.toMatch(/value-of/);
    expect(asSweepSees(s)).toMatchObject({ password: 'value-of-db-password' });
  });

  it('postgres with a DSN secret and verify-full TLS: DSN by env, CA/cert/key as read-only secret files', () => {
    const s = spec({
      type: 'citus',
      citus: {
        dsnSecretRef: { name: 'dsn', key: 'url' },
        tls: { mode: 'verify-full', caSecretRef: { name: 'ca', key: 'ca.pem' }, clientCertSecretRef: { name: 'cl', key: 'crt' }, clientKeySecretRef: { name: 'cl', key: 'key' } },
      },
    });
    const pod = runPodStorage(s);
    expect(pod.config).toMatchObject({
      type: 'citus', dsn: '${PYWR_DSN}', sslmode: 'verify-full',
      ssl_ca_file: '/etc/pyworkflow-retention/secrets/tls-ca/ca.crt',
      ssl_cert_file: '/etc/pyworkflow-retention/secrets/tls-client-cert/tls.crt',
      ssl_key_file: '/etc/pyworkflow-retention/secrets/tls-client-key/tls.key',
    });
    expect(pod.volumes).toContainEqual({ name: 'tls-ca', secret: { secretName: 'ca', items: [{ key: 'ca.pem', path: 'ca.crt' }] } });
    expect(pod.volumeMounts.every((m) => m.readOnly === true)).toBe(true);
    expect(pod.env.map((e) => e.name)).toEqual(['PYWR_DSN']);
    expect(asSweepSees(s)).toMatchObject({ dsn: 'value-of-dsn-url' });
  });

  it('mysql: user from a Secret, TLS modes mapped to the driver switches', () => {
    const s = spec({ type: 'mysql', mysql: { host: 'm', userSecretRef: { name: 'u', key: 'user' }, passwordSecretRef: { name: 'u', key: 'pw' }, tls: { mode: 'require' } } });
    const pod = runPodStorage(s);
    expect(pod.config).toMatchObject({ type: 'mysql', host: 'm', user: '${PYWR_USER}', password: '${PYWR_PASSWORD}', ssl_reject_unauthorized: false });
    expect(asSweepSees(s)).toMatchObject({ user: 'value-of-u-user' });
    const off = runPodStorage(spec({ type: 'mysql', mysql: { host: 'm', tls: { mode: 'disable' } } }));
    expect(off.config).not.toHaveProperty('ssl_reject_unauthorized');
    const verify = runPodStorage(spec({ type: 'mysql', mysql: { host: 'm', tls: { mode: 'verify-ca', caSecretRef: { name: 'ca', key: 'c' } } } }));
    expect(verify.config).toMatchObject({ ssl_reject_unauthorized: true, ssl_ca_file: '/etc/pyworkflow-retention/secrets/tls-ca/ca.crt' });
  });

  it('sqlite: the claim mounted at /data, base_path the file inside it', () => {
    const s = spec({ type: 'sqlite', sqlite: { volume: 'wf-data', path: 'state/pyworkflow.db' } });
    const pod = runPodStorage(s);
    expect(pod.config).toEqual({ type: 'sqlite', base_path: '/data/state/pyworkflow.db' });
    expect(pod.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'wf-data' } }]);
    expect(pod.volumeMounts).toEqual([{ name: 'data', mountPath: '/data' }]);
    expect(pod.env).toEqual([]);
    expect(asSweepSees(s)).toEqual({ type: 'sqlite', base_path: '/data/state/pyworkflow.db' });
  });

  it('file: the data directory inside the claim (default: its root)', () => {
    expect(runPodStorage(spec({ type: 'file', file: { volume: 'wf' } })).config).toEqual({ type: 'file', base_path: '/data' });
    expect(runPodStorage(spec({ type: 'file', file: { volume: 'wf', basePath: 'pyworkflow_data/' } })).config).toEqual({ type: 'file', base_path: '/data/pyworkflow_data' });
  });

  it('cassandra: credentials by env, consistency and data center passed on', () => {
    const s = spec({
      type: 'cassandra',
      cassandra: {
        contactPoints: ['c1', 'c2'], localDataCenter: 'dc1',
        usernameSecretRef: { name: 'cas', key: 'user' }, passwordSecretRef: { name: 'cas', key: 'pw' },
        tls: { caSecretRef: { name: 'ca', key: 'ca.crt' } },
      },
    });
    const pod = runPodStorage(s);
    expect(pod.config).toEqual({
      type: 'cassandra', contact_points: ['c1', 'c2'], port: 9042, keyspace: 'pyworkflow', local_data_center: 'dc1',
      read_consistency: 'LOCAL_QUORUM', write_consistency: 'LOCAL_QUORUM', username: '${PYWR_USERNAME}', password: '${PYWR_PASSWORD}',
      ssl: true, ssl_ca_file: '/etc/pyworkflow-retention/secrets/tls-ca/ca.crt',
    });
    expect(pod.env.map((e) => e.valueFrom?.secretKeyRef?.key)).toEqual(['user', 'pw']);
  });

  it("dynamodb: static credentials as the AWS SDK's env vars, or none for the pod's cloud identity", () => {
    const s = spec({ type: 'dynamodb', dynamodb: { region: 'eu-west-1', endpoint: 'http://ddb:8000', credentialsSecretRef: { name: 'aws', sessionTokenKey: 'tok' } } });
    const pod = runPodStorage(s);
    expect(pod.config).toEqual({ type: 'dynamodb', table_name: 'pyworkflow', region: 'eu-west-1', endpoint_url: 'http://ddb:8000' });
    expect(pod.env).toEqual([
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'aws', key: 'AWS_ACCESS_KEY_ID' } } },
      { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'aws', key: 'AWS_SECRET_ACCESS_KEY' } } },
      { name: 'AWS_SESSION_TOKEN', valueFrom: { secretKeyRef: { name: 'aws', key: 'tok' } } },
    ]);
    expect(runPodStorage(spec({ type: 'dynamodb', dynamodb: { region: 'eu-west-1' } })).env).toEqual([]);
    expect(asSweepSees(s)).toMatchObject({ type: 'dynamodb', region: 'eu-west-1' });
  });

  it('refuses a spec without the block its type names', () => {
    expect(() => runPodStorage({ type: 'sqlite' })).toThrow(/spec\.sqlite is required/);
  });

  it('never lets a data path leave the volume', () => {
    expect(pathInDataVolume('.')).toBe('/data');
    expect(pathInDataVolume('a/./b/')).toBe('/data/a/b');
    expect(() => pathInDataVolume('../etc/passwd')).toThrow(/leaves the data volume/);
  });
});
