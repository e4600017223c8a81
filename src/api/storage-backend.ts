// The StorageBackend kind: one pyworkflow store described the way pyworkflow's storage config does, in
// Kubernetes style (camelCase, secrets only by reference). This schema is the single source of the CRD,
// the TypeScript types (src/api/generated/types.ts) and runtime validation (src/api/validate.ts).

import {
  API_CATEGORIES,
  apiVersionSchema,
  conditionsSchema,
  kindSchema,
  METADATA_SCHEMA,
  objectName,
  relativePath,
  secretKeySelector,
} from './common.js';
import { cel, type CelRule, type Schema } from './openapi.js';
import type { PrinterColumn, ResourceNames } from './crd.js';

export const STORAGE_BACKEND_NAMES: ResourceNames = {
  kind: 'StorageBackend',
  listKind: 'StorageBackendList',
  plural: 'storagebackends',
  singular: 'storagebackend',
  shortNames: ['wfsb'],
  categories: API_CATEGORIES,
};

/** Condition types on a StorageBackend. */
export const STORAGE_BACKEND_CONDITIONS = {
  /** The spec is usable: it validates and the objects it names (e.g. the volume's PVC) exist. */
  ready: 'Ready',
  /** The last run that used this backend connected to the store and read its schema version. */
  reachable: 'Reachable',
  /** Present (True) only while the spec is invalid: nothing changes until the spec does (kstatus: Failed). */
  stalled: 'Stalled',
} as const;

export const STORAGE_TYPES = ['postgres', 'citus', 'mysql', 'sqlite', 'file', 'cassandra', 'dynamodb'] as const;
export type StorageType = (typeof STORAGE_TYPES)[number];

export const TLS_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export const CASSANDRA_CONSISTENCY_LEVELS = [
  'ANY',
  'ONE',
  'TWO',
  'THREE',
  'QUORUM',
  'ALL',
  'LOCAL_QUORUM',
  'EACH_QUORUM',
  'LOCAL_ONE',
] as const;

type Present<K extends string> = { [key in K]?: unknown };

/** Shared by postgres, citus and mysql: their connection settings are the same shape (ports differ by default only). */
const SQL_CONNECTION: Schema = {
  type: 'object',
  tsName: 'SqlConnectionSpec',
  tsDoc: 'Connection settings of postgres, citus and mysql stores.',
  description:
    'Connection to a SQL store: either dsnSecretRef, or host with port, database, user and passwordSecretRef. ' +
    "Unset host-based fields take pyworkflow's defaults (user pyworkflow, database pyworkflow, no password).",
  properties: {
    dsnSecretRef: secretKeySelector(
      'Secret key holding the whole connection URL (postgresql://user:password@host:port/database or mysql://...). ' +
        'Mutually exclusive with host.',
    ),
    host: {
      type: 'string',
      description: 'Host name or IP address of the database server. Mutually exclusive with dsnSecretRef.',
      minLength: 1,
      maxLength: 253,
      pattern: '^[A-Za-z0-9_.:%\\[\\]-]+$',
    },
    port: {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: 65535,
      description: 'TCP port of the database server. Default: 5432 for postgres and citus, 3306 for mysql.',
    },
    database: {
      type: 'string',
      description: "Database that holds pyworkflow's tables. Default: pyworkflow.",
      minLength: 1,
      maxLength: 64,
    },
    user: {
      type: 'string',
      description: 'User name to connect as. Default: pyworkflow. Mutually exclusive with userSecretRef.',
      minLength: 1,
      maxLength: 128,
    },
    userSecretRef: secretKeySelector('Secret key holding the user name, when it is kept in a Secret. Mutually exclusive with user.'),
    passwordSecretRef: secretKeySelector('Secret key holding the password. Passwords are never given inline.'),
    tls: {
      type: 'object',
      tsName: 'SqlTlsSpec',
      tsDoc: 'TLS settings of a SQL connection.',
      description: 'TLS to the database server. Without this block the connection uses mode prefer.',
      properties: {
        mode: {
          type: 'string',
          enum: TLS_MODES,
          default: 'prefer',
          description:
            'disable: no TLS; prefer: TLS when the server offers it; require: TLS without certificate checks; ' +
            "verify-ca: TLS, server certificate signed by the CA; verify-full: verify-ca plus the host name must match the certificate.",
        },
        caSecretRef: secretKeySelector('Secret key holding the PEM CA bundle that signs the server certificate (verify-ca, verify-full).'),
        clientCertSecretRef: secretKeySelector('Secret key holding a PEM client certificate, for certificate authentication.'),
        clientKeySecretRef: secretKeySelector('Secret key holding the PEM private key of clientCertSecretRef.'),
      },
      'x-kubernetes-validations': [
        cel<Present<'clientCertSecretRef' | 'clientKeySecretRef'>>(
          'has(self.clientCertSecretRef) == has(self.clientKeySecretRef)',
          'clientCertSecretRef and clientKeySecretRef must be set together',
          (s) => (s.clientCertSecretRef !== undefined) === (s.clientKeySecretRef !== undefined),
        ),
        cel<{ mode: string } & Present<'caSecretRef'>>(
          "!(self.mode in ['verify-ca', 'verify-full']) || has(self.caSecretRef)",
          'caSecretRef is required when mode is verify-ca or verify-full',
          (s) => !['verify-ca', 'verify-full'].includes(s.mode) || s.caSecretRef !== undefined,
        ),
      ],
    },
    connectTimeoutSeconds: {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: 600,
      default: 10,
      description: 'How long to wait for a connection before the run fails.',
    },
    statementTimeoutSeconds: {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: 3600,
      default: 60,
      description: 'Upper bound on one statement (one batch of deletes); a slower statement fails the run, which a re-run completes.',
    },
  },
  'x-kubernetes-validations': [
    cel<Present<'dsnSecretRef' | 'host'>>(
      'has(self.dsnSecretRef) != has(self.host)',
      'set exactly one of dsnSecretRef or host',
      (s) => (s.dsnSecretRef !== undefined) !== (s.host !== undefined),
    ),
    cel<Present<'dsnSecretRef' | 'port' | 'database' | 'user' | 'userSecretRef' | 'passwordSecretRef'>>(
      '!has(self.dsnSecretRef) || !(has(self.port) || has(self.database) || has(self.user) || has(self.userSecretRef) || has(self.passwordSecretRef))',
      'port, database, user, userSecretRef and passwordSecretRef go with host; with dsnSecretRef they are part of the DSN',
      (s) =>
        s.dsnSecretRef === undefined ||
        [s.port, s.database, s.user, s.userSecretRef, s.passwordSecretRef].every((v) => v === undefined),
    ),
    cel<Present<'user' | 'userSecretRef'>>(
      '!(has(self.user) && has(self.userSecretRef))',
      'set user or userSecretRef, not both',
      (s) => s.user === undefined || s.userSecretRef === undefined,
    ),
  ],
};

const SQLITE: Schema = {
  type: 'object',
  tsName: 'SqliteSpec',
  description: "A pyworkflow SQLite database file on a PersistentVolumeClaim that pyworkflow's workers also mount.",
  required: ['volume', 'path'],
  properties: {
    volume: objectName('Name of the PersistentVolumeClaim (same namespace) holding the database file; the run pod mounts it read-write.'),
    path: relativePath("Path of the database file inside the volume (pyworkflow's storage base_path relative to the mount), e.g. pyworkflow.db.", {
      allowRoot: false,
    }),
  },
};

const FILE: Schema = {
  type: 'object',
  tsName: 'FileSpec',
  description: "A pyworkflow file store (a data directory) on a PersistentVolumeClaim that pyworkflow's workers also mount.",
  required: ['volume'],
  properties: {
    volume: objectName(
      'Name of the PersistentVolumeClaim (same namespace) holding the data directory; the run pod mounts it read-write (it takes pyworkflow\'s lock files).',
    ),
    basePath: relativePath("Path of pyworkflow's data directory inside the volume; \"\" or \".\" is the root of the volume.", {
      allowRoot: true,
      defaultValue: '.',
    }),
  },
};

const CASSANDRA: Schema = {
  type: 'object',
  tsName: 'CassandraSpec',
  description: 'An Apache Cassandra (or ScyllaDB) cluster holding the pyworkflow keyspace.',
  required: ['contactPoints'],
  properties: {
    contactPoints: {
      type: 'array',
      description: 'Host names or IP addresses of nodes to make the first connection to.',
      minItems: 1,
      maxItems: 32,
      items: { type: 'string', description: 'A host name or IP address.', minLength: 1, maxLength: 253 },
    },
    port: { type: 'integer', format: 'int32', minimum: 1, maximum: 65535, default: 9042, description: 'CQL native transport port.' },
    keyspace: {
      type: 'string',
      description: "Keyspace holding pyworkflow's tables.",
      pattern: '^[A-Za-z][A-Za-z0-9_]{0,47}$',
      default: 'pyworkflow',
    },
    localDataCenter: {
      type: 'string',
      description: 'Data center the driver treats as local. Default: the data center of the first contact point.',
      minLength: 1,
      maxLength: 128,
    },
    usernameSecretRef: secretKeySelector('Secret key holding the user name for password authentication. Set together with passwordSecretRef.'),
    passwordSecretRef: secretKeySelector('Secret key holding the password. Set together with usernameSecretRef.'),
    readConsistency: {
      type: 'string',
      enum: CASSANDRA_CONSISTENCY_LEVELS,
      default: 'LOCAL_QUORUM',
      description: 'Consistency level of reads.',
    },
    writeConsistency: {
      type: 'string',
      enum: CASSANDRA_CONSISTENCY_LEVELS,
      default: 'LOCAL_QUORUM',
      description: 'Consistency level of deletes.',
    },
    tls: {
      type: 'object',
      tsName: 'CassandraTlsSpec',
      description: "TLS to the cluster; present means TLS is used. Without caSecretRef the image's system CAs are trusted.",
      properties: {
        caSecretRef: secretKeySelector('Secret key holding the PEM CA bundle that signs the nodes\' certificates.'),
      },
    },
  },
  'x-kubernetes-validations': [
    cel<Present<'usernameSecretRef' | 'passwordSecretRef'>>(
      'has(self.usernameSecretRef) == has(self.passwordSecretRef)',
      'usernameSecretRef and passwordSecretRef must be set together (pyworkflow authenticates only when both are set)',
      (s) => (s.usernameSecretRef !== undefined) === (s.passwordSecretRef !== undefined),
    ),
  ],
};

const DYNAMODB: Schema = {
  type: 'object',
  tsName: 'DynamodbSpec',
  description: 'An Amazon DynamoDB table holding pyworkflow\'s single-table layout.',
  required: ['region'],
  properties: {
    tableName: {
      type: 'string',
      description: 'Name of the table.',
      pattern: '^[A-Za-z0-9_.-]{3,255}$',
      default: 'pyworkflow',
    },
    region: { type: 'string', description: 'AWS region of the table, e.g. eu-west-1.', pattern: '^[a-z0-9-]{2,32}$' },
    endpoint: {
      type: 'string',
      description: 'Endpoint URL, for DynamoDB-compatible servers (e.g. DynamoDB Local). Default: the AWS endpoint of the region.',
      maxLength: 2048,
      pattern: '^https?://[^\\s/?#]+([/?#]\\S*)?$',
    },
    credentialsSecretRef: {
      type: 'object',
      tsName: 'AwsCredentialsSecretRef',
      description:
        "Secret holding static AWS credentials. Without it the run uses the pod's cloud identity " +
        '(e.g. IRSA or EKS Pod Identity through the RetentionPolicy\'s jobTemplate.serviceAccountName).',
      required: ['name'],
      properties: {
        name: objectName('Name of the Secret, in the same namespace.'),
        accessKeyIdKey: {
          type: 'string',
          description: 'Key in the Secret holding the access key id.',
          maxLength: 253,
          pattern: '^[-._a-zA-Z0-9]+$',
          default: 'AWS_ACCESS_KEY_ID',
        },
        secretAccessKeyKey: {
          type: 'string',
          description: 'Key in the Secret holding the secret access key.',
          maxLength: 253,
          pattern: '^[-._a-zA-Z0-9]+$',
          default: 'AWS_SECRET_ACCESS_KEY',
        },
        sessionTokenKey: {
          type: 'string',
          description: 'Key in the Secret holding a session token, for temporary credentials.',
          maxLength: 253,
          pattern: '^[-._a-zA-Z0-9]+$',
        },
      },
    },
  },
};

const BLOCKS: Record<StorageType, Schema> = {
  postgres: { ...SQL_CONNECTION, description: `PostgreSQL connection (spec.type postgres). ${SQL_CONNECTION.description ?? ''}` },
  citus: { ...SQL_CONNECTION, description: `Citus coordinator connection (spec.type citus). ${SQL_CONNECTION.description ?? ''}` },
  mysql: { ...SQL_CONNECTION, description: `MySQL or MariaDB connection (spec.type mysql). ${SQL_CONNECTION.description ?? ''}` },
  sqlite: SQLITE,
  file: FILE,
  cassandra: CASSANDRA,
  dynamodb: DYNAMODB,
};

/** Exactly the block named by spec.type: one rule per type and direction, so each message names the fields. */
function blockRules(): CelRule[] {
  const rules: CelRule[] = [];
  for (const type of STORAGE_TYPES) {
    rules.push(
      cel<{ type: string } & Present<StorageType>>(
        `self.type != '${type}' || has(self.${type})`,
        `spec.${type} is required when spec.type is ${type}`,
        (s) => s.type !== type || s[type] !== undefined,
        { reason: 'FieldValueRequired' },
      ),
    );
  }
  for (const type of STORAGE_TYPES) {
    const others = STORAGE_TYPES.filter((t) => t !== type);
    rules.push(
      cel<{ type: string } & Present<StorageType>>(
        `self.type != '${type}' || !(${others.map((t) => `has(self.${t})`).join(' || ')})`,
        `only the spec.${type} block may be set when spec.type is ${type}`,
        (s) => s.type !== type || others.every((t) => s[t] === undefined),
        { reason: 'FieldValueForbidden' },
      ),
    );
  }
  return rules;
}

export const STORAGE_BACKEND_SPEC: Schema = {
  type: 'object',
  tsName: 'StorageBackendSpec',
  description: 'Which pyworkflow store this is and how to reach it: spec.type and the one block of the same name.',
  required: ['type'],
  properties: {
    type: {
      type: 'string',
      enum: STORAGE_TYPES,
      description:
        "The kind of pyworkflow store, as pyworkflow's storage type. The block of the same name must be set, and no other. " +
        '(memory is not supported: that store lives inside each pyworkflow process and cannot be swept from outside.)',
    },
    ...BLOCKS,
  },
  'x-kubernetes-validations': blockRules(),
};

export const STORAGE_BACKEND_STATUS: Schema = {
  type: 'object',
  tsName: 'StorageBackendStatus',
  description: 'What the operator last observed about this store.',
  properties: {
    observedGeneration: {
      type: 'integer',
      format: 'int64',
      minimum: 0,
      description: 'The .metadata.generation this status was computed from.',
    },
    conditions: conditionsSchema('Ready: the spec is usable; Reachable: the last run connected to the store; Stalled (only while True): the spec must change before anything else can.'),
    observedSchemaVersion: {
      type: 'string',
      maxLength: 64,
      description: "pyworkflow's storage layout version the last run found in the store.",
    },
    lastReachedTime: { type: 'string', format: 'date-time', description: 'When a run last connected to the store.' },
    lastReachedBy: objectName('The RetentionPolicy whose run last connected to the store.'),
  },
};

export const STORAGE_BACKEND_SCHEMA: Schema = {
  type: 'object',
  tsName: 'StorageBackend',
  description: 'StorageBackend describes one pyworkflow store that RetentionPolicies in the same namespace sweep.',
  // Always present on objects read from the API server; required so the types need no guards.
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: apiVersionSchema(),
    kind: kindSchema('StorageBackend'),
    metadata: METADATA_SCHEMA,
    spec: STORAGE_BACKEND_SPEC,
    status: STORAGE_BACKEND_STATUS,
  },
};

export const STORAGE_BACKEND_PRINTER_COLUMNS: PrinterColumn[] = [
  { name: 'Type', type: 'string', jsonPath: '.spec.type', description: 'Kind of pyworkflow store.' },
  { name: 'Schema', type: 'string', jsonPath: '.status.observedSchemaVersion', description: 'Storage layout version last found.' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Whether the spec is usable.' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];
