// The subset of Kubernetes' structural OpenAPI v3 schema (apiextensions.k8s.io/v1 JSONSchemaProps) our
// CRDs use, plus source-only annotations (`tsName`, `tsType`, each CEL rule's `check`) that never reach YAML.

/** One `x-kubernetes-validations` entry, with its TypeScript twin so runtime validation covers admission. */
export interface CelRule {
  /** CEL expression evaluated by the API server with `self` bound to the value of this schema node. */
  rule: string;
  message: string;
  /** Where the API server reports the error (relative to this node), e.g. `.passwordSecretRef`. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  /**
   * The same rule in TypeScript. It runs only after the structural checks passed (as in the API server,
   * which skips CEL on an object with schema errors), so it may assume the node is well typed.
   */
  check: (self: unknown) => boolean;
}

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

export interface Schema {
  type?: SchemaType;
  /** Every field carries one, so `kubectl explain` documents it (a unit test enforces this). */
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  /** Only as a schema (a map's values): structural schemas forbid `additionalProperties: false`. */
  additionalProperties?: Schema;
  items?: Schema;
  enum?: readonly (string | number)[];
  default?: unknown;
  format?: 'int32' | 'int64' | 'date-time';
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  /** Only in the int-or-string form `[{type: integer}, {type: string}]` that structural schemas allow. */
  anyOf?: Schema[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: CelRule[];
  /** Source-only: the name of the generated TypeScript interface for this object (shared shapes share it). */
  tsName?: string;
  /** Source-only: what a shared shape (one tsName used in several places) is, for its interface's comment. */
  tsDoc?: string;
  /** Source-only: a TypeScript type expression used instead of deriving one (e.g. for a CEL-checked union). */
  tsType?: string;
}

/**
 * Declares a CEL rule and its TypeScript twin side by side; `T` is what the schema guarantees `self` to be
 * when the rule runs.
 */
export function cel<T>(
  rule: string,
  message: string,
  check: (self: T) => boolean,
  options: { fieldPath?: string; reason?: CelRule['reason'] } = {},
): CelRule {
  return { rule, message, ...options, check: check as (self: unknown) => boolean };
}

/** The schema as the API server sees it: source-only annotations and TypeScript checks removed. */
export type OpenApiSchema = { [key: string]: unknown };

export function toOpenApi(schema: Schema): OpenApiSchema {
  const out: OpenApiSchema = {};
  for (const [key, value] of Object.entries(schema) as [keyof Schema, unknown][]) {
    if (value === undefined || key === 'tsName' || key === 'tsType' || key === 'tsDoc') continue;
    if (key === 'properties' || key === 'additionalProperties' || key === 'items' || key === 'anyOf') continue;
    if (key === 'x-kubernetes-validations') {
      out[key] = (value as CelRule[]).map(({ check: _check, ...rest }) => ({ ...rest }));
      continue;
    }
    out[key] = Array.isArray(value) ? [...(value as unknown[])] : value;
  }
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, toOpenApi(v)]));
  }
  if (schema.additionalProperties) out.additionalProperties = toOpenApi(schema.additionalProperties);
  if (schema.items) out.items = toOpenApi(schema.items);
  if (schema.anyOf) out.anyOf = schema.anyOf.map(toOpenApi);
  return out;
}

/**
 * `value` without the fields `schema` does not declare, as the API server prunes them: what a reader of
 * this schema version owns of an object that a newer version may have extended. Returns a new value.
 */
export function pruneToSchema(schema: Schema, value: unknown): unknown {
  if (Array.isArray(value)) return schema.items ? value.map((v: unknown) => pruneToSchema(schema.items!, v)) : value;
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  if (schema.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) {
      const property = schema.properties[k];
      if (property) out[k] = pruneToSchema(property, v);
      else if (schema['x-kubernetes-preserve-unknown-fields'] === true) out[k] = v;
    }
    return out;
  }
  if (schema.additionalProperties) {
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, pruneToSchema(schema.additionalProperties!, v)]));
  }
  return value;
}
