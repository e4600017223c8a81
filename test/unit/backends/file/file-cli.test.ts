// `pyworkflow-retention sweep` on file stores it must refuse: exit 1, a message naming the cause, and
// nothing deleted. (The same through the built binary: test/integration/file-cli.test.ts.)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSweepCommand } from '../../../../src/cli/sweep-command.js';
import { emptyDataset } from '../../../../src/model/dataset.js';
import { dumpFileStore } from '../../../support/stores/file-store.js';
import { seedFileStore } from '../../../../src/backends/file/seed.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pywr-file-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function stream(): { s: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const s = { isTTY: false, write: (chunk: string) => ((out += chunk), true) } as unknown as NodeJS.WriteStream;
  return { s, text: () => out };
}

async function sweepCli(basePath: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = stream();
  const stderr = stream();
  const code = await runSweepCommand(
    ['--storage', JSON.stringify({ type: 'file', base_path: basePath }), '--older-than', '2026-05-01T00:00:00Z', '--output', 'json', '--progress', 'none', ...extra],
    { stdout: stdout.s, stderr: stderr.s, env: {}, now: () => new Date('2026-06-01T00:00:00Z'), signal: new AbortController().signal },
  );
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function oldRunStore(base: string): void {
  const d = emptyDataset();
  const old = new Date('2026-01-01T00:00:00Z');
  d.runs.push({
    run_id: 'run_0123456789abcdef', workflow_name: 'wf', status: 'completed', created_at: old, updated_at: old, started_at: null,
    completed_at: old, idempotency_key: null, parent_run_id: null, nesting_depth: 0, continued_from_run_id: null,
    continued_to_run_id: null, input_args: '[]', input_kwargs: '{}', result: null, error: null, context: '{}',
  });
  seedFileStore(base, d);
}

describe('sweep --storage file', () => {
  it('fails with exit 1 when base_path does not exist', async () => {
    const r = await sweepCli(join(dir, 'missing'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/file .*missing: base_path does not exist/);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'failed', error: { code: 'CONNECTION_FAILED' } });
  });

  it('refuses an unknown layout, naming what is unknown and what is supported, and deletes nothing', async () => {
    const base = join(dir, 'data');
    oldRunStore(base);
    mkdirSync(join(base, 'workflow_blobs'));
    const before = dumpFileStore(base);
    const r = await sweepCli(base);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown pyworkflow schema \(unexpected top-level entries: workflow_blobs\); supported: .*file:v0\.2\.4\+/);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'failed', error: { code: 'UNKNOWN_SCHEMA' }, deleted: { runs: 0 } });
    expect(dumpFileStore(base)).toEqual(before);
  });

  it('treats a directory pyworkflow never opened as empty, and sweeps a real one', async () => {
    mkdirSync(join(dir, 'fresh'));
    const empty = await sweepCli(join(dir, 'fresh'));
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toMatchObject({ outcome: 'succeeded', schemaVersion: 'file:empty' });

    const base = join(dir, 'data');
    oldRunStore(base);
    writeFileSync(join(base, 'runs', 'run_0123456789abcdef.cancel'), '2026-01-01T00:00:00+00:00');
    const r = await sweepCli(base);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'succeeded', schemaVersion: 'file:v0.2.4+', deleted: { runs: 1, cancellationFlags: 1 } });
  });
});
