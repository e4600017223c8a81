// Passwords for the credential-leak properties, and every way a storage config can carry one.

import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli } from './cli.js';

const PRINTABLE_ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
const UNICODE = ['é', 'ß', 'Ω', '€', 'ж', '中', '😀', '\u00a0', '\u200b'];

/**
 * A password from the full printable alphabet (and some unicode), long and varied enough that finding
 * it in the output can only mean it leaked, never that "        " matched the padding of a table.
 */
export const passwordArb: fc.Arbitrary<string> = fc
  .string({ unit: fc.constantFrom(...PRINTABLE_ASCII, ...UNICODE), minLength: 8, maxLength: 24 })
  // A password that is exactly "${NAME}" is an environment reference by design, not a password.
  .filter((s) => new Set(s).size >= 5 && s.trim() === s && !/^\$\{.*\}$/.test(s));

export type Placement = 'dsn-escaped' | 'dsn-raw' | 'query' | 'password' | 'env-password' | 'env-dsn' | 'pyworkflow-env';
export const PLACEMENTS: readonly Placement[] = ['dsn-escaped', 'dsn-raw', 'query', 'password', 'env-password', 'env-dsn', 'pyworkflow-env'];

/** Characters that end a DSN's user info early when written unescaped: such a DSN does not parse. */
export const DSN_BREAKERS = /[@/?#]/;

/**
 * The `--storage` value and environment for one placement of `password` in a `store` config that
 * points at 127.0.0.1:`port`, plus whether the config must be refused as unparsable.
 */
export function configWithPassword(
  store: 'postgres' | 'mysql',
  placement: Placement,
  password: string,
  port: number,
): { storage: string; env: Record<string, string>; unparsable: boolean } {
  const { config, env, unparsable } = placeIn(store, placement, password, port);
  return { storage: config === 'env' ? 'env' : JSON.stringify(config), env, unparsable };
}

function placeIn(
  store: 'postgres' | 'mysql',
  placement: Placement,
  password: string,
  port: number,
): { config: Record<string, unknown> | 'env'; env: Record<string, string>; unparsable: boolean } {
  const scheme = store === 'postgres' ? 'postgresql' : 'mysql';
  const timeouts = { connect_timeout_ms: 5000 };
  const dsn = (userInfo: string, query = ''): string => `${scheme}://${userInfo}@127.0.0.1:${port}/pyworkflow_test${query}`;
  switch (placement) {
    case 'dsn-escaped':
      return { config: { type: store, dsn: dsn(`admin:${encodeURIComponent(password)}`), ...timeouts }, env: {}, unparsable: false };
    case 'dsn-raw':
      return { config: { type: store, dsn: dsn(`admin:${password}`), ...timeouts }, env: {}, unparsable: DSN_BREAKERS.test(password) };
    case 'query':
      return { config: { type: store, dsn: `${scheme}://127.0.0.1:${port}/pyworkflow_test?user=admin&password=${encodeURIComponent(password)}`, ...timeouts }, env: {}, unparsable: false };
    case 'password':
      return { config: { type: store, host: '127.0.0.1', port, user: 'admin', password, ...timeouts }, env: {}, unparsable: false };
    case 'env-password':
      return { config: { type: store, host: '127.0.0.1', port, user: 'admin', password: '${PYWR_TEST_PW}', ...timeouts }, env: { PYWR_TEST_PW: password }, unparsable: false };
    case 'env-dsn':
      return { config: { type: store, dsn: '${PYWR_TEST_DSN}', ...timeouts }, env: { PYWR_TEST_DSN: dsn(`admin:${password}`) }, unparsable: DSN_BREAKERS.test(password) };
    case 'pyworkflow-env': {
      // `--storage env`: pyworkflow's own variables.
      const prefix = store === 'postgres' ? 'PYWORKFLOW_POSTGRES' : 'PYWORKFLOW_MYSQL';
      const env = { PYWORKFLOW_STORAGE_TYPE: store, [`${prefix}_HOST`]: '127.0.0.1', [`${prefix}_PORT`]: String(port), [`${prefix}_USER`]: 'admin', [`${prefix}_PASSWORD`]: password };
      return { config: 'env', env, unparsable: false };
    }
  }
}

/**
 * The property, through the built CLI: random passwords in every placement against `store` on
 * 127.0.0.1:`port`, any output and log format. The password is never on stdout, stderr or in the
 * termination log; an unparsable config exits 2 naming "dsn"; otherwise the connection fails (exit 1)
 * with `connectionFailure` in the log, which shows the host was read as written.
 */
export async function checkPasswordsNeverLeak(options: {
  stores: readonly ('postgres' | 'mysql')[];
  port: number;
  connectionFailure: RegExp;
  numRuns: number;
}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pywr-secrets-'));
  let n = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...options.stores),
        fc.constantFrom(...PLACEMENTS),
        passwordArb,
        fc.constantFrom('json', 'text'),
        fc.constantFrom('json', 'text'),
        async (store, placement, password, output, logFormat) => {
          const { storage, env, unparsable } = configWithPassword(store, placement, password, options.port);
          const log = join(dir, `termination-log-${++n}`);
          const r = await runCli(
            ['sweep', '--storage', storage, '--retention-days', '30', '--output', output, '--log-format', logFormat,
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
            expect(r.stderr).toMatch(options.connectionFailure);
            expect(JSON.parse(written)).toMatchObject({ outcome: 'failed', error: { code: 'CONNECTION_FAILED' } });
          }
        },
      ),
      {
        numRuns: options.numRuns,
        examples: [
          [options.stores[0]!, 'dsn-raw', 'p@ss/S3cr3t', 'json', 'json'],
          [options.stores[options.stores.length - 1]!, 'dsn-raw', 'p@ss/S3cr3t', 'text', 'text'],
          [options.stores[0]!, 'env-dsn', 'pa?ss#S3cr3t', 'text', 'json'],
        ],
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
