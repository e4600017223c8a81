// PostgreSQL / Citus storage config, with pyworkflow's own keys plus TLS and timeout options of ours.

import type { JSONSchemaType } from 'ajv';

export interface PostgresConfig {
  type: 'postgres' | 'citus';
  dsn?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  /** libpq-style sslmode; ours. */
  sslmode?: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
  ssl_ca_file?: string;
  ssl_cert_file?: string;
  ssl_key_file?: string;
  /** Per-statement timeout (ms); ours. */
  statement_timeout_ms?: number;
  /** Lock wait timeout per statement (ms); ours. */
  lock_timeout_ms?: number;
  connect_timeout_ms?: number;
  /** Target time of one purge transaction (ms); a batch that would take longer is split. Ours. */
  transaction_budget_ms?: number;
}

export const postgresConfigSchema: JSONSchemaType<PostgresConfig> = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['postgres', 'citus'] },
    dsn: { type: 'string', minLength: 1, nullable: true },
    host: { type: 'string', minLength: 1, nullable: true },
    port: { type: 'integer', minimum: 1, maximum: 65535, nullable: true },
    user: { type: 'string', minLength: 1, nullable: true },
    password: { type: 'string', nullable: true },
    database: { type: 'string', minLength: 1, nullable: true },
    sslmode: { type: 'string', enum: ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'], nullable: true },
    ssl_ca_file: { type: 'string', minLength: 1, nullable: true },
    ssl_cert_file: { type: 'string', minLength: 1, nullable: true },
    ssl_key_file: { type: 'string', minLength: 1, nullable: true },
    statement_timeout_ms: { type: 'integer', minimum: 1, maximum: 3600000, nullable: true },
    lock_timeout_ms: { type: 'integer', minimum: 1, maximum: 3600000, nullable: true },
    connect_timeout_ms: { type: 'integer', minimum: 1, maximum: 600000, nullable: true },
    transaction_budget_ms: { type: 'integer', minimum: 1, maximum: 600000, nullable: true },
  },
  required: ['type'],
  additionalProperties: false,
};
