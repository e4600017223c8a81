// The reference in-memory store (tests and the demo's model). pyworkflow's own `memory` store lives
// inside pyworkflow processes and cannot be reached: the registry refuses it with a clear message.

import type { JSONSchemaType } from 'ajv';

export interface ReferenceMemoryConfig {
  type: 'reference-memory';
}

export const referenceMemoryConfigSchema: JSONSchemaType<ReferenceMemoryConfig> = {
  type: 'object',
  properties: { type: { type: 'string', const: 'reference-memory' } },
  required: ['type'],
  additionalProperties: false,
};
