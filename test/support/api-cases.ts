// Invalid StorageBackend and RetentionPolicy manifests, each with what the rejection must say. Shared by
// the runtime-validator unit test and the admission test against the real API server, so both agree.

import { API_GROUP_VERSION } from '../../src/api/common.js';

export interface InvalidCase {
  name: string;
  kind: 'StorageBackend' | 'RetentionPolicy';
  spec: Record<string, unknown>;
  /** The field the rejection must name (both the API server's message and the runtime validator's). */
  field: string;
  /** Further text the API server's message must contain. */
  server: string[];
}

const RP = { retentionDays: 30, backendRef: { name: 'pg' } };
const PG = { host: 'postgres.db.svc', passwordSecretRef: { name: 'pg', key: 'password' } };
const SB = { type: 'postgres', postgres: PG };
const TERMINAL_ONLY = 'only terminal statuses may be purged';
const CRON = 'must be a 5-field cron expression';
const QUALIFIED = 'qualified name';
const NODE_TERM = 'spec.jobTemplate.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]';

function nodeAffinity(matchExpressions: unknown[]): Record<string, unknown> {
  return { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions }] } } };
}

function rp(name: string, spec: Record<string, unknown>, field: string, ...server: string[]): InvalidCase {
  return { name, kind: 'RetentionPolicy', spec, field, server };
}

function sb(name: string, spec: Record<string, unknown>, field: string, ...server: string[]): InvalidCase {
  return { name, kind: 'StorageBackend', spec, field, server };
}

function without<T extends Record<string, unknown>>(obj: T, key: keyof T): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = obj;
  return rest;
}

export const INVALID_CASES: readonly InvalidCase[] = [
  // RetentionPolicy: retentionDays
  rp('retention-days-zero', { ...RP, retentionDays: 0 }, 'spec.retentionDays', 'greater than or equal to 1'),
  rp('retention-days-negative', { ...RP, retentionDays: -5 }, 'spec.retentionDays', 'greater than or equal to 1'),
  rp('retention-days-fraction', { ...RP, retentionDays: 1.5 }, 'spec.retentionDays', 'must be of type integer'),
  rp('retention-days-string', { ...RP, retentionDays: '30' }, 'spec.retentionDays', 'must be of type integer', 'string'),
  rp('retention-days-missing', without(RP, 'retentionDays'), 'spec.retentionDays', 'Required value'),
  rp('retention-days-too-big', { ...RP, retentionDays: 36501 }, 'spec.retentionDays', 'less than or equal to 36500'),
  // statuses
  rp('statuses-running', { ...RP, statuses: ['running'] }, 'spec.statuses[0]', TERMINAL_ONLY),
  rp('statuses-pending', { ...RP, statuses: ['completed', 'pending'] }, 'spec.statuses[1]', TERMINAL_ONLY),
  rp('statuses-suspended', { ...RP, statuses: ['suspended'] }, 'spec.statuses[0]', TERMINAL_ONLY),
  rp('statuses-unknown', { ...RP, statuses: ['done'] }, 'spec.statuses[0]', TERMINAL_ONLY),
  rp('statuses-duplicate', { ...RP, statuses: ['failed', 'failed'] }, 'spec.statuses[1]', 'Duplicate value'),
  rp('statuses-empty', { ...RP, statuses: [] }, 'spec.statuses', 'at least 1 items'),
  // schedule and time zone
  rp('schedule-words', { ...RP, schedule: 'every day' }, 'spec.schedule', CRON),
  rp('schedule-six-fields', { ...RP, schedule: '0 0 * * * *' }, 'spec.schedule', CRON),
  rp('schedule-minute-99', { ...RP, schedule: '99 * * * *' }, 'spec.schedule', CRON),
  rp('schedule-hour-24', { ...RP, schedule: '0 24 * * *' }, 'spec.schedule', CRON),
  rp('schedule-every', { ...RP, schedule: '@every 1h' }, 'spec.schedule', CRON),
  rp('schedule-empty', { ...RP, schedule: '' }, 'spec.schedule', CRON),
  rp('schedule-step-zero', { ...RP, schedule: '*/0 * * * *' }, 'spec.schedule', CRON),
  rp('time-zone-spaces', { ...RP, timeZone: 'Central European Time' }, 'spec.timeZone', 'IANA time zone'),
  rp('time-zone-shell', { ...RP, timeZone: 'UTC;reboot' }, 'spec.timeZone', 'IANA time zone'),
  // backendRef
  rp('backend-ref-missing', without(RP, 'backendRef'), 'spec.backendRef', 'Required value'),
  rp('backend-ref-bad-name', { ...RP, backendRef: { name: 'Postgres_Main' } }, 'spec.backendRef.name', 'should match'),
  // bounds
  rp('batch-size-zero', { ...RP, batchSize: 0 }, 'spec.batchSize', 'greater than or equal to 1'),
  rp('batch-size-too-big', { ...RP, batchSize: 10001 }, 'spec.batchSize', 'less than or equal to 10000'),
  rp('deadline-too-short', { ...RP, activeDeadlineSeconds: 30 }, 'spec.activeDeadlineSeconds', 'greater than or equal to 60'),
  rp('deadline-too-long', { ...RP, activeDeadlineSeconds: 100000 }, 'spec.activeDeadlineSeconds', 'less than or equal to 86400'),
  rp('backoff-limit-too-big', { ...RP, backoffLimit: 7 }, 'spec.backoffLimit', 'less than or equal to 6'),
  rp('history-limit-too-big', { ...RP, successfulJobsHistoryLimit: 21 }, 'spec.successfulJobsHistoryLimit', 'less than or equal to 20'),
  rp('dry-run-string', { ...RP, dryRun: 'yes' }, 'spec.dryRun', 'must be of type boolean'),
  rp('unknown-field-typo', { ...RP, retentiondays: 30 }, 'spec.retentiondays', 'unknown field'),
  // jobTemplate
  rp('job-template-reserved-label', { ...RP, jobTemplate: { podLabels: { 'retention.pyworkflow.io/policy': 'x' } } }, 'spec.jobTemplate.podLabels', 'set by the operator'),
  rp('job-template-bad-quantity', { ...RP, jobTemplate: { resources: { limits: { memory: 'lots' } } } }, 'spec.jobTemplate.resources.limits', 'should match'),
  rp('job-template-bad-operator', { ...RP, jobTemplate: { tolerations: [{ key: 'a', operator: 'Maybe' }] } }, 'spec.jobTemplate.tolerations[0].operator', 'Unsupported value'),
  rp('job-template-root-user', { ...RP, jobTemplate: { securityContext: { runAsUser: 0 } } }, 'spec.jobTemplate.securityContext.runAsUser', 'greater than or equal to 1'),
  rp('job-template-bad-service-account', { ...RP, jobTemplate: { serviceAccountName: 'Not_Valid' } }, 'spec.jobTemplate.serviceAccountName', 'should match'),
  // What passed admission before and the API server then refused in the CronJob (issue 10, finding 6).
  rp('time-zone-nonexistent', { ...RP, timeZone: 'Mars/Olympus_Mons' }, 'spec.timeZone', 'unknown time zone Mars/Olympus_Mons', 'IANA time zone database'),
  rp('time-zone-wrong-case', { ...RP, timeZone: 'europe/berlin' }, 'spec.timeZone', 'unknown time zone europe/berlin'),
  rp('time-zone-local', { ...RP, timeZone: 'Local' }, 'spec.timeZone', 'not Local'),
  rp('pod-label-key-invalid', { ...RP, jobTemplate: { podLabels: { 'team name': 'a' } } }, 'spec.jobTemplate.podLabels', QUALIFIED),
  rp('pod-label-key-prefix-invalid', { ...RP, jobTemplate: { podLabels: { 'Example.COM/team': 'a' } } }, 'spec.jobTemplate.podLabels', QUALIFIED),
  rp('pod-label-key-name-too-long', { ...RP, jobTemplate: { podLabels: { [`example.com/${'n'.repeat(64)}`]: 'a' } } }, 'spec.jobTemplate.podLabels', QUALIFIED),
  rp('pod-label-value-invalid', { ...RP, jobTemplate: { podLabels: { team: 'a team' } } }, 'spec.jobTemplate.podLabels', 'should match'),
  rp('pod-label-value-too-long', { ...RP, jobTemplate: { podLabels: { team: 'a'.repeat(64) } } }, 'spec.jobTemplate.podLabels', 'Too long'),
  rp('pod-annotation-key-invalid', { ...RP, jobTemplate: { podAnnotations: { 'not/a/key': 'x' } } }, 'spec.jobTemplate.podAnnotations', QUALIFIED),
  rp('node-selector-key-invalid', { ...RP, jobTemplate: { nodeSelector: { '-zone': 'a' } } }, 'spec.jobTemplate.nodeSelector', QUALIFIED),
  rp('node-selector-value-invalid', { ...RP, jobTemplate: { nodeSelector: { zone: 'eu west' } } }, 'spec.jobTemplate.nodeSelector', 'should match'),
  rp('toleration-key-invalid', { ...RP, jobTemplate: { tolerations: [{ key: 'bad key', operator: 'Exists' }] } }, 'spec.jobTemplate.tolerations[0].key', QUALIFIED),
  rp('toleration-exists-with-value', { ...RP, jobTemplate: { tolerations: [{ key: 'a', operator: 'Exists', value: 'x' }] } }, 'spec.jobTemplate.tolerations[0].value', 'must be empty when operator is Exists'),
  rp('toleration-empty-key-equal', { ...RP, jobTemplate: { tolerations: [{ operator: 'Equal', value: 'x' }] } }, 'spec.jobTemplate.tolerations[0].operator', 'must be Exists when key is empty'),
  rp('toleration-seconds-without-no-execute', { ...RP, jobTemplate: { tolerations: [{ key: 'a', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 60 }] } }, 'spec.jobTemplate.tolerations[0].effect', 'NoExecute'),
  rp('toleration-value-invalid', { ...RP, jobTemplate: { tolerations: [{ key: 'a', value: 'two words' }] } }, 'spec.jobTemplate.tolerations[0].value', 'should match'),
  rp('resources-negative', { ...RP, jobTemplate: { resources: { requests: { cpu: '-100m' } } } }, 'spec.jobTemplate.resources.requests', 'should match'),
  rp('resources-negative-integer', { ...RP, jobTemplate: { resources: { limits: { cpu: -1 } } } }, 'spec.jobTemplate.resources.limits', 'must not be negative'),
  rp('resources-unknown-name', { ...RP, jobTemplate: { resources: { limits: { cpus: '1' } } } }, 'spec.jobTemplate.resources.limits', 'resource names must be cpu, memory, ephemeral-storage'),
  rp('resources-request-above-limit', { ...RP, jobTemplate: { resources: { requests: { memory: '1Gi' }, limits: { memory: '512Mi' } } } }, 'spec.jobTemplate.resources.requests', 'less than or equal to the limit'),
  rp('image-uppercase-repository', { ...RP, jobTemplate: { image: 'registry.example/Team/run:1' } }, 'spec.jobTemplate.image', 'should match'),
  rp('image-short-digest', { ...RP, jobTemplate: { image: 'registry.example/run@sha256:abc' } }, 'spec.jobTemplate.image', 'should match'),
  rp('image-empty-tag', { ...RP, jobTemplate: { image: 'registry.example/run:' } }, 'spec.jobTemplate.image', 'should match'),
  rp('image-with-space', { ...RP, jobTemplate: { image: 'registry.example/run:1.0 ' } }, 'spec.jobTemplate.image', 'should match'),
  rp('affinity-free-form', { ...RP, jobTemplate: { affinity: { nodeAffinity: { required: true } } } }, 'spec.jobTemplate.affinity.nodeAffinity.required', 'unknown field'),
  rp('affinity-bad-operator', { ...RP, jobTemplate: { affinity: nodeAffinity([{ key: 'zone', operator: 'Near', values: ['a'] }]) } }, `${NODE_TERM}.operator`, 'Unsupported value'),
  rp('affinity-in-without-values', { ...RP, jobTemplate: { affinity: nodeAffinity([{ key: 'zone', operator: 'In' }]) } }, `${NODE_TERM}.values`, 'values must be set when operator is In or NotIn'),
  rp('affinity-exists-with-values', { ...RP, jobTemplate: { affinity: nodeAffinity([{ key: 'zone', operator: 'Exists', values: ['a'] }]) } }, `${NODE_TERM}.values`, 'values must be empty'),
  rp('affinity-gt-not-integer', { ...RP, jobTemplate: { affinity: nodeAffinity([{ key: 'cores', operator: 'Gt', values: ['many'] }]) } }, `${NODE_TERM}.values`, 'single integer'),
  rp('affinity-node-value-invalid', { ...RP, jobTemplate: { affinity: nodeAffinity([{ key: 'zone', operator: 'In', values: ['eu west'] }]) } }, `${NODE_TERM}.values[0]`, 'should match'),
  rp('pod-annotation-value-too-long', { ...RP, jobTemplate: { podAnnotations: { note: 'x'.repeat(3073) } } }, 'spec.jobTemplate.podAnnotations', 'Too long'),
  rp('affinity-bad-key', { ...RP, jobTemplate: { affinity: nodeAffinity([{ key: 'a b', operator: 'Exists' }]) } }, `${NODE_TERM}.key`, QUALIFIED),
  rp('affinity-no-node-terms', { ...RP, jobTemplate: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } } } }, 'spec.jobTemplate.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms', 'at least 1 items'),
  rp('affinity-pod-term-without-topology-key', { ...RP, jobTemplate: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } } }] } } } }, 'spec.jobTemplate.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey', 'Required value'),
  rp('affinity-weight-zero', { ...RP, jobTemplate: { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname' } }] } } } }, 'spec.jobTemplate.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight', 'greater than or equal to 1'),
  rp('affinity-selector-label-value-invalid', { ...RP, jobTemplate: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'my db' } } }] } } } }, 'spec.jobTemplate.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels', 'should match'),

  // StorageBackend: type and blocks
  sb('type-memory', { type: 'memory' }, 'spec.type', 'Unsupported value: "memory"'),
  sb('type-unknown', { type: 'redis', postgres: PG }, 'spec.type', 'Unsupported value: "redis"'),
  sb('type-missing', { postgres: PG }, 'spec.type', 'Required value'),
  sb('block-missing', { type: 'postgres' }, 'spec', 'spec.postgres is required when spec.type is postgres'),
  sb('block-wrong', { type: 'postgres', mysql: PG }, 'spec', 'spec.postgres is required when spec.type is postgres', 'only the spec.postgres block may be set'),
  sb('block-two', { type: 'sqlite', sqlite: { volume: 'data', path: 'db.sqlite' }, file: { volume: 'data' } }, 'spec', 'only the spec.sqlite block may be set when spec.type is sqlite'),
  // SQL connection
  sb('sql-dsn-and-host', { type: 'postgres', postgres: { ...PG, dsnSecretRef: { name: 'pg', key: 'dsn' } } }, 'spec.postgres', 'set exactly one of dsnSecretRef or host'),
  sb('sql-neither-dsn-nor-host', { type: 'citus', citus: { database: 'pyworkflow' } }, 'spec.citus', 'set exactly one of dsnSecretRef or host'),
  sb('sql-dsn-with-password', { type: 'postgres', postgres: { dsnSecretRef: { name: 'pg', key: 'dsn' }, passwordSecretRef: { name: 'pg', key: 'password' } } }, 'spec.postgres', 'part of the DSN'),
  sb('sql-secret-ref-without-key', { type: 'postgres', postgres: { host: 'pg', passwordSecretRef: { name: 'pg' } } }, 'spec.postgres.passwordSecretRef.key', 'Required value'),
  sb('sql-secret-ref-bad-name', { type: 'postgres', postgres: { host: 'pg', passwordSecretRef: { name: 'My_Secret', key: 'password' } } }, 'spec.postgres.passwordSecretRef.name', 'should match'),
  sb('sql-inline-password', { type: 'postgres', postgres: { ...PG, password: 'hunter2' } }, 'spec.postgres.password', 'unknown field'),
  sb('sql-user-and-user-secret', { type: 'mysql', mysql: { ...PG, user: 'a', userSecretRef: { name: 'm', key: 'user' } } }, 'spec.mysql', 'set user or userSecretRef, not both'),
  sb('sql-port-out-of-range', { type: 'mysql', mysql: { ...PG, port: 70000 } }, 'spec.mysql.port', 'less than or equal to 65535'),
  sb('sql-tls-verify-without-ca', { type: 'postgres', postgres: { ...PG, tls: { mode: 'verify-full' } } }, 'spec.postgres.tls', 'caSecretRef is required'),
  sb('sql-tls-cert-without-key', { type: 'postgres', postgres: { ...PG, tls: { clientCertSecretRef: { name: 'c', key: 'tls.crt' } } } }, 'spec.postgres.tls', 'must be set together'),
  sb('sql-tls-bad-mode', { type: 'postgres', postgres: { ...PG, tls: { mode: 'always' } } }, 'spec.postgres.tls.mode', 'Unsupported value'),
  // sqlite and file
  sb('sqlite-dotdot', { type: 'sqlite', sqlite: { volume: 'data', path: '../other/pyworkflow.db' } }, 'spec.sqlite.path', "'..' is not allowed"),
  sb('sqlite-absolute', { type: 'sqlite', sqlite: { volume: 'data', path: '/var/lib/pyworkflow.db' } }, 'spec.sqlite.path', 'not an absolute path'),
  sb('sqlite-no-volume', { type: 'sqlite', sqlite: { path: 'pyworkflow.db' } }, 'spec.sqlite.volume', 'Required value'),
  sb('file-dotdot', { type: 'file', file: { volume: 'data', basePath: 'a/../..' } }, 'spec.file.basePath', "'..' is not allowed"),
  // cassandra
  sb('cassandra-username-without-password', { type: 'cassandra', cassandra: { contactPoints: ['c'], usernameSecretRef: { name: 'c', key: 'username' } } }, 'spec.cassandra', 'must be set together'),
  sb('cassandra-no-contact-points', { type: 'cassandra', cassandra: { contactPoints: [] } }, 'spec.cassandra.contactPoints', 'at least 1 items'),
  sb('cassandra-bad-consistency', { type: 'cassandra', cassandra: { contactPoints: ['c'], readConsistency: 'MOST' } }, 'spec.cassandra.readConsistency', 'Unsupported value'),
  // dynamodb
  sb('dynamodb-no-region', { type: 'dynamodb', dynamodb: { tableName: 'pyworkflow' } }, 'spec.dynamodb.region', 'Required value'),
  sb('dynamodb-bad-endpoint', { type: 'dynamodb', dynamodb: { region: 'eu-west-1', endpoint: 'ftp://dynamo' } }, 'spec.dynamodb.endpoint', 'should match'),
  sb('dynamodb-inline-secret', { type: 'dynamodb', dynamodb: { region: 'eu-west-1', credentialsSecretRef: { name: 'aws', secretAccessKey: 'abc' } } }, 'spec.dynamodb.credentialsSecretRef.secretAccessKey', 'unknown field'),
];

export function manifestOf(c: InvalidCase, namespace?: string): Record<string, unknown> {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: c.kind,
    metadata: { name: c.name, ...(namespace === undefined ? {} : { namespace }) },
    spec: c.spec,
  };
}

/**
 * The cases above that the API server refuses in the CronJob, or in the pods its Jobs create (what
 * admission let through before issue 10).
 * Not here: image-uppercase-repository, image-short-digest and image-empty-tag (the API accepts them; the
 * kubelet cannot parse them and the pod waits in InvalidImageName), affinity-gt-not-integer (the API accepts it; the scheduler then cannot parse it and the pod
 * never schedules), affinity-free-form (the API drops unknown fields: the pod silently loses the affinity)
 * and pod-annotation-value-too-long (one such value is accepted; the bound keeps 64 of them within the pod
 * API's 256 KiB total for all annotations).
 */
export const WORKLOAD_REFUSED_CASES: readonly string[] = [
  'time-zone-nonexistent', 'time-zone-wrong-case', 'time-zone-local',
  'pod-label-key-invalid', 'pod-label-key-prefix-invalid', 'pod-label-key-name-too-long', 'pod-label-value-invalid', 'pod-label-value-too-long',
  'pod-annotation-key-invalid', 'node-selector-key-invalid', 'node-selector-value-invalid',
  'toleration-key-invalid', 'toleration-exists-with-value', 'toleration-empty-key-equal', 'toleration-seconds-without-no-execute', 'toleration-value-invalid',
  'resources-negative', 'resources-negative-integer', 'resources-unknown-name', 'resources-request-above-limit', 'image-with-space',
  'affinity-bad-operator', 'affinity-in-without-values', 'affinity-exists-with-values', 'affinity-bad-key', 'affinity-node-value-invalid',
  'affinity-no-node-terms', 'affinity-pod-term-without-topology-key', 'affinity-weight-zero', 'affinity-selector-label-value-invalid',
];

/**
 * A jobTemplate that uses every field near the limits of the new rules, with unusual but valid time zones:
 * admission and the runtime validator must accept it, and the API server must accept its CronJob.
 */
export const VALID_JOB_TEMPLATE = {
  image: 'registry.example:5000/team/pyworkflow-retention@sha256:' + 'a'.repeat(64),
  resources: { requests: { cpu: '250m', memory: '128Mi', 'ephemeral-storage': 0 }, limits: { cpu: 1, memory: '0.5Gi' } },
  nodeSelector: { 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': '' },
  tolerations: [
    { operator: 'Exists' },
    { key: 'example.com/dedicated', operator: 'Equal', value: 'retention', effect: 'NoExecute', tolerationSeconds: 30 },
  ],
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] }, { key: 'example.com/cores', operator: 'Gt', values: ['2'] }] },
          { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-a'] }] },
        ],
      },
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: 'example.com/ssd', operator: 'Exists' }] } }],
    },
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 1,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgres' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['cache'] }] },
            namespaces: ['db'],
          },
        },
      ],
    },
  },
  podLabels: { 'example.com/team': 'data', cost_center: 'A.1-b' },
  podAnnotations: { 'example.com/owner': 'data team <data@example.com>', note: '' },
};

export const VALID_TIME_ZONES = ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5', 'EST5EDT', 'US/Pacific'] as const;

/** A valid base of each kind, for tests that vary one field. */
export const VALID_SPECS = { RetentionPolicy: RP, StorageBackend: SB } as const;
