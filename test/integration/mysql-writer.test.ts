// Needs: the MariaDB 10.11 test server (MYSQL_URL) and the built CLI. A sweep while pyworkflow-shaped
// writers (autocommit statements on their own connections, support/live-writer.ts) keep writing.
import { describe, expect, it } from 'vitest';
import { checkLiveWriter } from '../support/sql-scenarios.js';
import { mysqlFixture } from '../support/stores/mysql-store.js';

describe('mysql sweep with a live writer', () => {
  it('no write fails or is lost, touched old runs survive whole, nothing is orphaned', async () => {
    const r = await checkLiveWriter(mysqlFixture(), 'mysql');
    console.log(`mysql live writer: ${r.writes} writes during the sweep, p99 ${r.p99.toFixed(1)} ms; old runs touched ${r.touched}, found already purged ${r.missed}`);
    expect(r.writes).toBeGreaterThan(100);
    expect(r.touched + r.missed).toBeGreaterThan(50);
  });
});
