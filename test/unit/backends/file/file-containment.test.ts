// Property: run ids drawn from a hostile alphabet (`..`, `/`, `\`, NUL, absolute paths, very long names,
// look-alikes of `/` and `.`) planted in every place the file store reads run ids from never make a sweep
// (dry or real, with --orphans) touch anything outside the store, byte for byte; the legitimate runs are
// still swept exactly as the oracle says, and every unsafe id is counted once as skippedUnsafe.
import { existsSync, readFileSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TOKEN_INDEX_FILE } from '../../../../src/backends/file/layout.js';
import { sweep } from '../../../../src/engine/sweep.js';
import { createLogger } from '../../../../src/log.js';
import { generateDataset } from '../../../../src/model/generate.js';
import { expectedAfterSweep } from '../../../support/oracle.js';
import { fileStoreFixture } from '../../../support/stores/file-store.js';
import { sweepScenario } from '../../../support/sweep-property.js';
import { treeHash } from '../../../support/tree-hash.js';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = 86_400_000;
/** Younger than any cutoff of the scenarios: a planted group with a safe id is young, so it stays whole. */
const YOUNG = '2026-05-31T12:00:00.000000+00:00';
const ABSOLUTE = '<abs>';
const OLD = new Date('2025-01-01T00:00:00Z');
const OLD_TS = '2025-01-01T00:00:00.000000+00:00';

// No `:` or `_`: then every place names the whole id (token owners end at the first `:`, hook file owners at `__`).
const piece = fc.constantFrom('..', '.', '/', '\\', '\0', '\u2215', '\uFF0E', '\uFF0E\uFF0E', 'x', 'hx', 'ä', 'a'.repeat(250), ABSOLUTE);
const hostileIds = fc.uniqueArray(
  fc.record({ id: fc.array(piece, { minLength: 1, maxLength: 6 }).map((a) => a.join('')), withRecord: fc.boolean() }),
  { minLength: 1, maxLength: 8, selector: (x) => x.id },
);

/** The rule, restated independently of src: one name segment, usable in every file name the store derives. */
function unsafe(id: string): boolean {
  return id === '' || id === '.' || id === '..' || /[/\\\0]/.test(id) || Buffer.byteLength(id) > 243;
}

/** What a file name (a directory entry) can hold at all. */
function nameable(name: string): boolean {
  return !/[/\0]/.test(name) && Buffer.byteLength(name) <= 255 && name !== '.' && name !== '..';
}

type Counts = { events: number; steps: number; hooks: number; cancellationFlags: number; checkpoints: number };

/**
 * Plants every id everywhere ids are read from. An id planted `withRecord` has a young running run
 * file and young records (nobody's orphan: it all stays); otherwise it is an old orphan group, which
 * goes when its id is safe and stays untouched when not. Returns the orphan counts of the groups that
 * go; with `onlyKept` plants just what must remain (the expected store).
 */
function plant(base: string, ids: readonly { id: string; withRecord: boolean }[], onlyKept = false): Counts {
  const counts: Counts = { events: 0, steps: 0, hooks: 0, cancellationFlags: 0, checkpoints: 0 };
  const tokens = existsSync(join(base, TOKEN_INDEX_FILE)) ? (JSON.parse(readFileSync(join(base, TOKEN_INDEX_FILE), 'utf8')) as Record<string, string>) : {};
  ids.forEach(({ id, withRecord }, i) => {
    const goes = !withRecord && !unsafe(id);
    if (goes && onlyKept) return;
    const at = withRecord ? YOUNG : OLD_TS;
    const write = (dir: string, name: string, text: string): boolean => {
      if (!nameable(name)) return false;
      writeFileSync(join(base, dir, name), text);
      if (!withRecord) utimesSync(join(base, dir, name), OLD, OLD);
      return true;
    };
    // Content: token values and keys, step files, legacy hook files.
    tokens[`hostile_tok_${i}`] = `${id}:hook_${i}`;
    tokens[`${id}:hostile_key_${i}`] = `hook_k${i}`;
    tokens[`legacy_tok_${i}`] = `hostilehook${i}`;
    write('steps', `hostile_step_${i}.json`, JSON.stringify({ step_id: `hostile_step_${i}`, run_id: id, created_at: at, updated_at: at }));
    write('hooks', `hostilehook${i}.json`, JSON.stringify({ hook_id: `hostilehook${i}`, run_id: id, token: `legacy_tok_${i}`, created_at: at }));
    const add = { events: 0, steps: 1, hooks: 1, cancellationFlags: 0, checkpoints: 0 };
    // Names: run files, cancellation flags, event logs, hook files, checkpoints.
    if (withRecord) write('runs', `${id}.json`, JSON.stringify({ run_id: id, status: 'running', updated_at: YOUNG, parent_run_id: null }));
    if (write('runs', `${id}.cancel`, at)) add.cancellationFlags += 1;
    if (write('events', `${id}.jsonl`, `${JSON.stringify({ event_id: `e${i}`, run_id: id, timestamp: at })}\n`)) add.events += 1;
    if (write('hooks', `${id}__hook_${i}.json`, JSON.stringify({ hook_id: `hook_${i}`, run_id: id, created_at: at }))) add.hooks += 1;
    if (write('checkpoints', `${id}:step_${i}.json`, '{}')) add.checkpoints += 1;
    if (goes) for (const k of Object.keys(counts) as (keyof Counts)[]) counts[k] += add[k];
  });
  writeFileSync(join(base, TOKEN_INDEX_FILE), JSON.stringify(tokens, null, 2));
  return counts;
}

/** Old files beside the store where a naive join of the planted ids would land. */
function plantWitnesses(dir: string): void {
  for (const sub of ['', 'sub', 'events']) {
    mkdirSync(join(dir, sub), { recursive: true });
    for (const name of ['x', 'hx', 'notes', '\u2215', '.']) {
      for (const suffix of ['.json', '.jsonl', '.cancel', '.lock', ':step_0.json']) {
        const path = join(dir, sub, `${name}${suffix}`);
        writeFileSync(path, `precious ${sub}/${name}${suffix}\n`);
        utimesSync(path, OLD, OLD);
      }
    }
  }
}

describe('file store containment', () => {
  it('hostile run ids planted everywhere: nothing outside the store changes, the legit runs go as the oracle says, unsafe ids are counted', async () => {
    await fc.assert(
      fc.asyncProperty(sweepScenario, hostileIds, async (s, rawIds) => {
        const cutoff = new Date(NOW.getTime() - s.retentionDays * DAY);
        const data = fileStoreFixture.adapt(
          generateDataset({ seed: s.seed, runs: Math.min(s.runs, 40), now: NOW, spanDays: s.spanDays, eventsPerRun: s.eventsPerRun, edges: [cutoff] }),
        );
        const expected = expectedAfterSweep(data, { cutoff, statuses: s.statuses, housekeeping: s.housekeeping });
        const store = await fileStoreFixture.create(data);
        const want = await fileStoreFixture.create(expected.remaining);
        try {
          const base = store.storageConfig.base_path as string;
          const dir = dirname(base);
          const ids = rawIds.map(({ id, withRecord }) => ({ id: id.replaceAll(ABSOLUTE, `${dir}/`), withRecord }));
          const orphans = plant(base, ids);
          plant(want.storageConfig.base_path as string, ids, true);
          plantWitnesses(dir);
          const witness = treeHash(dir, base);
          const warnings: string[] = [];
          const logger = createLogger({ level: 'warn', write: (l) => warnings.push(l) });
          const options = {
            cutoff, statuses: s.statuses, batchSize: s.batchSize, housekeeping: s.housekeeping, orphanCutoff: cutoff, lockWaitMs: 1000,
            signal: new AbortController().signal, now: () => NOW, logger,
          };
          const skipped = ids.filter(({ id }) => unsafe(id)).length;
          const counts = { ...expected.counts };
          for (const k of Object.keys(orphans) as (keyof Counts)[]) counts[k] = (counts[k] ?? 0) + orphans[k];

          const before = await store.dump();
          const dry = await sweep(store.backend(), { ...options, dryRun: true });
          expect(dry.outcome, dry.error?.message).toBe('succeeded');
          expect(dry.deleted).toEqual(counts);
          expect(dry.skippedUnsafe ?? 0, warnings.join('\n')).toBe(skipped);
          expect(await store.dump()).toEqual(before);
          expect(treeHash(dir, base)).toBe(witness);

          const real = await sweep(store.backend(), { ...options, dryRun: false });
          expect(real.outcome, real.error?.message).toBe('succeeded');
          expect(real.deleted).toEqual(counts);
          expect(real.skippedUnsafe ?? 0).toBe(skipped);
          expect(treeHash(dir, base)).toBe(witness);
          expect(await store.dump()).toEqual(await want.dump());
        } finally {
          await store.destroy();
          await want.destroy();
        }
      }),
      { numRuns: 30 },
    );
  }, 300_000);
});
