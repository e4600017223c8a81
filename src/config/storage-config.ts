// Reads a pyworkflow storage config (pyworkflow's own keys) from inline JSON, a .json/.yaml file, or
// pyworkflow's environment variables, and validates it. Error messages name keys, never values.

import { readFileSync } from 'node:fs';
import AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../errors.js';
import { cassandraConfigSchema, type CassandraConfig } from '../backends/cassandra/config.js';
import { dynamodbConfigSchema, type DynamodbConfig } from '../backends/dynamodb/config.js';
import { fileConfigSchema, type FileConfig } from '../backends/file/config.js';
import { referenceMemoryConfigSchema, type ReferenceMemoryConfig } from '../backends/memory/config.js';
import { mysqlConfigSchema, type MysqlConfig } from '../backends/mysql/config.js';
import { postgresConfigSchema, type PostgresConfig } from '../backends/postgres/config.js';
import { sqliteConfigSchema, type SqliteConfig } from '../backends/sqlite/config.js';

export type StorageConfig =
  | SqliteConfig
  | FileConfig
  | PostgresConfig
  | MysqlConfig
  | CassandraConfig
  | DynamodbConfig
  | ReferenceMemoryConfig;

const SCHEMAS: Record<string, object> = {
  sqlite: sqliteConfigSchema,
  file: fileConfigSchema,
  postgres: postgresConfigSchema,
  citus: postgresConfigSchema,
  mysql: mysqlConfigSchema,
  cassandra: cassandraConfigSchema,
  dynamodb: dynamodbConfigSchema,
  'reference-memory': referenceMemoryConfigSchema,
};

export const STORAGE_TYPES = ['postgres', 'citus', 'mysql', 'sqlite', 'file', 'cassandra', 'dynamodb'] as const;

// ajv's CJS default export needs unwrapping under NodeNext ESM.
const Ajv = AjvModule as unknown as typeof AjvModule.default;
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
// Compiled on first use: a sweep validates one config, and compiling every store's schema at start-up
// cost the CLI process tens of milliseconds (bench/sqlite-bench.ts times the whole process).
const validators = new Map<string, ValidateFunction>();
function validatorFor(type: string): ValidateFunction {
  let v = validators.get(type);
  if (!v) validators.set(type, (v = ajv.compile(SCHEMAS[type]!)));
  return v;
}

/** Parses the value of `--storage`: inline JSON, `@path` to a .json/.yaml/.yml file, or `env`. */
export function loadStorageConfig(value: string, env: NodeJS.ProcessEnv = process.env): StorageConfig {
  const raw = value.trim();
  let data: unknown;
  if (raw === 'env') {
    data = configFromPyworkflowEnv(env);
  } else if (raw.startsWith('@')) {
    const path = raw.slice(1);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new InvalidInputError(`--storage: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'INVALID_STORAGE_CONFIG');
    }
    data = parseText(text, /\.ya?ml$/i.test(path) ? 'yaml' : 'json', path);
    // A pyworkflow.config.yaml holds the storage config under `storage:`.
    if (isObject(data) && isObject(data.storage) && data.type === undefined) data = data.storage;
  } else if (raw.startsWith('{')) {
    data = parseText(raw, 'json', '--storage');
  } else {
    throw new InvalidInputError('--storage must be inline JSON ({"type": ...}), @path to a .json/.yaml file, or "env"', 'INVALID_STORAGE_CONFIG');
  }
  return validateStorageConfig(expandEnv(data, env, ''));
}

export function validateStorageConfig(data: unknown): StorageConfig {
  if (!isObject(data)) throw new InvalidInputError('storage config must be an object with a "type" key', 'INVALID_STORAGE_CONFIG');
  const type = data.type;
  if (type === 'memory') {
    throw new InvalidInputError(
      'storage type "memory" lives inside each pyworkflow process and cannot be reached from outside; nothing to sweep',
      'UNSUPPORTED_BACKEND',
    );
  }
  if (typeof type !== 'string' || !Object.hasOwn(SCHEMAS, type)) {
    throw new InvalidInputError(`storage config key "type" must be one of ${STORAGE_TYPES.join(', ')}`, 'INVALID_STORAGE_CONFIG');
  }
  const validate = validatorFor(type);
  if (!validate(data)) throw new InvalidInputError(`storage config (${type}): ${describeErrors(validate.errors ?? [])}`, 'INVALID_STORAGE_CONFIG');
  return data as unknown as StorageConfig;
}

function describeErrors(errors: ErrorObject[]): string {
  return errors
    .map((e) => {
      if (e.keyword === 'additionalProperties') return `unknown key "${String(e.params.additionalProperty)}"`;
      if (e.keyword === 'required') return `missing key "${String(e.params.missingProperty)}"`;
      const key = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
      return `key "${key}" ${e.message ?? 'is invalid'}`;
    })
    .join('; ');
}

function parseText(text: string, format: 'json' | 'yaml', where: string): unknown {
  try {
    // logLevel silent: the yaml library would print warnings that quote the source line, password included.
    return format === 'yaml' ? (parseYaml(text, { logLevel: 'silent' }) as unknown) : (JSON.parse(text) as unknown);
  } catch (err) {
    // A YAML error's message quotes the source (an alias name, a tag, the line): keep its code and position only.
    const yamlError = err as { code?: unknown; linePos?: { line: number; col: number }[] };
    if (format === 'yaml') {
      const what = typeof yamlError.code === 'string' ? yamlError.code : err instanceof Error ? err.name : 'parse error';
      const at = yamlError.linePos?.[0];
      throw new InvalidInputError(`${where}: not valid YAML (${what}${at ? ` at line ${at.line}, column ${at.col}` : ''})`, 'INVALID_STORAGE_CONFIG');
    }
    // V8 quotes the text around a bad JSON token, and that text may be a password: keep the description only.
    const detail = err instanceof Error ? err.message.split('\n')[0]!.replace(/, .* is not valid JSON$/s, '') : 'parse error';
    throw new InvalidInputError(`${where}: not valid ${format.toUpperCase()} (${detail})`, 'INVALID_STORAGE_CONFIG');
  }
}

/**
 * A string value that is exactly `${NAME}` is replaced by the environment variable NAME, so a pod can
 * pass credentials from Secrets through env without them ever appearing in a spec or argument.
 */
function expandEnv(data: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof data === 'string') {
    const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(data);
    if (!m) return data;
    const value = env[m[1]!];
    if (value === undefined) throw new InvalidInputError(`storage config key "${path}" refers to environment variable ${m[1]!}, which is not set`, 'INVALID_STORAGE_CONFIG');
    return value;
  }
  if (Array.isArray(data)) return data.map((v, i) => expandEnv(v, env, `${path}[${i}]`));
  if (isObject(data)) {
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, expandEnv(v, env, path ? `${path}.${k}` : k)]));
  }
  return data;
}

/** pyworkflow's own environment variables (docs/storage.md#config), as pyworkflow reads them. */
function configFromPyworkflowEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const type = (env.PYWORKFLOW_STORAGE_TYPE ?? env.PYWORKFLOW_STORAGE_BACKEND ?? '').toLowerCase();
  if (type === '') throw new InvalidInputError('--storage env: PYWORKFLOW_STORAGE_TYPE is not set', 'INVALID_STORAGE_CONFIG');
  const pick = (prefix: string): Record<string, unknown> => {
    const out: Record<string, unknown> = { type };
    for (const key of ['host', 'user', 'password', 'database']) {
      const v = env[`${prefix}_${key.toUpperCase()}`];
      if (v !== undefined) out[key] = v;
    }
    const port = env[`${prefix}_PORT`];
    if (port !== undefined) {
      if (!/^\d+$/.test(port)) throw new InvalidInputError(`${prefix}_PORT must be a port number`, 'INVALID_STORAGE_CONFIG');
      out.port = Number(port);
    }
    return out;
  };
  switch (type) {
    case 'postgres':
    case 'citus':
      return pick('PYWORKFLOW_POSTGRES');
    case 'mysql':
      return pick('PYWORKFLOW_MYSQL');
    case 'sqlite':
      return { type, base_path: env.PYWORKFLOW_STORAGE_PATH ?? './pyworkflow_data/pyworkflow.db' };
    case 'file':
      return { type, base_path: env.PYWORKFLOW_STORAGE_PATH ?? './pyworkflow_data' };
    default:
      // pyworkflow reads no parameters from env for other types (docs/storage.md#config): only the type.
      return { type };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
