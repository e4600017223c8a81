// DynamoDB storage config, with pyworkflow's own keys. Credentials come from the SDK's default chain
// (environment, web identity, instance role), never from this config.

import type { JSONSchemaType } from 'ajv';

export interface DynamodbConfig {
  type: 'dynamodb';
  table_name?: string;
  region?: string;
  endpoint_url?: string;
}

export const dynamodbConfigSchema: JSONSchemaType<DynamodbConfig> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'dynamodb' },
    table_name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{3,255}$', nullable: true },
    region: { type: 'string', pattern: '^[a-z0-9-]{2,32}$', nullable: true },
    endpoint_url: { type: 'string', pattern: '^https?://', nullable: true },
  },
  required: ['type'],
  additionalProperties: false,
};
