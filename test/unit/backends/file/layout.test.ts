// Layout detection of pyworkflow's file store (docs/storage.md#detection-other).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectFileLayout, FilePaths } from '../../../../src/backends/file/layout.js';
import type { RetentionError} from '../../../../src/errors.js';
import { UnknownSchemaError } from '../../../../src/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pywr-layout-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ALWAYS = ['runs', 'events', 'steps', 'hooks', 'schedules', '.locks'];
const make = (...names: string[]): void => names.forEach((n) => mkdirSync(join(dir, n)));
const detect = () => detectFileLayout(new FilePaths(dir), 'file test');

describe('detectFileLayout', () => {
  it.each([
    ['file:legacy', [...ALWAYS]],
    ['file:v0.2.0b1+', [...ALWAYS, 'checkpoints']],
    ['file:v0.2.4+', [...ALWAYS, 'checkpoints', 'streams', 'signals', 'subscriptions', 'acknowledgments']],
  ])('recognises %s', (version, dirs) => {
    make(...dirs);
    writeFileSync(join(dir, '_token_index.json'), '{}');
    expect(detect()).toMatchObject({ schemaVersion: version, empty: false });
  });

  it('calls a directory pyworkflow never opened empty', () => {
    expect(detect()).toMatchObject({ schemaVersion: 'file:empty', empty: true });
    make('lost+found');
    expect(detect()).toMatchObject({ empty: true });
  });

  it('tolerates lost+found, NFS silly-rename files and our own temp files', () => {
    make(...ALWAYS, 'lost+found');
    writeFileSync(join(dir, '.nfs000000000123abcd00000001'), '');
    writeFileSync(join(dir, '_token_index.json.retention-tmp-123-0badcafe'), '{}');
    expect(detect().schemaVersion).toBe('file:legacy');
  });

  it('refuses unknown entries, naming them and what it supports', () => {
    make(...ALWAYS, 'checkpoints', 'workflows_v2');
    writeFileSync(join(dir, 'notes.txt'), '');
    const err = (() => {
      try {
        detect();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UnknownSchemaError);
    expect((err as Error).message).toMatch(/workflows_v2/);
    expect((err as Error).message).toMatch(/notes\.txt/);
    expect((err as Error).message).toMatch(/supported: .*file:v0\.2\.4\+/);
    expect((err as Error).message).toMatch(/Nothing was deleted/);
  });

  it.each([
    ['a missing directory', () => make('runs', 'events', 'hooks', 'schedules', '.locks'), /missing steps/],
    ['some stream directories only', () => make(...ALWAYS, 'checkpoints', 'streams', 'signals'), /only some stream directories/],
    ['a file where a directory belongs', () => (make('events', 'steps', 'hooks', 'schedules', '.locks'), writeFileSync(join(dir, 'runs'), '')), /runs \(a file/],
  ])('refuses %s', (_what, setup, message) => {
    setup();
    expect(detect).toThrow(UnknownSchemaError);
    expect(detect).toThrow(message);
  });

  it('says clearly when base_path does not exist or is not a directory', () => {
    expect(() => detectFileLayout(new FilePaths(join(dir, 'nope')), 'file x')).toThrow(/base_path does not exist/);
    writeFileSync(join(dir, 'f'), '');
    const err = (() => {
      try {
        detectFileLayout(new FilePaths(join(dir, 'f')), 'file x');
      } catch (e) {
        return e as RetentionError;
      }
    })();
    expect(err?.code).toBe('CONNECTION_FAILED');
    expect(err?.message).toMatch(/not a directory/);
  });
});
