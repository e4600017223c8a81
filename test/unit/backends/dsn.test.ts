// Credentials in every shape of SQL storage config: a DSN that does not parse is refused before any
// lookup, naming the key and never the secret; the redactor hides the password however it was written;
// and no error a backend throws on a failed connection carries it. No server needed: 127.0.0.1:1
// refuses every connection.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dsnSecrets, dsnShapeProblem, percentDecode } from '../../../src/backends/dsn.js';
import { describeEndpoint as describeMysql, resolveEndpoint as resolveMysql } from '../../../src/backends/mysql/connection.js';
import { describeEndpoint as describePostgres, resolveEndpoint as resolvePostgres } from '../../../src/backends/postgres/connection.js';
import { createBackend, secretsOf } from '../../../src/backends/registry.js';
import { createRedactor } from '../../../src/cli/redact.js';
import { loadStorageConfig, type StorageConfig } from '../../../src/config/storage-config.js';
import { RetentionError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import type { PostgresConfig } from '../../../src/backends/postgres/config.js';
import { configWithPassword, passwordArb, PLACEMENTS } from '../../support/secrets.js';

const STORES = ['postgres', 'mysql'] as const;

function resolve(config: StorageConfig): { target: string; host: string; port: number; user: string; password: string } {
  if (config.type === 'mysql') {
    const e = resolveMysql(config);
    return { ...e, target: describeMysql(e) };
  }
  const e = resolvePostgres(config as PostgresConfig);
  return { ...e, target: describePostgres(config.type, e) };
}

/** Every text an error carries out of the process: message, stack, and the same for its causes. */
function errorTexts(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return [err.message, err.stack ?? '', err.cause === undefined ? '' : errorTexts(err.cause)].join('\n');
}

describe('DSN shape', () => {
  // [DSN, the password as written, a part of it an error could show as a host or database name]
  it.each([
    ['postgresql://admin:p@ss/S3cr3t@127.0.0.1:1/db', 'p@ss/S3cr3t', 'S3cr3t'],
    ['postgresql://admin:p@ssS3cr3t@127.0.0.1:1/db', 'p@ssS3cr3t', 'ssS3cr3t'],
    ['postgresql://admin:pa/ssS3cr3t@127.0.0.1:1/db', 'pa/ssS3cr3t', 'ssS3cr3t'],
    ['postgresql://admin:12?ssS3cr3t@127.0.0.1:1/db', '12?ssS3cr3t', 'ssS3cr3t'],
    ['postgresql://admin:12?x=S3cr3t@127.0.0.1:1/db', '12?x=S3cr3t', 'S3cr3t'],
    ['postgresql://admin:pa#ssS3cr3t@127.0.0.1:1/db', 'pa#ssS3cr3t', 'ssS3cr3t'],
    ['postgresql://admin:pa\tssS3cr3t@127.0.0.1:1/db', 'pa\tssS3cr3t', 'ssS3cr3t'],
    ['postgresql://127.0.0.1:1/db?password=p@ssS3cr3t', 'p@ssS3cr3t', 'ssS3cr3t'],
    ['mysql://admin:p@ss/S3cr3t@127.0.0.1:1/db', 'p@ss/S3cr3t', 'S3cr3t'],
    ['mysql://admin:p@ssS3cr3t@127.0.0.1:1/db', 'p@ssS3cr3t', 'ssS3cr3t'],
    ['mysql://admin:pa?ssS3cr3t@127.0.0.1:1/db', 'pa?ssS3cr3t', 'ssS3cr3t'],
  ])('%s is refused as bad input naming "dsn" and not the secret', (dsn, password, part) => {
    const type = dsn.startsWith('mysql') ? 'mysql' : 'postgres';
    const config = loadStorageConfig(JSON.stringify({ type, dsn }), {});
    let caught: unknown;
    try {
      resolve(config);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RetentionError);
    expect(caught).toMatchObject({ code: 'INVALID_STORAGE_CONFIG', exitCode: 2 });
    expect((caught as Error).message).toMatch(new RegExp(`^${type} storage config: "dsn" `));
    expect(errorTexts(caught)).not.toContain(part);
    // And the redactor hides the whole password as written, whichever parser would have been right.
    const redact = createRedactor(secretsOf(config));
    expect(redact(`${dsn} | ${password} | ${encodeURIComponent(password)}`)).not.toContain(password);
  });

  it.each([
    ['postgresql://admin:p%40ss%2FS3cr3t@127.0.0.1:1/db', 'p@ss/S3cr3t'],
    ['postgresql://admin:pa:ss%zz@127.0.0.1:1/db', 'pa:ss%zz'],
    ['postgresql://admin:pa ss@127.0.0.1:1/db', 'pa ss'],
    ['postgresql://127.0.0.1:1/db?user=admin&password=p%40ss%2FS3cr3t', 'p@ss/S3cr3t'],
    ['mysql://admin:p%40ss%2FS3cr3t@127.0.0.1:1/db', 'p@ss/S3cr3t'],
  ])('%s parses, with the password %j', (dsn, password) => {
    const type = dsn.startsWith('mysql') ? 'mysql' : 'postgres';
    const e = resolve(loadStorageConfig(JSON.stringify({ type, dsn }), {}));
    expect(e).toMatchObject({ host: '127.0.0.1', port: 1, user: 'admin', password });
    expect(e.target).not.toContain(password);
  });

  it('decodes percent escapes like urllib.parse.unquote, leaving a stray % as it is', () => {
    expect(percentDecode('p%40ss%2f%zz%4%C3%A9')).toBe('p@ss/%zz%4é');
  });

  it('finds the secrets of a DSN that does not parse: everything between :// and the last @', () => {
    const secrets = dsnSecrets('postgresql://admin:p@ss/S3cr3t@127.0.0.1:1/db');
    expect(secrets).toContain('p@ss/S3cr3t');
    expect(secrets).toContain('admin:p@ss/S3cr3t');
    // A user name alone is no secret in a DSN that parses.
    expect(dsnSecrets('postgresql://admin@db/x')).toEqual(['postgresql://admin@db/x']);
    expect(dsnShapeProblem('postgresql://admin@db/x')).toBeNull();
  });
});

describe('a password never leaks, wherever the config holds it', () => {
  it('resolving the config either refuses it naming "dsn" (exactly when it does not parse) or names the target without the password; the redactor hides it in every encoding', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STORES), fc.constantFrom(...PLACEMENTS), passwordArb, (store, placement, password) => {
        const { storage, env, unparsable } = configWithPassword(store, placement, password, 1);
        const config = loadStorageConfig(storage, env);
        let endpoint: ReturnType<typeof resolve> | undefined;
        try {
          endpoint = resolve(config);
        } catch (err) {
          expect(unparsable).toBe(true);
          expect(err).toMatchObject({ code: 'INVALID_STORAGE_CONFIG', exitCode: 2 });
          expect((err as Error).message).toContain('"dsn"');
          expect(errorTexts(err)).not.toContain(password);
        }
        if (endpoint !== undefined) {
          expect(unparsable).toBe(false);
          // Read where it was written: the host never swallowed part of the password (no DNS lookup).
          expect(endpoint).toMatchObject({ host: '127.0.0.1', port: 1 });
          if (placement !== 'dsn-raw' && placement !== 'env-dsn' && !(store === 'mysql' && placement === 'query')) {
            expect(endpoint.password).toBe(password);
          }
          expect(endpoint.target).not.toContain(password);
        }
        const redact = createRedactor(secretsOf(config));
        const text = `dsn=${String((config as { dsn?: string }).dsn)} pw=${password} enc=${encodeURIComponent(password)} ${JSON.stringify({ password })}`;
        expect(redact(text)).not.toContain(password);
        expect(redact(text)).not.toContain(encodeURIComponent(password));
      }),
      { numRuns: 1000 },
    );
  });

  it('no error from a failed connection carries it (in-process, every placement, both drivers)', async () => {
    const logged: string[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => logged.push(line) });
    const passwords: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...STORES), fc.constantFrom(...PLACEMENTS), passwordArb, async (store, placement, password) => {
        passwords.push(password);
        const { storage, env } = configWithPassword(store, placement, password, 1);
        const config = loadStorageConfig(storage, env);
        let caught: unknown;
        try {
          const backend = await createBackend(config, { logger });
          expect(backend.target).not.toContain(password);
          try {
            await backend.open();
          } finally {
            await backend.close();
          }
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(RetentionError);
        expect(errorTexts(caught)).not.toContain(password);
        expect(errorTexts(caught)).not.toContain(encodeURIComponent(password));
        if ((caught as RetentionError).code === 'CONNECTION_FAILED') expect((caught as Error).message).toMatch(/ECONNREFUSED/);
        else expect(caught).toMatchObject({ code: 'INVALID_STORAGE_CONFIG', exitCode: 2 });
      }),
      { numRuns: 60 },
    );
    const log = logged.join('\n');
    for (const p of passwords) expect(log).not.toContain(p);
  });
});

describe('a password in a JSON log line', () => {
  it('is redacted also in the escaped form JSON serialisation gives it', () => {
    const password = 'pa"ss\\wo\trd';
    const redact = createRedactor(secretsOf({ type: 'postgres', host: '127.0.0.1', password } as unknown as StorageConfig));
    const line = JSON.stringify({ msg: 'connect failed', detail: `auth failed for ${password}` });
    expect(redact(line)).not.toContain(JSON.stringify(password).slice(1, -1));
    expect(redact(line)).not.toContain('wo\\trd');
  });
});
