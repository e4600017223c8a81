// One scan of `runs/` per sweep, kept in memory: candidates are paged from it in run_id order (a keyset
// over a fixed list, so purges between pages never skip or repeat a run) and parent→children comes from
// it instead of a directory rescan per batch. purgeRuns re-reads what it deletes under the run locks.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from '../../log.js';
import type { CandidateQuery, RunState } from '../backend.js';
import type { UnsafeIds } from './containment.js';
import type { FilePaths } from './layout.js';
import { readRunFile, runIdOfFile, type RunRead } from './run-file.js';

/** Reads per turn of the event loop: local reads are fast synchronously, but timers and signals must still run. */
const READS_PER_TURN = 256;
/** `refresh` lists the directory at most this often, and never spends more than 1/REFRESH_COST_SHARE of the time doing it. */
const REFRESH_INTERVAL_MS = 1000;
const REFRESH_COST_SHARE = 20;
const CANCEL_SUFFIX = '.cancel';

export class RunSnapshot {
  private readonly runs = new Map<string, RunState>();
  private readonly childrenOf = new Map<string, Set<string>>();
  /** Every run file name seen, also unreadable ones, so a refresh reads only what is new. */
  private readonly seen = new Set<string>();
  /** Runs with a `runs/{run_id}.cancel` in the last listing. */
  private readonly cancelFlags = new Set<string>();
  /**
   * Unreadable run files whose parent link cannot be read either: any run could be their parent, so
   * children() reports each of them as a (kept) child of every run asked about.
   */
  private readonly unknownParent = new Set<string>();
  private warnedUnknownParent = false;
  private listedAt = 0;
  private listingMs = 0;

  private constructor(
    private readonly paths: FilePaths,
    private readonly logger: Logger,
    private readonly unsafe: UnsafeIds,
    private readonly rereadLocked: (runId: string) => Promise<RunRead>,
  ) {}

  /**
   * Scans `runs/`. `rereadLocked` reads one run again under its lock: an unreadable file is most
   * likely one pyworkflow is rewriting at this instant, so it gets a second, locked look.
   */
  static async load(paths: FilePaths, logger: Logger, unsafe: UnsafeIds, rereadLocked: (runId: string) => Promise<RunRead>): Promise<RunSnapshot> {
    const snapshot = new RunSnapshot(paths, logger, unsafe, rereadLocked);
    await snapshot.readNew();
    return snapshot;
  }

  get size(): number {
    return this.runs.size;
  }

  /**
   * Picks up runs created since the last listing, at most once per second. New children of a run the
   * sweep is about to purge cannot come from pyworkflow (only a running parent starts children); this
   * is a second line of defence, and listing a directory of 20k runs before every batch of 7 would
   * cost more than the batch.
   */
  async refresh(): Promise<void> {
    if (Date.now() - this.listedAt >= Math.max(REFRESH_INTERVAL_MS, REFRESH_COST_SHARE * this.listingMs)) await this.readNew();
  }

  /** Reads run files that appeared since the last listing; returns the runs added. */
  async readNew(): Promise<RunState[]> {
    this.listedAt = Date.now();
    const names = readdirSync(this.paths.runs);
    this.listingMs = Date.now() - this.listedAt;
    const added: RunState[] = [];
    let sinceYield = 0;
    for (const name of names) {
      if (name.endsWith(CANCEL_SUFFIX) && this.unsafe.check(name.slice(0, -CANCEL_SUFFIX.length), `the name of runs/${name}`)) {
        this.cancelFlags.add(name.slice(0, -CANCEL_SUFFIX.length));
      }
      const runId = runIdOfFile(name);
      if (runId === null || this.seen.has(runId)) continue;
      this.seen.add(runId);
      // A run whose id cannot name its other files is never a candidate, but its parent link still
      // counts: its parent is kept like the parent of any kept child.
      const safe = this.unsafe.check(runId, `the name of runs/${name}`);
      let read = readRunFile(join(this.paths.runs, name), runId);
      if (read.kind === 'invalid' && safe) read = await this.rereadLocked(runId);
      if (read.kind === 'missing') continue;
      if (read.kind === 'invalid') {
        this.logger.warn('run file cannot be read; it is never purged', { file: `runs/${name}`, reason: read.reason });
        if (!read.parentKnown) this.unknownParent.add(runId);
      }
      const run = safe ? read.run : { ...read.run, updatedAt: null };
      this.put(run);
      added.push(run);
      if (++sinceYield >= READS_PER_TURN) {
        sinceYield = 0;
        await yieldToLoop();
      }
    }
    return added;
  }

  /** Whether the last listing showed a cancellation flag of this run (refresh keeps it current). */
  hasCancelFlag(runId: string): boolean {
    return this.cancelFlags.has(runId);
  }

  /** Run ids with a `runs/{run_id}.cancel` in the last listing (the orphan sweep checks which have no run file). */
  cancelFlagIds(): ReadonlySet<string> {
    return this.cancelFlags;
  }

  get(runId: string): RunState | undefined {
    return this.runs.get(runId);
  }

  private put(run: RunState): void {
    this.runs.set(run.runId, run);
    if (run.parentRunId !== null) {
      let kids = this.childrenOf.get(run.parentRunId);
      if (!kids) this.childrenOf.set(run.parentRunId, (kids = new Set()));
      kids.add(run.runId);
    }
  }

  /** Drops a purged run (its id stays "seen": a run id is never reused). */
  forget(runId: string): void {
    const run = this.runs.get(runId);
    if (!run) return;
    this.runs.delete(runId);
    this.cancelFlags.delete(runId);
    if (run.parentRunId !== null) this.childrenOf.get(run.parentRunId)?.delete(runId);
  }

  /** Runs the query selects (coarse: the engine re-checks), sorted by run_id. */
  candidateIds(query: CandidateQuery): string[] {
    const statuses = new Set<string>(query.statuses);
    const cutoff = query.cutoff.getTime();
    const ids: string[] = [];
    for (const run of this.runs.values()) {
      if (statuses.has(run.status) && run.updatedAt !== null && run.updatedAt.getTime() < cutoff) ids.push(run.runId);
    }
    return ids.sort();
  }

  children(parentRunIds: readonly string[]): RunState[] {
    const out: RunState[] = [];
    if (this.unknownParent.size > 0 && parentRunIds.length > 0 && !this.warnedUnknownParent) {
      this.warnedUnknownParent = true;
      this.logger.warn('old runs kept: a run file that cannot be read may be the child of any of them; repair or remove it to let them go', {
        files: [...this.unknownParent].slice(0, 20).map((id) => `runs/${id}.json`),
      });
    }
    for (const parent of parentRunIds) {
      for (const id of this.unknownParent) {
        if (id !== parent && this.runs.has(id)) out.push({ runId: id, status: '', updatedAt: null, parentRunId: parent });
      }
      for (const id of this.childrenOf.get(parent) ?? []) {
        const child = this.runs.get(id);
        if (child) out.push(child);
      }
    }
    return out;
  }
}
