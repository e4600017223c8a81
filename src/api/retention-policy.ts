// The RetentionPolicy kind: purge terminal pyworkflow runs older than retentionDays from one StorageBackend
// on a schedule. This schema is the single source of the CRD, the TypeScript types and runtime validation.

import { RECORD_KINDS } from '../engine/records.js';
import { ACTIVE_STATUSES, TERMINAL_STATUSES } from '../engine/statuses.js';
import {
  API_CATEGORIES,
  API_GROUP,
  apiVersionSchema,
  conditionsSchema,
  kindCountsProperties,
  kindCountsSchema,
  kindSchema,
  METADATA_SCHEMA,
  objectName,
} from './common.js';
import type { PrinterColumn, ResourceNames } from './crd.js';
import { AFFINITY } from './affinity.js';
import {
  IMAGE_REFERENCE,
  LABEL_VALUE,
  labelValue,
  NON_NEGATIVE_QUANTITIES_RULE,
  QUANTITY_PATTERN,
  qualifiedKeysRule,
  qualifiedName,
  REQUESTS_WITHIN_LIMITS_RULE,
  RESOURCE_NAMES_RULE,
  TIME_ZONE_EXISTS_RULES,
} from './core-rules.js';
import { cel, type Schema } from './openapi.js';
import { isValidSchedule, isValidTimeZoneName, SCHEDULE_PATTERN, TIME_ZONE_PATTERN } from './schedule.js';

export const RETENTION_POLICY_NAMES: ResourceNames = {
  kind: 'RetentionPolicy',
  listKind: 'RetentionPolicyList',
  plural: 'retentionpolicies',
  singular: 'retentionpolicy',
  shortNames: ['rp'],
  categories: API_CATEGORIES,
};

/** Condition types on a RetentionPolicy. */
export const RETENTION_POLICY_CONDITIONS = {
  /** The policy is valid, its StorageBackend is usable and its CronJob is in place. */
  ready: 'Ready',
  /** The most recent finished run succeeded. */
  lastRunSucceeded: 'LastRunSucceeded',
  /**
   * Present (True) only while the policy cannot make progress without a change of its spec (InvalidSpec,
   * CronJobInvalid): kstatus-style tools report it as Failed instead of waiting.
   */
  stalled: 'Stalled',
} as const;

export const RUN_OUTCOMES = ['Succeeded', 'Failed', 'Cancelled'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/** How many finished runs status.history keeps. */
export const HISTORY_LIMIT = 10;

const TERMINAL_LIST = TERMINAL_STATUSES.map((s) => `'${s}'`).join(', ');

const RESERVED_LABEL_PREFIX = `${API_GROUP}/`;

function stringMap(description: string, valueSchema: Schema): Schema {
  return { type: 'object', description, maxProperties: 64, additionalProperties: valueSchema };
}

/** Resource quantities (e.g. 500m, 256Mi) by resource name, in the int-or-string form core types use. */
function quantityMap(description: string): Schema {
  return {
    ...stringMap(description, {
      description: 'A resource quantity, e.g. 500m or 256Mi (not negative).',
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      pattern: QUANTITY_PATTERN,
      tsType: 'number | string',
    }),
    maxProperties: 3,
    'x-kubernetes-validations': [RESOURCE_NAMES_RULE, NON_NEGATIVE_QUANTITIES_RULE],
  };
}

const JOB_TEMPLATE: Schema = {
  type: 'object',
  tsName: 'RunJobTemplate',
  description: "Settings for the run pods (the CronJob's pod template). Everything else in the pod is fixed by the operator.",
  properties: {
    image: {
      type: 'string',
      minLength: 1,
      maxLength: 512,
      pattern: IMAGE_REFERENCE,
      description:
        "Image of the run container, a reference such as registry.example/team/pyworkflow-retention:1.2 or with @sha256:<digest>. Default: the operator's run image (the same image as the controller).",
    },
    resources: {
      type: 'object',
      tsName: 'ResourceRequirements',
      description: 'Compute resources of the run container.',
      properties: {
        requests: quantityMap('Minimum resources (cpu, memory, ephemeral-storage), e.g. {cpu: 100m, memory: 128Mi}; at most the limits.'),
        limits: quantityMap('Maximum resources (cpu, memory, ephemeral-storage), e.g. {memory: 512Mi}.'),
      },
      'x-kubernetes-validations': [REQUESTS_WITHIN_LIMITS_RULE],
    },
    nodeSelector: {
      ...stringMap('Node labels the run pod must be scheduled on.', labelValue('Required value of the node label.')),
      'x-kubernetes-validations': [qualifiedKeysRule('nodeSelector')],
    },
    tolerations: {
      type: 'array',
      description: 'Taints the run pod tolerates.',
      maxItems: 32,
      'x-kubernetes-list-type': 'atomic',
      items: {
        type: 'object',
        tsName: 'Toleration',
        description: 'A core/v1 Toleration.',
        properties: {
          key: qualifiedName('Taint key the toleration applies to; empty matches all keys (with operator Exists).', { allowEmpty: true }),
          operator: { type: 'string', enum: ['Exists', 'Equal'], description: 'Exists or Equal (the default).' },
          value: labelValue('Taint value the toleration matches (operator Equal; empty with Exists).'),
          effect: {
            type: 'string',
            enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'],
            description: 'Taint effect to match; empty matches all effects.',
          },
          tolerationSeconds: {
            type: 'integer',
            format: 'int64',
            description: 'For NoExecute: how long the pod stays bound after the taint appears.',
          },
        },
        // The pod API's toleration rules, which would otherwise refuse the CronJob.
        'x-kubernetes-validations': [
          cel<{ key?: string; operator?: string }>(
            "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
            'operator must be Exists when key is empty (a toleration of every taint)',
            (t) => (t.key ?? '') !== '' || t.operator === 'Exists',
            { fieldPath: '.operator' },
          ),
          cel<{ operator?: string; value?: string }>(
            "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
            'value must be empty when operator is Exists',
            (t) => t.operator !== 'Exists' || (t.value ?? '') === '',
            { fieldPath: '.value', reason: 'FieldValueForbidden' },
          ),
          cel<{ effect?: string; tolerationSeconds?: number }>(
            "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
            'effect must be NoExecute when tolerationSeconds is set',
            (t) => t.tolerationSeconds === undefined || t.effect === 'NoExecute',
            { fieldPath: '.effect' },
          ),
        ],
      },
    },
    affinity: AFFINITY,
    podAnnotations: {
      // 3072: 64 annotations with the longest keys stay below the pod API's 256 KiB total.
      ...stringMap('Annotations added to the run pods.', {
        type: 'string',
        description: 'Annotation value (at most 3072 characters).',
        maxLength: 3072,
      }),
      'x-kubernetes-validations': [qualifiedKeysRule('podAnnotations')],
    },
    podLabels: {
      ...stringMap(`Labels added to the run pods. Keys with the ${RESERVED_LABEL_PREFIX} prefix are the operator's.`, {
        type: 'string',
        description: 'Label value.',
        maxLength: 63,
        pattern: LABEL_VALUE,
      }),
      'x-kubernetes-validations': [
        qualifiedKeysRule('podLabels'),
        cel<Record<string, string>>(
          `self.all(k, !k.startsWith('${RESERVED_LABEL_PREFIX}'))`,
          `label keys with the prefix ${RESERVED_LABEL_PREFIX} are set by the operator`,
          (s) => Object.keys(s).every((k) => !k.startsWith(RESERVED_LABEL_PREFIX)),
        ),
      ],
    },
    serviceAccountName: {
      ...objectName(
        'Service account of the run pods. When set, the pods get its token (for cloud identity such as IRSA); ' +
          'when unset, they run without a service-account token.',
      ),
    },
    imagePullSecrets: {
      type: 'array',
      description: 'Secrets for pulling the run image from a private registry.',
      maxItems: 16,
      'x-kubernetes-list-type': 'atomic',
      items: {
        type: 'object',
        tsName: 'LocalObjectReference',
        description: 'A reference to a Secret in the same namespace.',
        required: ['name'],
        properties: { name: objectName('Name of the image pull Secret.') },
      },
    },
    securityContext: {
      type: 'object',
      tsName: 'RunSecurityContext',
      description:
        'User and group ids of the run pods, so the run can write the pyworkflow files of a sqlite or file volume. ' +
        'The pods always run as non-root with the RuntimeDefault seccomp profile, a read-only root filesystem and no capabilities.',
      properties: {
        runAsUser: { type: 'integer', format: 'int64', minimum: 1, maximum: 2147483647, description: 'User id of the run container (never 0). Default: 65532.' },
        runAsGroup: { type: 'integer', format: 'int64', minimum: 0, maximum: 2147483647, description: 'Primary group id of the run container. Default: 65532.' },
        fsGroup: {
          type: 'integer',
          format: 'int64',
          minimum: 0,
          maximum: 2147483647,
          description: 'Group that owns the mounted volumes (the kubelet changes their group ownership). Default: none.',
        },
        fsGroupChangePolicy: {
          type: 'string',
          enum: ['OnRootMismatch', 'Always'],
          description: 'When the kubelet changes volume ownership for fsGroup: OnRootMismatch (fast on large stores) or Always.',
        },
        supplementalGroups: {
          type: 'array',
          description: 'Extra group ids of the run container, e.g. the group of pyworkflow\'s data files.',
          maxItems: 16,
          'x-kubernetes-list-type': 'set',
          items: { type: 'integer', format: 'int64', minimum: 0, maximum: 2147483647, description: 'A group id.' },
        },
      },
    },
    priorityClassName: {
      type: 'string',
      description: 'PriorityClass of the run pods.',
      maxLength: 253,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
    },
  },
};

export const RETENTION_POLICY_SPEC: Schema = {
  type: 'object',
  tsName: 'RetentionPolicySpec',
  description: 'Which runs to purge from which store, and when.',
  required: ['retentionDays', 'backendRef'],
  properties: {
    retentionDays: {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: 36500,
      description:
        'Terminal runs whose updated_at is older than now minus this many days are purged with all their related data. ' +
        'A whole number of days, at least 1.',
    },
    backendRef: {
      type: 'object',
      tsName: 'BackendReference',
      description: 'The StorageBackend (same namespace) to purge.',
      required: ['name'],
      properties: { name: objectName('Name of the StorageBackend.') },
    },
    schedule: {
      type: 'string',
      default: '@daily',
      maxLength: 128,
      description:
        'When to run, in the CronJob schedule syntax: five fields (minute hour day-of-month month day-of-week, e.g. "30 2 * * *") ' +
        'or one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually.',
      'x-kubernetes-validations': [
        cel<string>(
          `self.matches('${SCHEDULE_PATTERN}')`,
          'must be a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. "30 2 * * *") or one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually',
          isValidSchedule,
        ),
      ],
    },
    timeZone: {
      type: 'string',
      maxLength: 64,
      description: "IANA time zone of the schedule, e.g. Europe/Berlin. Default: the kube-controller-manager's time zone (usually UTC).",
      'x-kubernetes-validations': [
        cel<string>(
          `self.matches('${TIME_ZONE_PATTERN}')`,
          'must be an IANA time zone name such as UTC or Europe/Berlin',
          isValidTimeZoneName,
        ),
        // Syntax is not existence: "Mars/Olympus" would pass above and be refused in the CronJob.
        ...TIME_ZONE_EXISTS_RULES,
      ],
    },
    suspend: { type: 'boolean', default: false, description: 'Stops scheduled runs; a run in progress finishes.' },
    dryRun: { type: 'boolean', default: false, description: 'Count what would be deleted and delete nothing.' },
    statuses: {
      type: 'array',
      description: `Terminal run statuses to purge: any of ${TERMINAL_STATUSES.join(', ')}. Active runs (${ACTIVE_STATUSES.join(', ')}) are never purged.`,
      default: [...TERMINAL_STATUSES],
      minItems: 1,
      maxItems: TERMINAL_STATUSES.length,
      'x-kubernetes-list-type': 'set',
      items: {
        type: 'string',
        description: 'A terminal pyworkflow run status.',
        maxLength: 32,
        // A CEL rule instead of an enum: the API server skips CEL when an enum fails, and its enum message
        // cannot say why pending/running/suspended are refused.
        'x-kubernetes-validations': [
          cel<string>(
            `self in [${TERMINAL_LIST}]`,
            `only terminal statuses may be purged: ${TERMINAL_STATUSES.join(', ')} (${ACTIVE_STATUSES.join(', ')} runs are never purged)`,
            (s) => (TERMINAL_STATUSES as readonly string[]).includes(s),
          ),
        ],
        tsType: TERMINAL_STATUSES.map((s) => `'${s}'`).join(' | '),
      },
    },
    housekeeping: {
      type: 'boolean',
      default: true,
      description:
        'Also purge what pyworkflow itself intends to: soft-deleted schedules, terminal stream subscriptions, delivered scheduled signals, ' +
        'old signals and acknowledgments (never the newest signal of a stream run).',
    },
    orphans: {
      type: 'boolean',
      default: false,
      description: 'Also purge data older than the cutoff whose run record no longer exists (never data of a run that still has a record).',
    },
    batchSize: {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: 10000,
      description:
        'Runs purged per batch (per transaction in SQL stores): smaller batches hold locks for less time. Unset: the sweep sizes batches itself (SQLite fills a 0.4 s transaction budget; other stores use 500).',
    },
    activeDeadlineSeconds: {
      type: 'integer',
      format: 'int64',
      minimum: 60,
      maximum: 86400,
      default: 3600,
      description: 'How long one run may take before it is stopped; what it finished stays done and the next run continues.',
    },
    backoffLimit: {
      type: 'integer',
      format: 'int32',
      minimum: 0,
      maximum: 6,
      default: 0,
      description: 'Retries of a failed run within the same schedule slot.',
    },
    successfulJobsHistoryLimit: {
      type: 'integer',
      format: 'int32',
      minimum: 0,
      maximum: 20,
      default: 3,
      description: 'Finished successful Jobs to keep.',
    },
    failedJobsHistoryLimit: {
      type: 'integer',
      format: 'int32',
      minimum: 0,
      maximum: 20,
      default: 3,
      description: 'Finished failed Jobs to keep.',
    },
    jobTemplate: JOB_TEMPLATE,
  },
};

function timestamp(description: string): Schema {
  return { type: 'string', format: 'date-time', description };
}

const RUN_SUMMARY_PROPERTIES: Record<string, Schema> = {
  jobName: objectName('Name of the Job of the run.'),
  jobUID: { type: 'string', maxLength: 64, description: 'UID of the Job of the run (counts are taken once per UID).' },
  startTime: timestamp('When the run started.'),
  completionTime: timestamp('When the run finished.'),
  outcome: { type: 'string', enum: RUN_OUTCOMES, description: 'Succeeded, Failed or Cancelled.' },
  dryRun: { type: 'boolean', description: 'Whether the run was a dry run (its counts say what would have been deleted).' },
  deleted: kindCountsSchema('Records deleted by the run per kind (in a dry run: that would have been deleted).'),
};

export const RETENTION_POLICY_STATUS: Schema = {
  type: 'object',
  tsName: 'RetentionPolicyStatus',
  description: 'What the operator last observed about this policy and its runs.',
  properties: {
    observedGeneration: {
      type: 'integer',
      format: 'int64',
      minimum: 0,
      description: 'The .metadata.generation this status was computed from.',
    },
    conditions: conditionsSchema('Ready: the policy can run; LastRunSucceeded: the outcome of the most recent finished run; Stalled (only while True): the spec must change before the policy can run.'),
    cronJobName: objectName('Name of the CronJob the operator owns for this policy.'),
    lastScheduleTime: timestamp('When a run was last scheduled.'),
    nextScheduleTime: timestamp('When the next scheduled run is due (unset while suspended).'),
    lastRun: {
      type: 'object',
      tsName: 'LastRun',
      description: 'The most recent finished run.',
      required: ['jobName', 'outcome'],
      properties: {
        ...RUN_SUMMARY_PROPERTIES,
        cutoff: timestamp('Runs last updated before this instant were eligible.'),
        // As long as a condition message: it may quote the run's whole termination message (up to 4096 bytes).
        message: { type: 'string', maxLength: 32768, description: 'What happened, and what to do about a failure.' },
      },
    },
    totals: {
      type: 'object',
      tsName: 'RunTotals',
      description: 'Cumulative counts over all real (not dry) runs since the policy was created; each Job is counted once.',
      required: [...RECORD_KINDS, 'runsSucceeded', 'runsFailed'],
      properties: {
        ...kindCountsProperties(),
        runsSucceeded: { type: 'integer', format: 'int64', minimum: 0, description: 'Runs that succeeded.' },
        runsFailed: { type: 'integer', format: 'int64', minimum: 0, description: 'Runs that failed or were cancelled.' },
      },
    },
    history: {
      type: 'array',
      description: `The most recent finished runs, newest first (at most ${HISTORY_LIMIT}).`,
      maxItems: HISTORY_LIMIT,
      'x-kubernetes-list-type': 'atomic',
      items: {
        type: 'object',
        tsName: 'RunRecord',
        description: 'One finished run.',
        required: ['jobName', 'outcome'],
        properties: RUN_SUMMARY_PROPERTIES,
      },
    },
    // No maxLength: the token is whatever the user annotated, and a status the API server refuses
    // would leave the controller unable to record that it acted on it.
    lastRunNowToken: {
      type: 'string',
      description: 'The last value of the retention.pyworkflow.io/run-now annotation that started a run.',
    },
  },
};

export const RETENTION_POLICY_SCHEMA: Schema = {
  type: 'object',
  tsName: 'RetentionPolicy',
  description: 'RetentionPolicy purges terminal pyworkflow runs older than retentionDays from a StorageBackend, on a schedule.',
  // Always present on objects read from the API server; required so the types need no guards.
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: apiVersionSchema(),
    kind: kindSchema('RetentionPolicy'),
    metadata: METADATA_SCHEMA,
    spec: RETENTION_POLICY_SPEC,
    status: RETENTION_POLICY_STATUS,
  },
};

export const RETENTION_POLICY_PRINTER_COLUMNS: PrinterColumn[] = [
  { name: 'Days', type: 'integer', jsonPath: '.spec.retentionDays', description: 'Retention in days.' },
  { name: 'Backend', type: 'string', jsonPath: '.spec.backendRef.name', description: 'StorageBackend purged.' },
  { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule', description: 'Cron schedule.' },
  { name: 'Last Run', type: 'date', jsonPath: '.status.lastRun.completionTime', description: 'When the last run finished.' },
  { name: 'Runs Deleted', type: 'integer', jsonPath: '.status.totals.runs', description: 'Runs deleted so far (real runs).' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Whether the policy can run.' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];
