// Sweeps that end early (stopped on request, or failed midway) and the checks that their result is
// honest: the JSON result and the termination log agree, the counts equal what is gone from the store
// (a before/after diff of the store's raw dump), nothing that stays after a full sweep went, and a
// re-run completes the sweep so that the two results add up to one uninterrupted sweep's.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { RECORD_KINDS, type KindCounts } from '../../src/engine/records.js';
import type { SweepReport } from '../../src/engine/report.js';
import { onStderrLines, runCli, startCli, type CliResult } from './cli.js';
import type { Snapshot, StoreHandle } from './stores/store-fixture.js';

/** The run-related kinds a store dump can be tallied in (housekeeping is off in these sweeps). */
export const RUN_KINDS = ['runs', 'events', 'steps', 'hooks', 'cancellationFlags', 'checkpoints'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export function sweepArgs(storageConfig: Record<string, unknown>, cutoff: Date, batchSize: number, extra: string[] = []): string[] {
  return [
    'sweep', '--storage', JSON.stringify(storageConfig), '--older-than', cutoff.toISOString(), '--batch-size', String(batchSize),
    '--no-housekeeping', '--output', 'json', '--progress', 'none', '--log-format', 'json', ...extra,
  ];
}

/** The JSON result the CLI printed on stdout. */
export function resultOf(r: CliResult): SweepReport {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as SweepReport;
  } catch {
    throw new Error(`no JSON result on stdout (exit ${String(r.code)}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** A scratch directory for termination-log files; remove it with the returned function. */
export function scratchDir(): { path: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pywr-interrupted-'));
  return { path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts the CLI (which must run with --verbose --log-format json) and calls `act` right after the
 * `nth` debug line whose msg is `marker` ("batch": a purged batch, "transaction": a committed one).
 * Resolves with the CLI's result and whether `act` ran (it does not when the sweep ends first).
 */
export async function runUntilLine(args: string[], marker: string, nth: number, act: (child: ReturnType<typeof startCli>['child']) => void): Promise<{ result: CliResult; acted: boolean }> {
  const { child, done } = startCli(args);
  const needle = `"msg":"${marker}"`;
  let seen = 0;
  let acted = false;
  onStderrLines(child, (line) => {
    if (!acted && line.includes(needle) && ++seen === nth) {
      acted = true;
      act(child);
    }
  });
  return { result: await done, acted };
}

/** Per-kind record counts of a store dump, for the run-related kinds. */
export function tally(type: string, s: Snapshot): Record<RunKind, number> {
  const n = (table: string): number => s[table]?.length ?? 0;
  switch (type) {
    case 'sqlite':
    case 'postgres':
    case 'citus':
    case 'mysql':
    case 'cassandra':
      return { runs: n('workflow_runs'), events: n('events'), steps: n('steps'), hooks: n('hooks'), cancellationFlags: n('cancellation_flags'), checkpoints: n('checkpoints') };
    case 'dynamodb': {
      const sk = (item: string): string => (JSON.parse(item) as { SK: { S: string } }).SK.S;
      const run = s.RUN ?? [];
      return {
        runs: run.filter((i) => sk(i) === '#METADATA').length,
        events: run.filter((i) => sk(i).startsWith('EVENT#')).length,
        steps: run.filter((i) => sk(i).startsWith('STEP#')).length,
        hooks: n('HOOK'),
        cancellationFlags: n('CANCEL'),
        checkpoints: n('CHECKPOINT'),
      };
    }
    case 'file': {
      const files = (dir: string, ext = ''): string[] => Object.keys(s).filter((k) => k.startsWith(`${dir}/`) && k.endsWith(ext));
      const lines = (k: string): number => (s[k]![0] ?? '').split('\n').filter((l) => l.trim() !== '').length;
      return {
        runs: files('runs', '.json').length,
        events: files('events', '.jsonl').reduce((sum, k) => sum + lines(k), 0),
        steps: files('steps').length,
        hooks: files('hooks').length,
        cancellationFlags: files('runs', '.cancel').length,
        checkpoints: files('checkpoints').length,
      };
    }
    default:
      throw new Error(`no tally for store type ${type}`);
  }
}

/** What went from `before` to `after`, per run-related kind. */
export function goneBetween(type: string, before: Snapshot, after: Snapshot): Record<RunKind, number> {
  const a = tally(type, before);
  const b = tally(type, after);
  return Object.fromEntries(RUN_KINDS.map((k) => [k, a[k] - b[k]])) as Record<RunKind, number>;
}

export function runKindsOf(c: KindCounts): Record<RunKind, number> {
  return Object.fromEntries(RUN_KINDS.map((k) => [k, c[k]])) as Record<RunKind, number>;
}

/** Every record of `inner` is in `outer`, table by table, as often (multisets of raw records). */
export function expectContained(inner: Snapshot, outer: Snapshot, what: string): void {
  for (const [table, rows] of Object.entries(inner)) {
    if (table === '(directories)') continue; // directories of purged runs may go; their files are compared
    const left = new Map<string, number>();
    for (const r of outer[table] ?? []) left.set(r, (left.get(r) ?? 0) + 1);
    const missing = rows.filter((r) => {
      const k = left.get(r) ?? 0;
      if (k === 0) return true;
      left.set(r, k - 1);
      return false;
    });
    expect(missing.slice(0, 3), `${what}: ${table} lost ${missing.length} record(s) it must keep`).toEqual([]);
  }
}

export function sumCounts(a: KindCounts, b: KindCounts): KindCounts {
  return Object.fromEntries(RECORD_KINDS.map((k) => [k, a[k] + b[k]])) as KindCounts;
}

/** The termination-log file as the controller would read it. */
export function terminationLogOf(path: string): SweepReport {
  return JSON.parse(readFileSync(path, 'utf8')) as SweepReport;
}

export interface Reference {
  initial: Snapshot;
  final: Snapshot;
  report: SweepReport;
}

/** An uninterrupted sweep of a fresh store: the oracle an interrupted sweep plus its re-run must add up to. */
export async function uninterrupted(store: StoreHandle, cutoff: Date, batchSize: number): Promise<Reference> {
  const initial = await store.dump();
  const r = await runCli(sweepArgs(store.storageConfig, cutoff, batchSize));
  expect(r.code, r.stderr).toBe(0);
  const report = resultOf(r);
  const final = await store.dump();
  expect(final).not.toEqual(initial);
  expect(goneBetween(storeType(store), initial, final)).toEqual(runKindsOf(report.deleted));
  return { initial, final, report };
}

export function storeType(store: StoreHandle): string {
  return String(store.storageConfig.type);
}

/**
 * The checks every interrupted sweep must pass: exit 1 with `outcome`, the JSON result equal to the
 * termination log, counts equal to what is gone, nothing gone that a full sweep keeps, and a re-run
 * that completes the sweep with counts adding up to the uninterrupted sweep's.
 */
export async function expectHonestInterruption(
  store: StoreHandle,
  ref: Reference,
  run: { result: CliResult; terminationLog: string },
  outcome: 'cancelled' | 'failed',
  rerun: { cutoff: Date; batchSize: number },
): Promise<{ first: SweepReport; midGone: Record<RunKind, number> }> {
  const type = storeType(store);
  expect(run.result.code, run.result.stderr).toBe(1);
  const first = resultOf(run.result);
  expect(first.outcome, run.result.stderr).toBe(outcome);
  if (outcome === 'cancelled') expect(first.error?.code).toBe('CANCELLED');
  else expect(first.error?.code).toMatch(/^(BACKEND_ERROR|CONNECTION_FAILED)$/);
  expect(terminationLogOf(run.terminationLog)).toEqual(first);

  const mid = await store.dump();
  const midGone = goneBetween(type, ref.initial, mid);
  expect(runKindsOf(first.deleted), 'reported counts vs. what is gone from the store').toEqual(midGone);
  expectContained(mid, ref.initial, 'after the interrupted sweep (nothing may appear)');
  expectContained(ref.final, mid, 'after the interrupted sweep (nothing ineligible may go)');

  const second = await runCli(sweepArgs(store.storageConfig, rerun.cutoff, rerun.batchSize));
  expect(second.code, second.stderr).toBe(0);
  const secondReport = resultOf(second);
  expect(sumCounts(first.deleted, secondReport.deleted), 'interrupted + re-run vs. one uninterrupted sweep').toEqual(ref.report.deleted);
  expect(await store.dump()).toEqual(ref.final);
  return { first, midGone };
}
