// Needs: real pyworkflow (PYWORKFLOW_PYTHON, PYWORKFLOW_DRIVER) writing a real file store, and the built CLI.
// The reproduction of issue 8 item 1: run ids in the store's own contents that point outside it
// (`_token_index.json` values, a step file's run_id, a legacy hook file's absolute run_id) never make a
// sweep read, count or delete anything outside the store; they are named in a warning and counted.
import { mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SweepReport } from '../../src/engine/report.js';
import { runCli } from '../support/cli.js';
import { pyworkflow, type Inspection, type Manifest } from '../support/pyworkflow.js';
import { treeHash } from '../support/tree-hash.js';

const DAY = 86_400_000;

describe('file store containment with a store written by real pyworkflow', () => {
  it('ids from _token_index.json, a step file and a legacy hook file that point outside never touch what is there', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pywr-contain-'));
    const base = join(root, 'store');
    const storage = { type: 'file', base_path: base };
    const iso = (daysAgo: number): string => new Date(Date.now() - daysAgo * DAY).toISOString();
    await pyworkflow('init', storage);
    const manifest = await pyworkflow<Manifest>('populate', storage, ['--spec', '-'], {
      runs: [
        { run_id: 'run_c0ffee0000000001', status: 'completed', updated_at: iso(60), created_at: iso(61), hooks: 1, steps: 1, checkpoints: 1, cancel: true },
        { run_id: 'run_c0ffee0000000002', status: 'completed', updated_at: iso(2), created_at: iso(3), hooks: 1 },
      ],
    });

    // The three old files beside the store, and what the step-file and absolute ids would name.
    const old = new Date(Date.now() - 400 * DAY);
    for (const name of ['notes.jsonl', 'notes.cancel', 'notes.lock', 'x.jsonl', 'x.cancel', 'x.lock', 'abs.jsonl', 'abs.cancel', 'abs.lock']) {
      writeFileSync(join(root, name), 'precious\n');
      utimesSync(join(root, name), old, old);
    }
    const indexPath = join(base, '_token_index.json');
    const tokens = JSON.parse(readFileSync(indexPath, 'utf8')) as Record<string, string>;
    tokens.tok = '../../notes:hk';
    tokens.tok_abs = `${root}/abs:hk`;
    writeFileSync(indexPath, JSON.stringify(tokens, null, 2));
    writeFileSync(join(base, 'steps', 'step_evil.json'), JSON.stringify({ step_id: 'step_evil', run_id: '../../x', created_at: iso(400), updated_at: iso(400) }));
    writeFileSync(join(base, 'hooks', 'hook_evil.json'), JSON.stringify({ hook_id: 'hook_evil', run_id: `${root}/abs`, token: 'tok_legacy_evil', created_at: iso(400) }));
    const witness = treeHash(root, base);
    const unsafeIds = ['../../notes', `${root}/abs`, '../../x'];

    const args = ['sweep', '--storage', JSON.stringify(storage), '--retention-days', '30', '--orphans', '--output', 'json'];
    const dry = await runCli([...args, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const dryResult = JSON.parse(dry.stdout) as SweepReport;
    expect(dryResult.skippedUnsafe).toBe(unsafeIds.length);
    expect(treeHash(root, base)).toBe(witness);

    const real = await runCli(args);
    expect(real.code, real.stderr).toBe(0);
    const result = JSON.parse(real.stdout) as SweepReport;
    expect(treeHash(root, base), 'nothing outside the store changed').toBe(witness);
    expect(result.skippedUnsafe).toBe(unsafeIds.length);
    // Each unsafe id is named (JSON-escaped) with where it came from.
    for (const id of unsafeIds) expect(real.stderr).toContain(JSON.stringify(JSON.stringify(id)).slice(1, -1));
    expect(real.stderr).toContain('_token_index.json');
    expect(real.stderr).toContain('steps/step_evil.json');
    expect(real.stderr).toContain('hooks/hook_evil.json');
    // The dry run counted what the sweep deleted, and nothing of the outside files (notes.jsonl has one line).
    expect(dryResult.deleted).toEqual(result.deleted);
    expect(result.deleted.runs).toBe(1);

    // The legitimate purge happened as pyworkflow sees it; the unsafe entries are left where they were.
    const ids = manifest.runs.map((r) => r.run_id).join(',');
    const after = await pyworkflow<Inspection>('inspect', storage, ['--run-ids', ids, '--manifest', '-'], manifest);
    expect(after.runs.run_c0ffee0000000001?.exists).toBe(false);
    expect(after.runs.run_c0ffee0000000002?.exists).toBe(true);
    const left = JSON.parse(readFileSync(indexPath, 'utf8')) as Record<string, string>;
    expect(left.tok).toBe('../../notes:hk');
    expect(left.tok_abs).toBe(`${root}/abs:hk`);
    expect(readdirSync(join(base, 'steps'))).toContain('step_evil.json');
    expect(readdirSync(join(base, 'hooks'))).toContain('hook_evil.json');
  }, 120_000);
});
