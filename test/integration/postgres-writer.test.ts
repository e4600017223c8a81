// Needs: the PostgreSQL 15 test server (PG_URL) and the built CLI. A sweep while pyworkflow-shaped
// writers (autocommit statements on their own connections, support/live-writer.ts) keep writing.
import { describe, expect, it } from 'vitest';
import { checkLiveWriter } from '../support/sql-scenarios.js';
import { postgresFixture } from '../support/stores/postgres-store.js';

describe('postgres sweep with a live writer', () => {
  it('no write fails or is lost, touched old runs survive whole, nothing is orphaned', async () => {
    const r = await checkLiveWriter(postgresFixture(), 'postgres');
    console.log(`postgres live writer: ${r.writes} writes during the sweep, p99 ${r.p99.toFixed(1)} ms; old runs touched ${r.touched}, found already purged ${r.missed}`);
    expect(r.writes).toBeGreaterThan(100);
    expect(r.touched + r.missed).toBeGreaterThan(50);
  });
});
