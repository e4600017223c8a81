// SQLite storage config, with pyworkflow's own keys (`base_path` is the database file).

import type { JSONSchemaType } from 'ajv';

export interface SqliteConfig {
  type: 'sqlite';
  base_path: string;
  /** How long to wait for pyworkflow's write lock per batch (ms); ours. */
  busy_timeout_ms?: number;
}

export const sqliteConfigSchema: JSONSchemaType<SqliteConfig> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'sqlite' },
    base_path: { type: 'string', minLength: 1, description: 'path of the pyworkflow SQLite database file' },
    busy_timeout_ms: { type: 'integer', minimum: 0, maximum: 600000, nullable: true },
  },
  required: ['type', 'base_path'],
  additionalProperties: false,
};
