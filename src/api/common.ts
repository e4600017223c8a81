// Names and schema pieces shared by both kinds of the retention.pyworkflow.io/v1alpha1 API: group and
// version, annotation and label keys, name patterns, secret references, conditions and per-kind counts.

import { RECORD_KINDS } from '../engine/records.js';
import { cel, type Schema } from './openapi.js';

export const API_GROUP = 'retention.pyworkflow.io';
export const API_VERSION = 'v1alpha1';
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;
/** `kubectl get pyworkflow` lists both kinds. */
export const API_CATEGORIES = ['pyworkflow'];

/** Annotating a RetentionPolicy with a new value of this starts one run now (one run per distinct token). */
export const RUN_NOW_ANNOTATION = `${API_GROUP}/run-now`;
/** On Jobs started by a manual run: the token that started it (how a restarted controller recognises it). */
export const RUN_NOW_TOKEN_ANNOTATION = `${API_GROUP}/run-now-token`;

/** Labels the operator puts on the CronJobs, Jobs and pods it owns. */
export const LABELS = {
  /** Name of the RetentionPolicy a CronJob/Job/pod belongs to. */
  policy: `${API_GROUP}/policy`,
  /** Name of the StorageBackend the run sweeps. */
  backend: `${API_GROUP}/backend`,
  managedBy: 'app.kubernetes.io/managed-by',
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
} as const;
export const MANAGED_BY = 'pyworkflow-retention-operator';
/** Value of `app.kubernetes.io/component` on run CronJobs, Jobs and pods. */
export const RUN_COMPONENT = 'retention-run';

/** A DNS-1123 subdomain (names of Secrets, PVCs, service accounts, policies, backends), at most 253 characters. */
export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const DNS1123_SUBDOMAIN_RE = new RegExp(DNS1123_SUBDOMAIN);
/** A key in a Secret's data. */
export const SECRET_KEY = '^[-._a-zA-Z0-9]+$';

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN_RE.test(value);
}

/** The name of an object in the same namespace. */
export function objectName(description: string): Schema {
  return { type: 'string', description, minLength: 1, maxLength: 253, pattern: DNS1123_SUBDOMAIN };
}

/** A reference to one key of a Secret in the policy's namespace; the controller never reads it, the run pod does. */
export function secretKeySelector(description: string): Schema {
  return {
    type: 'object',
    tsName: 'SecretKeySelector',
    tsDoc: 'A reference to one key of a Secret in the same namespace (the run pod reads it; the controller never does).',
    description,
    required: ['name', 'key'],
    properties: {
      name: objectName('Name of the Secret, in the same namespace as this object.'),
      key: {
        type: 'string',
        description: 'Key in the Secret whose value is used.',
        minLength: 1,
        maxLength: 253,
        pattern: SECRET_KEY,
      },
    },
  };
}

/**
 * A relative path inside a volume. CEL (RE2) has no look-ahead, so the ".." and absolute-path checks are
 * rules with their own messages rather than one unreadable pattern.
 */
export function relativePath(description: string, options: { allowRoot: boolean; defaultValue?: string }): Schema {
  const schema: Schema = {
    type: 'string',
    description,
    maxLength: 1024,
    'x-kubernetes-validations': [
      cel<string>("!self.startsWith('/')", 'must be a path relative to the volume, not an absolute path', (s) => !s.startsWith('/')),
      cel<string>(
        "!self.matches('(^|/)[.][.](/|$)')",
        "must stay inside the volume: '..' is not allowed",
        (s) => !/(^|\/)[.][.](\/|$)/.test(s),
      ),
    ],
  };
  if (!options.allowRoot) schema.minLength = 1;
  if (options.defaultValue !== undefined) schema.default = options.defaultValue;
  return schema;
}

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** Standard conditions (metav1.Condition), one per type. */
export function conditionsSchema(description: string): Schema {
  return {
    type: 'array',
    description,
    maxItems: 16,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
    items: {
      type: 'object',
      tsName: 'Condition',
      tsDoc: 'A standard condition (metav1.Condition).',
      description: 'One aspect of the current state of this object (metav1.Condition).',
      required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
      properties: {
        type: {
          type: 'string',
          description: 'Type of condition in CamelCase, e.g. Ready.',
          minLength: 1,
          maxLength: 316,
          pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
        },
        status: { type: 'string', description: 'Status of the condition: True, False or Unknown.', enum: CONDITION_STATUSES },
        observedGeneration: {
          type: 'integer',
          format: 'int64',
          minimum: 0,
          description: 'The .metadata.generation the condition was set from.',
        },
        lastTransitionTime: {
          type: 'string',
          format: 'date-time',
          description: 'When the condition last changed from one status to another.',
        },
        reason: {
          type: 'string',
          description: 'Programmatic identifier of the reason for the last transition, in CamelCase.',
          minLength: 1,
          maxLength: 1024,
          pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
        },
        message: {
          type: 'string',
          description: 'Human-readable details of the last transition, saying what to do about it.',
          maxLength: 32768,
        },
      },
    },
  };
}

const KIND_DESCRIPTIONS: Record<(typeof RECORD_KINDS)[number], string> = {
  runs: 'Workflow run records.',
  events: 'Event-log records of the runs.',
  steps: 'Step records of the runs.',
  hooks: 'Hook records (and their token indexes) of the runs.',
  cancellationFlags: 'Cancellation flags of the runs.',
  checkpoints: 'Checkpoints of the runs.',
  streamRecords: 'Stream data: signals, acknowledgments, subscriptions and delivered scheduled signals (housekeeping).',
  schedules: 'Soft-deleted schedules (housekeeping).',
};

/** Records per kind (the same kinds the run's JSON result reports). */
export function kindCountsProperties(): Record<string, Schema> {
  return Object.fromEntries(
    RECORD_KINDS.map((k) => [k, { type: 'integer', format: 'int64', minimum: 0, description: KIND_DESCRIPTIONS[k] } satisfies Schema]),
  );
}

export function kindCountsSchema(description: string): Schema {
  return {
    type: 'object',
    tsName: 'DeletedCounts',
    tsDoc: 'Records per kind, the kinds the run reports.',
    description,
    required: [...RECORD_KINDS],
    properties: kindCountsProperties(),
  };
}

/** `metadata` as the CRD declares it (the API server validates it itself). */
// No description: the API server allows nothing on metadata but its type (it documents metadata itself).
export const METADATA_SCHEMA: Schema = { type: 'object', tsType: 'V1ObjectMeta' };

export function apiVersionSchema(): Schema {
  return { type: 'string', description: `APIVersion of this object: ${API_GROUP_VERSION}.`, tsType: `'${API_GROUP_VERSION}'` };
}

export function kindSchema(kind: string): Schema {
  return { type: 'string', description: `Kind of this object: ${kind}.`, tsType: `'${kind}'` };
}
