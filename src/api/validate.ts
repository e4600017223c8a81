// Runtime validation of StorageBackend and RetentionPolicy objects from the same schema source as the CRDs:
// ajv checks structure and applies defaults, then each CEL rule's TypeScript twin runs, as admission does.
// Two uses: `validate*` judges a whole manifest as a client would submit it (strict, like kubectl), and
// `read*` is how the controller reads objects from the API server: it re-validates the spec it acts on
// (nothing downstream relies on admission alone) but prunes unknown fields and never judges the status,
// so a newer CRD (a new defaulted field) or an older controller after a rollback keeps reconciling.

import AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { API_GROUP_VERSION } from './common.js';
import type { RetentionPolicy, RetentionPolicySpec, StorageBackend, StorageBackendSpec } from './generated/types.js';
import { toOpenApi, type OpenApiSchema, type Schema } from './openapi.js';
import { RETENTION_POLICY_SCHEMA, RETENTION_POLICY_SPEC } from './retention-policy.js';
import { STORAGE_BACKEND_SCHEMA, STORAGE_BACKEND_SPEC } from './storage-backend.js';

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] };

// ajv's CJS default export needs unwrapping under NodeNext ESM.
const Ajv = AjvModule as unknown as typeof AjvModule.default;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `prune`: drop unknown fields (as the API server prunes them) instead of reporting them. */
function createAjv(options: { prune: boolean }): InstanceType<typeof Ajv> {
  // strictTypes off: the int-or-string form puts `pattern` next to an anyOf, which Kubernetes requires
  // and ajv's strict typing would flag.
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, useDefaults: true, ...(options.prune ? { removeAdditional: true } : {}) });
  // Kubernetes extensions: structural hints ajv has no meaning for; CEL rules and list semantics are
  // checked by `checkKubernetesRules` below instead.
  for (const keyword of [
    'x-kubernetes-validations',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-map-type',
    'x-kubernetes-int-or-string',
    'x-kubernetes-preserve-unknown-fields',
  ]) {
    ajv.addKeyword(keyword);
  }
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)) });
  return ajv;
}

/**
 * The API server prunes unknown fields; clients see them rejected only under strict field validation.
 * The strict validator rejects them, like kubectl's default; the reader (ajv's removeAdditional) drops
 * them, because on an object read back from the API server an unknown field means a newer CRD.
 */
function closeObjects(schema: OpenApiSchema): OpenApiSchema {
  const out: OpenApiSchema = { ...schema };
  const properties = schema.properties as Record<string, OpenApiSchema> | undefined;
  if (properties) {
    out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, closeObjects(v)]));
    if (schema['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  } else if (schema.additionalProperties) {
    out.additionalProperties = closeObjects(schema.additionalProperties as OpenApiSchema);
  }
  if (schema.items) out.items = closeObjects(schema.items as OpenApiSchema);
  return out;
}

const ajv = createAjv({ prune: false });
const pruningAjv = createAjv({ prune: true });

interface Validator {
  schema: Schema;
  structural: ValidateFunction;
  /** Checks done before the schema: wrong-kind objects and the unsupported memory store get plain messages. */
  precheck?: (data: unknown) => string[];
}

function validator(schema: Schema, precheck?: (data: unknown) => string[], options: { prune: boolean } = { prune: false }): Validator {
  const compiler = options.prune ? pruningAjv : ajv;
  return { schema, structural: compiler.compile(closeObjects(toOpenApi(schema))), ...(precheck ? { precheck } : {}) };
}

/** `T` is the generated type of `v.schema`: what the structural and rule checks have just established. */
function run<T>(v: Validator, data: unknown, root: string): Validated<T> {
  const pre = v.precheck?.(data) ?? [];
  if (pre.length > 0) return { ok: false, errors: pre };
  // Defaults are applied in place: validate a copy so callers' objects (e.g. informer caches) stay untouched.
  const copy = structuredClone(data);
  if (!v.structural(copy)) return { ok: false, errors: formatAjvErrors(v.structural.errors ?? [], root) };
  const ruleErrors: string[] = [];
  checkKubernetesRules(v.schema, copy, root, ruleErrors);
  if (ruleErrors.length > 0) return { ok: false, errors: ruleErrors };
  return { ok: true, value: copy as T };
}

function kindCheck(kind: string): (data: unknown) => string[] {
  return (data) => {
    if (!isObject(data)) return [`a ${kind} must be an object`];
    const errors: string[] = [];
    if (data.apiVersion !== API_GROUP_VERSION) errors.push(`apiVersion: must be ${API_GROUP_VERSION}`);
    if (data.kind !== kind) errors.push(`kind: must be ${kind}`);
    if (isObject(data.spec)) errors.push(...memoryCheck(data.spec, 'spec.type'));
    return errors;
  };
}

function memoryCheck(spec: unknown, path: string): string[] {
  if (isObject(spec) && spec.type === 'memory') {
    return [`${path}: memory is not supported: that store lives inside each pyworkflow process and cannot be swept from outside`];
  }
  return [];
}

const STORAGE_BACKEND = validator(STORAGE_BACKEND_SCHEMA, kindCheck('StorageBackend'));
const STORAGE_BACKEND_SPEC_V = validator(STORAGE_BACKEND_SPEC, (d) => memoryCheck(d, 'type'));
const RETENTION_POLICY = validator(RETENTION_POLICY_SCHEMA, kindCheck('RetentionPolicy'));
const RETENTION_POLICY_SPEC_V = validator(RETENTION_POLICY_SPEC);
const STORAGE_BACKEND_SPEC_READER = validator(STORAGE_BACKEND_SPEC, (d) => memoryCheck(d, 'spec.type'), { prune: true });
const RETENTION_POLICY_SPEC_READER = validator(RETENTION_POLICY_SPEC, undefined, { prune: true });

/**
 * An object as the controller reads it from the API server: its spec validated (unknown fields pruned,
 * defaults applied, every rule checked), its status passed through unjudged. Only apiVersion and kind
 * are checked besides: they say which schema applies.
 */
function read<T>(kind: string, spec: Validator, data: unknown): Validated<T> {
  if (!isObject(data)) return { ok: false, errors: [`a ${kind} must be an object`] };
  const errors: string[] = [];
  if (data.apiVersion !== API_GROUP_VERSION) errors.push(`apiVersion: must be ${API_GROUP_VERSION}`);
  if (data.kind !== kind) errors.push(`kind: must be ${kind}`);
  if (!isObject(data.metadata)) errors.push('metadata: Required value');
  if (data.spec === undefined) errors.push('spec: Required value');
  if (errors.length > 0) return { ok: false, errors };
  const validated = run<unknown>(spec, data.spec, 'spec');
  if (!validated.ok) return validated;
  // The status is the controller's own record (possibly with fields of a newer version): never judged, never changed here.
  return { ok: true, value: { ...data, spec: validated.value } as T };
}

/** A StorageBackend read from the API server: the spec validated with unknown fields pruned; the status untouched. */
export function readStorageBackend(data: unknown): Validated<StorageBackend> {
  return read<StorageBackend>('StorageBackend', STORAGE_BACKEND_SPEC_READER, data);
}

/** A RetentionPolicy read from the API server: the spec validated with unknown fields pruned; the status untouched. */
export function readRetentionPolicy(data: unknown): Validated<RetentionPolicy> {
  return read<RetentionPolicy>('RetentionPolicy', RETENTION_POLICY_SPEC_READER, data);
}

/** A whole StorageBackend manifest, judged strictly (unknown fields rejected); on success, a copy with schema defaults applied. */
export function validateStorageBackend(data: unknown): Validated<StorageBackend> {
  return run<StorageBackend>(STORAGE_BACKEND, data, '');
}

export function validateStorageBackendSpec(data: unknown): Validated<StorageBackendSpec> {
  return run<StorageBackendSpec>(STORAGE_BACKEND_SPEC_V, data, '');
}

/** A whole RetentionPolicy manifest, judged strictly (unknown fields rejected); on success, a copy with schema defaults applied. */
export function validateRetentionPolicy(data: unknown): Validated<RetentionPolicy> {
  return run<RetentionPolicy>(RETENTION_POLICY, data, '');
}

export function validateRetentionPolicySpec(data: unknown): Validated<RetentionPolicySpec> {
  return run<RetentionPolicySpec>(RETENTION_POLICY_SPEC_V, data, '');
}

/**
 * What admission enforces beyond JSON Schema: CEL rules (through their TypeScript twins) and the
 * uniqueness that list types `set` and `map` imply. Runs on data that passed the structural checks.
 */
function checkKubernetesRules(schema: Schema, data: unknown, path: string, errors: string[]): void {
  if (data === undefined) return;
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    if (!rule.check(data)) errors.push(`${join(path, rule.fieldPath ?? '')}: ${rule.message}`);
  }
  if (Array.isArray(data)) {
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'set' || listType === 'map') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const seen = new Set<string>();
      data.forEach((item: unknown, i) => {
        const identity = listType === 'set' ? JSON.stringify(item) : JSON.stringify(keys.map((k) => (isObject(item) ? item[k] : undefined)));
        if (seen.has(identity)) errors.push(`${path}[${i}]: duplicate value ${identity}`);
        seen.add(identity);
      });
    }
    if (schema.items) data.forEach((item: unknown, i) => checkKubernetesRules(schema.items!, item, `${path}[${i}]`, errors));
    return;
  }
  if (!isObject(data)) return;
  for (const [key, value] of Object.entries(data)) {
    const property = schema.properties?.[key];
    if (property) checkKubernetesRules(property, value, join(path, key), errors);
    else if (schema.additionalProperties) checkKubernetesRules(schema.additionalProperties, value, `${path}[${key}]`, errors);
  }
}

function formatAjvErrors(errors: readonly ErrorObject[], root: string): string[] {
  const out = errors.map((e) => {
    const path = join(root, pointerToPath(e.instancePath));
    switch (e.keyword) {
      case 'required':
        return `${join(path, String(e.params.missingProperty))}: Required value`;
      case 'additionalProperties':
        return `${join(path, String(e.params.additionalProperty))}: unknown field`;
      case 'enum':
        return `${path || '<root>'}: must be one of ${(e.params.allowedValues as unknown[]).map(String).join(', ')}`;
      default:
        return `${path || '<root>'}: ${e.message ?? 'is invalid'}`;
    }
  });
  // anyOf (int-or-string) reports each branch and then itself; one line per distinct message is enough.
  return [...new Set(out)];
}

/** `/spec/statuses/0` → `spec.statuses[0]` (the way the API server names fields). */
function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : join(acc, seg)), '');
}

function join(path: string, key: string): string {
  if (key === '') return path;
  if (key.startsWith('.') || key.startsWith('[')) return `${path}${key}`;
  return path === '' ? key : `${path}.${key}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
