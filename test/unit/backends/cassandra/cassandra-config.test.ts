// The cassandra backend's pure parts: pyworkflow's config keys, bucket formats, DDL rendering, and a
// target string that never carries credentials.
import { describe, expect, it } from 'vitest';
import { dateBucket, hourBucket } from '../../../../src/backends/cassandra/buckets.js';
import { createTableCql, PYWORKFLOW_TABLES, tablesOf } from '../../../../src/backends/cassandra/tables.js';
import { createBackend } from '../../../../src/backends/registry.js';
import { validateStorageConfig } from '../../../../src/config/storage-config.js';
import { silentLogger } from '../../../../src/log.js';

describe('cassandra storage config', () => {
  it("accepts a pyworkflow worker's config unchanged, plus our TLS, throttling and serial-consistency keys", () => {
    const worker = {
      type: 'cassandra', contact_points: ['10.0.0.1', '10.0.0.2'], port: 9042, keyspace: 'pyworkflow', username: 'u', password: 'p',
      read_consistency: 'LOCAL_QUORUM', write_consistency: 'QUORUM', replication_strategy: 'NetworkTopologyStrategy', replication_factor: 3, datacenter: 'dc1',
    };
    expect(validateStorageConfig(worker)).toEqual(worker);
    expect(validateStorageConfig({ type: 'cassandra', ssl: true, ssl_ca_file: '/ca.pem', concurrency: 4, serial_consistency: 'SERIAL' }).type).toBe('cassandra');
    expect(() => validateStorageConfig({ type: 'cassandra', serial_consistency: 'ONE' })).toThrow(/serial_consistency/);
    expect(() => validateStorageConfig({ type: 'cassandra', concurrency: 0 })).toThrow(/concurrency/);
  });

  it('names the target without credentials, with the keyspace folded to lower case as CQL does', async () => {
    const backend = await createBackend(validateStorageConfig({ type: 'cassandra', keyspace: 'PyWorkflow', username: 'admin', password: 'hunter22' }), { logger: silentLogger });
    expect(backend.type).toBe('cassandra');
    expect(backend.target).toBe('cassandra localhost:9042/pyworkflow');
  });
});

describe('cassandra buckets and DDL', () => {
  it('buckets by UTC date and hour, as strftime on pyworkflow UTC datetimes', () => {
    const t = new Date('2026-03-01T23:59:59.999Z');
    expect(dateBucket(t)).toBe('2026-03-01');
    expect(hourBucket(t)).toBe('2026-03-01-23');
    expect(dateBucket(new Date('2026-03-02T00:00:00.000+01:00'))).toBe('2026-03-01');
  });

  it('has the 16/17/21-table generations of docs/storage.md#detection-other and quotes the reserved column `token`', () => {
    expect([16, 17, 21].map((g) => tablesOf(g as 16 | 17 | 21).length)).toEqual([16, 17, 21]);
    expect(PYWORKFLOW_TABLES.map((t) => t.name).slice(0, 6)).toEqual(['workflow_runs', 'runs_by_idempotency_key', 'events', 'steps', 'steps_by_id', 'hooks']);
    const hooksByToken = createTableCql('ks', PYWORKFLOW_TABLES.find((t) => t.name === 'hooks_by_token')!);
    expect(hooksByToken).toBe('CREATE TABLE IF NOT EXISTS ks.hooks_by_token ("token" TEXT, run_id TEXT, hook_id TEXT, PRIMARY KEY ("token"))');
    expect(createTableCql('ks', PYWORKFLOW_TABLES.find((t) => t.name === 'runs_by_status')!)).toMatch(
      /PRIMARY KEY \(\(status, date_bucket\), created_at, run_id\)\) WITH CLUSTERING ORDER BY \(created_at DESC, run_id DESC\)$/,
    );
  });
});
