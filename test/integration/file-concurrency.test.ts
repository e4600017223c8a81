// Needs: real pyworkflow (PYWORKFLOW_PYTHON) and the built CLI. A live pyworkflow process appends events
// to kept runs, creates hooks (rewriting _token_index.json) and publishes signals while the CLI sweeps
// the same file store: nothing pyworkflow wrote may be lost or corrupted, and the sweep stays exact.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { seedFileStore } from '../../src/backends/file/seed.js';
import { generateDataset } from '../../src/model/generate.js';
import { startCli } from '../support/cli.js';
import { expectedAfterSweep } from '../support/oracle.js';
import { fileStoreFixture } from '../support/stores/file-store.js';
import { requireEnv } from '../support/test-env.js';
import { TERMINAL_STATUSES } from '../../src/engine/statuses.js';

const WRITER = fileURLToPath(new URL('../support/pyworkflow_file_writer.py', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'pywr-file-conc-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface WriterReport {
  ops: number;
  events: Record<string, number>;
  hook_tokens: string[];
  signals: { signal_id: string; stream_id: string; sequence: number }[];
}

describe('file sweep next to a live pyworkflow writer', () => {
  it('loses and corrupts nothing pyworkflow writes, and purges exactly what it would alone', async () => {
    const now = new Date();
    const cutoff = new Date(now.getTime() - 10 * 86_400_000);
    const data = fileStoreFixture.adapt(generateDataset({ seed: 5, runs: 2500, now, spanDays: 30, eventsPerRun: 4, edges: [cutoff] }));
    const expected = expectedAfterSweep(data, { cutoff, statuses: [...TERMINAL_STATUSES], housekeeping: true });
    const base = join(work, 'pyworkflow_data');
    seedFileStore(base, data);
    const kept = expected.remaining.runs.map((r) => r.run_id);
    const initialEvents = new Map<string, number>();
    for (const e of data.events) initialEvents.set(e.run_id, (initialEvents.get(e.run_id) ?? 0) + 1);

    const stopFile = join(work, 'stop');
    const writer = spawn(
      requireEnv('PYWORKFLOW_PYTHON'),
      [WRITER, '--base-path', base, '--runs', kept.slice(0, 300).join(','), '--streams', data.streams.map((s) => s.stream_id).join(','), '--stop-file', stopFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let writerOut = '';
    let writerErr = '';
    writer.stdout.on('data', (d: Buffer) => (writerOut += d.toString()));
    writer.stderr.on('data', (d: Buffer) => (writerErr += d.toString()));
    const writerDone = new Promise<number | null>((resolve) => writer.on('close', resolve));
    await new Promise((r) => setTimeout(r, 1500)); // let it get going

    const sweep = startCli([
      'sweep', '--storage', JSON.stringify({ type: 'file', base_path: base }), '--older-than', cutoff.toISOString(),
      '--batch-size', '5', '--output', 'json', '--progress', 'none',
    ]);
    const result = await sweep.done;
    await new Promise((r) => setTimeout(r, 500));
    writeFileSync(stopFile, '');
    expect(await writerDone, writerErr).toBe(0);
    const wrote = JSON.parse(writerOut) as WriterReport;
    console.log(`concurrency: pyworkflow did ${wrote.ops} writes (${Object.values(wrote.events).reduce((a, b) => a + b, 0)} events, ${wrote.hook_tokens.length} hooks, ${wrote.signals.length} signals) during the sweep`);
    expect(wrote.ops).toBeGreaterThan(100);

    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { deleted: Record<string, number> };
    expect(report.deleted).toEqual(expected.counts);

    // Kept runs: every event there, each log intact and numbered 1..n without gap or repeat.
    for (const runId of kept) {
      const path = join(base, 'events', `${runId}.jsonl`);
      const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '') : [];
      expect(lines.length, runId).toBe((initialEvents.get(runId) ?? 0) + (wrote.events[runId] ?? 0));
      expect(lines.map((l) => (JSON.parse(l) as { sequence: number }).sequence)).toEqual(lines.map((_, i) => i + 1));
    }
    // Token index: valid, every kept token (seeded and new) there, none of a purged run.
    const tokens = JSON.parse(readFileSync(join(base, '_token_index.json'), 'utf8')) as Record<string, string>;
    const wantTokens = [...expected.remaining.hooks.map((h) => h.token), ...wrote.hook_tokens].sort();
    expect(Object.keys(tokens).sort()).toEqual(wantTokens);
    for (const token of wrote.hook_tokens) expect(existsSync(join(base, 'hooks', `${token.replace(':', '__')}.json`)), token).toBe(true);
    // Signals: every published one there, sequences unique per stream run.
    for (const name of readdirSync(join(base, 'signals'))) {
      const list = JSON.parse(readFileSync(join(base, 'signals', name), 'utf8')) as { signal_id: string; sequence: number; stream_run_id: string | null }[];
      const keys = list.map((s) => `${s.stream_run_id}#${s.sequence}`);
      expect(new Set(keys).size, name).toBe(keys.length);
    }
    const signalIds = new Set(
      readdirSync(join(base, 'signals')).flatMap((n) => (JSON.parse(readFileSync(join(base, 'signals', n), 'utf8')) as { signal_id: string }[]).map((s) => s.signal_id)),
    );
    for (const s of wrote.signals) expect(signalIds.has(s.signal_id), s.signal_id).toBe(true);
    // Purged runs left nothing behind.
    for (const id of expected.deletedRunIds) {
      expect(existsSync(join(base, 'runs', `${id}.json`)) || existsSync(join(base, 'events', `${id}.jsonl`)) || existsSync(join(base, 'runs', `${id}.cancel`)), id).toBe(false);
    }
  });
});
