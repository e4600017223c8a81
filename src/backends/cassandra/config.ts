// Apache Cassandra storage config, with pyworkflow's own keys (docs/storage.md#config) plus TLS,
// timeout and throttling options of ours.

import type { JSONSchemaType } from 'ajv';

const CONSISTENCY = ['ANY', 'ONE', 'TWO', 'THREE', 'QUORUM', 'ALL', 'LOCAL_QUORUM', 'EACH_QUORUM', 'LOCAL_ONE'] as const;
export type Consistency = (typeof CONSISTENCY)[number];
const SERIAL_CONSISTENCY = ['SERIAL', 'LOCAL_SERIAL'] as const;
export type SerialConsistency = (typeof SERIAL_CONSISTENCY)[number];

export interface CassandraConfig {
  type: 'cassandra';
  contact_points?: string[];
  port?: number;
  keyspace?: string;
  username?: string;
  password?: string;
  read_consistency?: Consistency;
  write_consistency?: Consistency;
  /** pyworkflow's keys for keyspace creation; accepted so a worker's config passes unchanged, unused. */
  replication_strategy?: string;
  replication_factor?: number;
  datacenter?: string;
  /** The driver's local data center; ours (defaults to `datacenter`, then the first node's). */
  local_data_center?: string;
  /** TLS with the system's CAs; ours. `ssl_ca_file` implies TLS. */
  ssl?: boolean;
  ssl_ca_file?: string;
  request_timeout_ms?: number;
  /** Serial consistency of our conditional deletes (lightweight transactions); ours. */
  serial_consistency?: SerialConsistency;
  /** How many runs (and housekeeping rows) are purged at once; ours. Low values spare a busy cluster. */
  concurrency?: number;
}

export const cassandraConfigSchema: JSONSchemaType<CassandraConfig> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'cassandra' },
    contact_points: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, nullable: true },
    port: { type: 'integer', minimum: 1, maximum: 65535, nullable: true },
    keyspace: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]{0,47}$', nullable: true },
    username: { type: 'string', nullable: true },
    password: { type: 'string', nullable: true },
    read_consistency: { type: 'string', enum: [...CONSISTENCY], nullable: true },
    write_consistency: { type: 'string', enum: [...CONSISTENCY], nullable: true },
    replication_strategy: { type: 'string', nullable: true },
    replication_factor: { type: 'integer', minimum: 1, nullable: true },
    datacenter: { type: 'string', nullable: true },
    local_data_center: { type: 'string', minLength: 1, nullable: true },
    ssl: { type: 'boolean', nullable: true },
    ssl_ca_file: { type: 'string', minLength: 1, nullable: true },
    request_timeout_ms: { type: 'integer', minimum: 1, maximum: 600000, nullable: true },
    serial_consistency: { type: 'string', enum: [...SERIAL_CONSISTENCY], nullable: true },
    concurrency: { type: 'integer', minimum: 1, maximum: 64, nullable: true },
  },
  required: ['type'],
  additionalProperties: false,
};
