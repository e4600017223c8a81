// The file backend's orphan sweep (--orphans, H24): per-run files of run ids without a run file go when
// all of them are older than the cutoff; young groups, stream-step checkpoints and runs with a record stay.
import { existsSync, readdirSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileBackend } from '../../../../src/backends/file/file-backend.js';
import { tryAcquire } from '../../../../src/backends/flock.js';
import { sweep } from '../../../../src/engine/sweep.js';
import { createLogger } from '../../../../src/log.js';
import type { Dataset } from '../../../../src/model/dataset.js';
import { runCli } from '../../../support/cli.js';
import { addFullGroup, CUTOFF, OLD, ORPHAN_COUNTS, orphanScenario, orphanSweepOptions as options } from '../../../support/orphan-scenario.js';
import { fileStoreFixture, lockFiles } from '../../../support/stores/file-store.js';
import type { StoreHandle } from '../../../support/stores/store-fixture.js';

const handles: StoreHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.destroy();
});

async function store(d: Dataset): Promise<{ h: StoreHandle; base: string }> {
  const h = await fileStoreFixture.create(d);
  handles.push(h);
  const base = h.storageConfig.base_path as string;
  // Checkpoint files hold only the step's data: their age is their mtime.
  for (const name of readdirSync(join(base, 'checkpoints'))) utimesSync(join(base, 'checkpoints', name), OLD, OLD);
  return { h, base };
}

/** What must stay byte-identical: everything of the young groups, the stream-step checkpoint and the runs with a record. */
function kept(dump: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(dump).filter(([path]) => /run_young|run_live|run_recent|ba9876543210|checkpoints\/stream_step/.test(path)));
}

describe('file orphan sweep', () => {
  it('purges old orphan groups with exact counts and leaves young groups, stream-step checkpoints and runs with a record', async () => {
    const { h, base } = await store(orphanScenario());
    const before = await h.dump();
    const report = await sweep(h.backend(), options());
    expect(report.outcome, report.error?.message).toBe('succeeded');
    expect(report.deleted).toMatchObject(ORPHAN_COUNTS);

    const after = await h.dump();
    expect(kept(after)).toEqual(kept(before));
    expect(Object.keys(after).filter((p) => /run_gone|0123456789ab\.jsonl/.test(p))).toEqual([]);
    expect(after['_token_index.json']!.filter((t) => t.includes('run_gone'))).toEqual([]);
    expect(after['_token_index.json']).toEqual(before['_token_index.json']!.filter((t) => !t.includes('run_gone')));
    // Lock files of purged groups go with them (ours too: we took the run locks); the others stay.
    expect(lockFiles(base).filter((l) => l.includes('run_gone') || /^(events_)?stream_step_consume_0123456789ab/.test(l))).toEqual([]);
    expect(lockFiles(base)).toEqual(expect.arrayContaining([
      'events_run_young.lock', 'run_live.lock', 'events_run_live.lock', 'checkpoint_run_live:step_a.lock', 'checkpoint_stream_step_consume_0123456789ab.lock',
    ]));

    // Nothing left to do: a second sweep finds nothing.
    const again = await sweep(h.backend(), options());
    expect(again.deleted).toMatchObject({ events: 0, hooks: 0, steps: 0, cancellationFlags: 0, checkpoints: 0 });
  });

  it('dry run: the same counts, no file changed and no lock file created', async () => {
    const { h, base } = await store(orphanScenario());
    const before = await h.dump();
    const locks = lockFiles(base);
    const dry = await sweep(h.backend(), options({ dryRun: true }));
    expect(dry.deleted).toMatchObject(ORPHAN_COUNTS);
    expect(await h.dump()).toEqual(before);
    expect(lockFiles(base)).toEqual(locks);
  });

  it('finishes what an interrupted sweep left: tokens whose hook file is gone, a flag dated only by its mtime', async () => {
    const { h, base } = await store(orphanScenario());
    // As a sweep killed after the hook files, or pyworkflow's own retention (H3), leaves it.
    unlinkSync(join(base, 'hooks', 'run_gone_c__hook_x_1.json'));
    writeFileSync(join(base, 'runs', 'run_gone_d.cancel'), 'not a timestamp');
    utimesSync(join(base, 'runs', 'run_gone_d.cancel'), OLD, OLD);
    writeFileSync(join(base, 'runs', 'run_young_d.cancel'), 'not a timestamp'); // mtime now: young
    const report = await sweep(h.backend(), options());
    expect(report.deleted).toMatchObject({ ...ORPHAN_COUNTS, hooks: 2, cancellationFlags: 2 });
    expect((await h.dump())['_token_index.json']!.filter((t) => t.includes('run_gone'))).toEqual([]);
    expect(existsSync(join(base, 'runs', 'run_gone_d.cancel'))).toBe(false);
    expect(existsSync(join(base, 'runs', 'run_young_d.cancel'))).toBe(true);
  });

  it('keeps the data of a run whose record appears while the orphan sweep waits for its lock', async () => {
    const d = orphanScenario();
    addFullGroup(d, 'run_appears');
    const { h, base } = await store(d);
    const before = await h.dump();
    // pyworkflow's create_run holds the run's lock while it writes the run file.
    const creator = tryAcquire(join(base, '.locks', 'run_appears.lock'))!;
    const lines: string[] = [];
    const logger = createLogger({ write: (l) => lines.push(l), level: 'debug' });
    let created = false;
    const report = await sweep(new FileBackend({ type: 'file', base_path: base }, { logger }), options({
      logger,
      onProgress: (p) => {
        if (p.phase !== 'orphans' || created) return;
        created = true;
        setTimeout(() => {
          writeFileSync(join(base, 'runs', 'run_appears.json'), readFileSync(join(base, 'runs', 'run_live.json'), 'utf8').replaceAll('run_live', 'run_appears'));
          creator.release();
        }, 300);
      },
    }));
    expect(report.outcome, report.error?.message).toBe('succeeded');
    expect(report.deleted).toMatchObject(ORPHAN_COUNTS);
    expect(lines.some((l) => l.includes('its run record appeared') && l.includes('run_appears'))).toBe(true);
    const after = await h.dump();
    const ofAppearing = (dump: Record<string, string[]>): Record<string, string[]> =>
      Object.fromEntries(Object.entries(dump).filter(([p]) => p.includes('run_appears') && p !== 'runs/run_appears.json'));
    expect(ofAppearing(after)).toEqual(ofAppearing(before));
    expect(Object.keys(ofAppearing(after)).length).toBeGreaterThanOrEqual(5);
    expect(after['_token_index.json']!.filter((t) => t.includes('run_appears'))).toHaveLength(2);
  });

  it('--orphans through the built CLI: exit 0 and the counts in the JSON result', async () => {
    const { h, base } = await store(orphanScenario());
    const before = await h.dump();
    const args = ['sweep', '--storage', JSON.stringify(h.storageConfig), '--older-than', CUTOFF.toISOString(), '--no-housekeeping', '--output', 'json', '--orphans'];
    const dry = await runCli([...args, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(await h.dump()).toEqual(before);
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { outcome: string; deleted: Record<string, number> };
    expect(result.outcome).toBe('succeeded');
    expect(result.deleted).toMatchObject(ORPHAN_COUNTS);
    expect((JSON.parse(dry.stdout) as { deleted: unknown }).deleted).toEqual(result.deleted);
    expect(readdirSync(join(base, 'events')).sort()).toEqual(['run_live.jsonl', 'run_recent.jsonl', 'run_young.jsonl', 'stream_step_consume_ba9876543210.jsonl']);
  });
});
