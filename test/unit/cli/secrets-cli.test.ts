// The built CLI as a process, with random passwords in every place a storage config can hold one:
// the password never appears on stdout, stderr or in the termination log, whatever the output and log
// formats; a config that does not parse exits 2 naming "dsn", a refused connection exits 1. No server
// needed: nothing listens on 127.0.0.1:1.
import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { configWithPassword, passwordArb, PLACEMENTS } from '../../support/secrets.js';

describe('pyworkflow-retention sweep keeps passwords out of its output', () => {
  it('for random passwords in dsn (escaped and not), password, ?password= and ${VAR}', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pywr-secrets-'));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('postgres' as const, 'mysql' as const),
          fc.constantFrom(...PLACEMENTS),
          passwordArb,
          fc.constantFrom('json', 'text'),
          fc.constantFrom('json', 'text'),
          async (store, placement, password, output, logFormat) => {
            const { config, env, unparsable } = configWithPassword(store, placement, password, 1);
            const log = join(dir, `termination-log-${Math.random().toString(36).slice(2)}`);
            const r = await runCli(
              ['sweep', '--storage', JSON.stringify(config), '--retention-days', '30', '--output', output, '--log-format', logFormat,
                '--progress', 'log', '--termination-log', log, '--verbose'],
              env,
            );
            const written = existsSync(log) ? readFileSync(log, 'utf8') : '';
            for (const text of [r.stdout, r.stderr, written]) {
              expect(text).not.toContain(password);
              expect(text).not.toContain(encodeURIComponent(password));
            }
            if (unparsable) {
              expect(r.code, r.stderr).toBe(2);
              expect(r.stderr).toMatch(new RegExp(`^error: ${store} storage config: "dsn" does not parse`, 'm'));
            } else {
              expect(r.code, r.stderr).toBe(1);
              // The host was read as written (no lookup of a password fragment): the connection was refused.
              expect(r.stderr).toMatch(/CONNECTION_FAILED.*ECONNREFUSED 127\.0\.0\.1:1/);
              expect(JSON.parse(written)).toMatchObject({ outcome: 'failed', error: { code: 'CONNECTION_FAILED' } });
            }
          },
        ),
        // Each run starts the CLI (~0.3 s); the in-process property (test/unit/backends/dsn.test.ts) runs 1000.
        {
          numRuns: 24,
          examples: [
            ['postgres', 'dsn-raw', 'p@ss/S3cr3t', 'json', 'json'],
            ['mysql', 'dsn-raw', 'p@ss/S3cr3t', 'text', 'text'],
            ['postgres', 'env-dsn', 'pa?ss#S3cr3t', 'text', 'json'],
          ],
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
