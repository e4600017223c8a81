// Runtime validation from the schema source: every example is valid, every invalid case the API server
// rejects is rejected here too and names the same field, and defaults are applied like admission does.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_GROUP_VERSION } from '../../../src/api/common.js';
import { isValidSchedule, isValidTimeZoneName, scheduleAsFiveFields } from '../../../src/api/schedule.js';
import {
  validateRetentionPolicy,
  validateRetentionPolicySpec,
  validateStorageBackend,
  validateStorageBackendSpec,
  type Validated,
} from '../../../src/api/validate.js';
import { INVALID_CASES, manifestOf, VALID_JOB_TEMPLATE, VALID_SPECS, VALID_TIME_ZONES } from '../../support/api-cases.js';
import { IMAGE_REFERENCE, quantityValue, timeZoneExists } from '../../../src/api/core-rules.js';
import { readRetentionPolicy, readStorageBackend } from '../../../src/api/validate.js';
import { REPO_ROOT } from '../../support/test-env.js';

function exampleDocuments(): { file: string; doc: Record<string, unknown> }[] {
  const out: { file: string; doc: Record<string, unknown> }[] = [];
  for (const dir of ['storagebackends', 'retentionpolicies']) {
    for (const file of readdirSync(join(REPO_ROOT, 'examples', dir))) {
      const text = readFileSync(join(REPO_ROOT, 'examples', dir, file), 'utf8');
      for (const d of parseAllDocuments(text)) out.push({ file: `${dir}/${file}`, doc: d.toJS() as Record<string, unknown> });
    }
  }
  return out;
}

function validate(doc: Record<string, unknown>): Validated<unknown> {
  return doc.kind === 'StorageBackend' ? validateStorageBackend(doc) : validateRetentionPolicy(doc);
}

describe('examples', () => {
  const docs = exampleDocuments().filter(({ doc }) => doc.apiVersion === API_GROUP_VERSION);

  it('cover every storage type and several policies', () => {
    const types = docs.filter(({ doc }) => doc.kind === 'StorageBackend').map(({ doc }) => (doc.spec as { type: string }).type);
    expect(new Set(types)).toEqual(new Set(['postgres', 'citus', 'mysql', 'sqlite', 'file', 'cassandra', 'dynamodb']));
    expect(docs.filter(({ doc }) => doc.kind === 'RetentionPolicy').length).toBeGreaterThanOrEqual(5);
  });

  it.each(docs.map(({ file, doc }) => [`${file} ${String((doc.metadata as { name: string }).name)}`, doc] as const))(
    '%s is valid',
    (_name, doc) => {
      const result = validate(doc);
      expect(result.ok ? [] : result.errors).toEqual([]);
    },
  );
});

describe('invalid manifests', () => {
  it.each(INVALID_CASES.map((c) => [c.name, c] as const))('%s is rejected naming its field', (_name, c) => {
    const result = validate(manifestOf(c, 'default'));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toContain(c.field);
  });
});

describe('validateRetentionPolicy', () => {
  const policy = {
    apiVersion: API_GROUP_VERSION,
    kind: 'RetentionPolicy',
    metadata: { name: 'p', namespace: 'default' },
    spec: { retentionDays: 30, backendRef: { name: 'pg' } },
  };

  it('applies the schema defaults to a copy and leaves the input untouched', () => {
    const input = structuredClone(policy);
    const result = validateRetentionPolicy(input);
    expect(input).toEqual(policy);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.spec).toEqual({
      retentionDays: 30,
      backendRef: { name: 'pg' },
      schedule: '@daily',
      suspend: false,
      dryRun: false,
      statuses: ['completed', 'failed', 'cancelled', 'continued_as_new', 'interrupted'],
      housekeeping: true,
      orphans: false,
      activeDeadlineSeconds: 3600,
      backoffLimit: 0,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
  });

  it('rejects another kind or API version', () => {
    const result = validateRetentionPolicy({ ...policy, apiVersion: 'retention.pyworkflow.io/v1', kind: 'StorageBackend' });
    expect(result).toEqual({
      ok: false,
      errors: ['apiVersion: must be retention.pyworkflow.io/v1alpha1', 'kind: must be RetentionPolicy'],
    });
  });

  it('validates a status as the controller writes it', () => {
    const deleted = { runs: 2, events: 9, steps: 4, hooks: 0, cancellationFlags: 0, checkpoints: 1, streamRecords: 0, schedules: 0 };
    const status = {
      observedGeneration: 3,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'CronJobReady', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 3 },
      ],
      cronJobName: 'p-retention',
      lastRun: { jobName: 'p-retention-29000000', jobUID: 'u1', outcome: 'Succeeded', dryRun: false, cutoff: '2025-12-02T00:00:00Z', deleted },
      totals: { ...deleted, runsSucceeded: 1, runsFailed: 0 },
      history: [{ jobName: 'p-retention-29000000', outcome: 'Succeeded', deleted }],
    };
    expect(validateRetentionPolicy({ ...policy, status }).ok).toBe(true);
    const duplicated = { ...status, conditions: [...status.conditions, ...status.conditions] };
    const result = validateRetentionPolicy({ ...policy, status: duplicated });
    expect(result.ok ? [] : result.errors).toEqual(['status.conditions[1]: duplicate value ["Ready"]']);
    const badTime = validateRetentionPolicy({ ...policy, status: { ...status, lastScheduleTime: 'yesterday' } });
    expect(badTime.ok ? [] : badTime.errors).toEqual(['status.lastScheduleTime: must match format "date-time"']);
  });

  it('validates a bare spec', () => {
    expect(validateRetentionPolicySpec({ retentionDays: 1, backendRef: { name: 'x' } }).ok).toBe(true);
    const result = validateRetentionPolicySpec({ retentionDays: 0, backendRef: { name: 'x' } });
    expect(result.ok ? [] : result.errors).toEqual(['retentionDays: must be >= 1']);
  });
});

describe('validateStorageBackend', () => {
  it('refuses the memory store with a message that says why', () => {
    const result = validateStorageBackendSpec({ type: 'memory' });
    expect(result.ok ? [] : result.errors).toEqual([
      'type: memory is not supported: that store lives inside each pyworkflow process and cannot be swept from outside',
    ]);
  });

  it('applies nested defaults only where the block exists, as the API server does', () => {
    const result = validateStorageBackendSpec({ type: 'dynamodb', dynamodb: { region: 'eu-west-1', credentialsSecretRef: { name: 'aws' } } });
    expect(result.ok && result.value.dynamodb).toEqual({
      region: 'eu-west-1',
      tableName: 'pyworkflow',
      credentialsSecretRef: { name: 'aws', accessKeyIdKey: 'AWS_ACCESS_KEY_ID', secretAccessKeyKey: 'AWS_SECRET_ACCESS_KEY' },
    });
  });

  it('accepts a sqlite path inside the volume and file basePath at its root', () => {
    expect(validateStorageBackendSpec({ type: 'sqlite', sqlite: { volume: 'v', path: 'a/..b/c..d/pyworkflow.db' } }).ok).toBe(true);
    for (const basePath of ['', '.', './data', 'data/sub']) {
      expect(validateStorageBackendSpec({ type: 'file', file: { volume: 'v', basePath } }).ok, basePath).toBe(true);
    }
  });
});

describe('schedule syntax', () => {
  const valid = [
    '@hourly', '@daily', '@midnight', '@weekly', '@monthly', '@yearly', '@annually',
    '* * * * *', '0 0 * * *', '30 2 * * *', '*/15 * * * *', '0 */6 * * *', '5,35 1-5 * * *', '0 3 1 * *',
    '0 3 * * MON-FRI', '0 3 * * mon,wed,fri', '0 0 1 JAN,jul *', '59 23 31 12 6', '0 0 ? * 0', '0 0 1-15/2 * *', '00 09 * * 1',
  ];
  const invalid = [
    '', 'every day', '@every 1h', '@reboot', '* * * *', '0 0 * * * *', '99 * * * *', '0 24 * * *', '0 0 32 * *', '0 0 0 * *',
    '0 0 * 13 *', '0 0 * * 7', '*/0 * * * *', '0 0 * * MONDAY', ' 0 0 * * *', '0  0 * * *', '0 0 * * *\n', 'TZ=UTC 0 0 * * *', '? * * * *',
  ];

  it.each(valid)('accepts %j, which cron-parser also parses (macros expanded)', (s) => {
    expect(isValidSchedule(s)).toBe(true);
    expect(() => CronExpressionParser.parse(scheduleAsFiveFields(s))).not.toThrow();
  });

  it.each(invalid)('rejects %j', (s) => {
    expect(isValidSchedule(s)).toBe(false);
  });

  it('accepts IANA zone names and rejects prose', () => {
    for (const z of ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'America/Port-au-Prince', 'Etc/GMT+5', 'EST5EDT']) {
      expect(isValidTimeZoneName(z), z).toBe(true);
    }
    for (const z of ['', 'Central European Time', 'UTC;reboot', '/etc/localtime', 'Europe//Berlin', '+01:00']) {
      expect(isValidTimeZoneName(z), z).toBe(false);
    }
  });
});

describe('the pod template rules (issue 10, finding 6)', () => {
  const manifest = (spec: Record<string, unknown>) => manifestOf({ name: 'p', kind: 'RetentionPolicy', spec, field: '', server: [] }, 'default');

  it('accept a jobTemplate that uses every field (affinity, tolerations, resources, labels, annotations)', () => {
    const result = validateRetentionPolicy(manifest({ ...VALID_SPECS.RetentionPolicy, jobTemplate: VALID_JOB_TEMPLATE }));
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it.each(VALID_TIME_ZONES)('accept the time zone %s', (timeZone) => {
    const result = validateRetentionPolicy(manifest({ ...VALID_SPECS.RetentionPolicy, timeZone }));
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it('know time zones that exist, in their exact spelling', () => {
    expect(['UTC', 'Europe/Berlin', 'Asia/Kolkata', 'US/Pacific', 'Etc/GMT-14'].filter((z) => !timeZoneExists(z))).toEqual([]);
    expect(['Mars/Olympus_Mons', 'Europe/Atlantis', 'europe/berlin', 'Local', 'local', 'Etc/GMT+15'].filter(timeZoneExists)).toEqual([]);
  });

  it('accept image references the kubelet accepts, and refuse those it cannot parse', () => {
    const valid = [
      'postgres', 'postgres:16', 'docker.io/library/postgres:16.1-alpine', 'ghcr.io/org/repo/sub:v1.2.3', 'localhost:5000/x',
      'localhost:5000', 'Registry.Example.COM/app', 'Upper/app', '[::1]:5000/app:1', 'quay.io/a__b/c-d.e:latest', 'a---b/c',
      `registry.example:5000/team/app@sha256:${'0'.repeat(64)}`, `app:tag@sha256:${'f'.repeat(64)}`, '10.0.0.1:5000/app:Tag_1',
    ];
    const invalid = ['app:tag with space', ' app', 'registry.example/App', 'app/Sub', 'Ubuntu', 'app:', ':tag', 'app//x', 'app@sha256:short', 'app:-tag', '-app', 'app_', 'http://registry/app'];
    const accepts = (image: string): boolean => new RegExp(IMAGE_REFERENCE, 'u').test(image);
    expect(valid.filter((i) => !accepts(i))).toEqual([]);
    expect(invalid.filter(accepts)).toEqual([]);
  });

  it('read quantities as the pod API does, to compare requests with limits', () => {
    expect(quantityValue('500m')).toBe(0.5);
    expect(quantityValue('1Gi')).toBe(2 ** 30);
    expect(quantityValue('0.5Gi')).toBe(2 ** 29);
    expect(quantityValue('1e3')).toBe(1000);
    expect(quantityValue('+2k')).toBe(2000);
    expect(quantityValue(3)).toBe(3);
    expect(quantityValue('512Mi') < quantityValue('1Gi')).toBe(true);
    expect(quantityValue('1G') < quantityValue('1Gi')).toBe(true);
    expect(quantityValue('-1')).toBeNaN();
  });
});

describe('reading objects as the controller does (issue 10, finding 1)', () => {
  const base = { apiVersion: API_GROUP_VERSION, metadata: { name: 'x', namespace: 'default', generation: 4 } };

  it('prunes unknown spec fields, applies defaults, and passes the status through unjudged', () => {
    const status = { observedGeneration: 'not a number', fromNewerController: { any: 'thing' } };
    const result = readRetentionPolicy({ ...base, kind: 'RetentionPolicy', spec: { ...VALID_SPECS.RetentionPolicy, parallelism: 2, jobTemplate: { runtimeClassName: 'x' } }, status });
    expect(result.ok ? [] : result.errors).toEqual([]);
    if (!result.ok) return;
    expect(result.value.spec).not.toHaveProperty('parallelism');
    expect(result.value.spec.jobTemplate).toEqual({});
    expect(result.value.spec.schedule).toBe('@daily');
    expect(result.value.status).toEqual(status);
    expect(result.value.metadata).toEqual(base.metadata);
    // The strict validator (a manifest a user submits) still refuses the unknown field.
    expect(validateRetentionPolicy({ ...base, kind: 'RetentionPolicy', spec: { ...VALID_SPECS.RetentionPolicy, parallelism: 2 } }).ok).toBe(false);
  });

  it('still refuses a spec that breaks a rule, naming the field', () => {
    const result = readStorageBackend({ ...base, kind: 'StorageBackend', spec: { type: 'postgres', postgres: { host: 'pg', port: 0, sslRootCert: 'new' } } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors).toEqual(['spec.postgres.port: must be >= 1']);
  });

  it('refuses another kind and the memory store', () => {
    expect(readStorageBackend({ ...base, kind: 'RetentionPolicy', spec: {} }).ok).toBe(false);
    const memory = readStorageBackend({ ...base, kind: 'StorageBackend', spec: { type: 'memory' } });
    expect(memory.ok ? [] : memory.errors).toEqual([expect.stringContaining('spec.type: memory is not supported')]);
  });
});
