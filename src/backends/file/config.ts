// File storage config, with pyworkflow's own keys (`base_path` is the data directory).

import type { JSONSchemaType } from 'ajv';

export interface FileConfig {
  type: 'file';
  base_path: string;
  /** How long to wait for one of pyworkflow's lock files (ms); ours. */
  lock_timeout_ms?: number;
}

export const fileConfigSchema: JSONSchemaType<FileConfig> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'file' },
    base_path: { type: 'string', minLength: 1, description: "pyworkflow's data directory" },
    lock_timeout_ms: { type: 'integer', minimum: 0, maximum: 600000, nullable: true },
  },
  required: ['type', 'base_path'],
  additionalProperties: false,
};
