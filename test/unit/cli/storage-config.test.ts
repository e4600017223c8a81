import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadStorageConfig } from '../../../src/config/storage-config.js';

describe('storage config with pyworkflow keys', () => {
  it('accepts each backend with its pyworkflow keys', () => {
    expect(loadStorageConfig('{"type":"sqlite","base_path":"/data/pyworkflow.db"}')).toEqual({ type: 'sqlite', base_path: '/data/pyworkflow.db' });
    expect(loadStorageConfig('{"type":"postgres","host":"db","port":5432,"user":"u","password":"p","database":"d"}').type).toBe('postgres');
    expect(loadStorageConfig('{"type":"citus","dsn":"postgresql://u:p@h/d"}').type).toBe('citus');
    expect(loadStorageConfig('{"type":"mysql","host":"db","port":3306}').type).toBe('mysql');
    expect(loadStorageConfig('{"type":"dynamodb","table_name":"pyworkflow","region":"eu-west-1","endpoint_url":"http://127.0.0.1:8000"}').type).toBe('dynamodb');
    expect(loadStorageConfig('{"type":"cassandra","contact_points":["10.0.0.1"],"keyspace":"pyworkflow","read_consistency":"LOCAL_QUORUM"}').type).toBe('cassandra');
  });

  it.each([
    ['{"type":"sqlite"}', /missing key "base_path"/],
    ['{"type":"sqlite","base_path":"x","basepath":"y"}', /unknown key "basepath"/],
    ['{"type":"postgres","port":"5432"}', /key "port" must be integer/],
    ['{"type":"redis"}', /key "type" must be one of/],
    ['{"type":"memory"}', /lives inside each pyworkflow process/],
    ['{"type":"cassandra","read_consistency":"SOME"}', /key "read_consistency" must be equal to one of the allowed values/],
    ['{"type":', /not valid JSON/],
    ['sqlite', /--storage must be inline JSON/],
    ['@/nonexistent/config.json', /cannot read \/nonexistent\/config.json: ENOENT/],
    ['{"type":"postgres","password":"${NOPE_NOT_SET}"}', /environment variable NOPE_NOT_SET, which is not set/],
  ])('%s is refused naming the problem', (value, message) => {
    expect(() => loadStorageConfig(value, {})).toThrow(message);
  });

  it('never echoes a value in an error', () => {
    expect(() => loadStorageConfig('{"type":"postgres","password":12345678}')).toThrow(/key "password" must be string/);
    try {
      loadStorageConfig('{"type":"postgres","password":12345678}');
    } catch (e) {
      expect((e as Error).message).not.toContain('12345678');
    }
  });

  it('never quotes YAML source in an error or a warning (an alias or a tag that is a password)', () => {
    const written: string[] = [];
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation((w) => void written.push(String(w)));
    const warn = vi.spyOn(console, 'warn').mockImplementation((...a: unknown[]) => void written.push(a.join(' ')));
    try {
      for (const text of ['type: postgres\npassword: *S3cr3tpass\n', 'type: postgres\nhost: h\npassword: !S3cr3tpass x\n']) {
        const dir = mkdtempSync(join(tmpdir(), 'pywr-cfg-'));
        writeFileSync(join(dir, 'c.yaml'), text);
        let message = '';
        try {
          loadStorageConfig(`@${join(dir, 'c.yaml')}`, {});
        } catch (e) {
          message = (e as Error).message;
        }
        expect(message).not.toContain('S3cr3t');
      }
      expect(written.join('\n')).not.toContain('S3cr3t');
    } finally {
      spy.mockRestore();
      warn.mockRestore();
    }
  });

  it('never quotes the text around a JSON syntax error (an unquoted password, say)', () => {
    for (const text of ['{"type":"postgres","password":S3cr3tpass}', '{"type":"postgres","dsn":"postgresql://u:S3cr3tpass@h/db" x}', 'S3cr3tpass']) {
      const dir = mkdtempSync(join(tmpdir(), 'pywr-cfg-'));
      writeFileSync(join(dir, 'c.json'), text);
      for (const value of [text, `@${join(dir, 'c.json')}`]) {
        let message = '';
        try {
          loadStorageConfig(value, {});
        } catch (e) {
          message = (e as Error).message;
        }
        if (value.startsWith('{') || value.startsWith('@')) expect(message).toMatch(/not valid JSON/);
        expect(message).not.toContain('S3cr3t');
      }
    }
  });

  it('reads the storage: section of a pyworkflow.config.yaml and expands ${VAR}', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pywr-cfg-'));
    const file = join(dir, 'pyworkflow.config.yaml');
    writeFileSync(file, 'retention_days: 30\nstorage:\n  type: postgres\n  host: db.internal\n  password: ${PGPASS}\n');
    expect(loadStorageConfig(`@${file}`, { PGPASS: 's3cret' })).toEqual({ type: 'postgres', host: 'db.internal', password: 's3cret' });
  });

  it('builds the config from pyworkflow environment variables', () => {
    expect(
      loadStorageConfig('env', { PYWORKFLOW_STORAGE_TYPE: 'Postgres', PYWORKFLOW_POSTGRES_HOST: 'h', PYWORKFLOW_POSTGRES_PORT: '5433', PYWORKFLOW_POSTGRES_PASSWORD: 'pw' }),
    ).toEqual({ type: 'postgres', host: 'h', port: 5433, password: 'pw' });
    expect(loadStorageConfig('env', { PYWORKFLOW_STORAGE_BACKEND: 'sqlite', PYWORKFLOW_STORAGE_PATH: '/d/p.db' })).toEqual({ type: 'sqlite', base_path: '/d/p.db' });
    expect(() => loadStorageConfig('env', {})).toThrow(/PYWORKFLOW_STORAGE_TYPE is not set/);
  });
});
