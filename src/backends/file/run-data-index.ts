// Which hook, step and checkpoint files belong to which run, from one scan of each directory per sweep.
// pyworkflow's own retention globs `hooks/` and reads every step file once per deleted run (O(runs ×
// files)); looking the files up here makes a batch cost what it deletes.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import type { UnsafeIds } from './containment.js';
import { jsonFiles, readJsonObject } from './json-files.js';
import type { FilePaths } from './layout.js';

export interface HookFile {
  /** File name in `hooks/`. */
  name: string;
  hookId: string;
  /** Token from a legacy hook file's content (modern tokens are `{run_id}:{hook_id}`). */
  legacyToken: string | null;
}

export interface RunFiles {
  hooks: HookFile[];
  /** File names in `steps/`. */
  steps: string[];
  /** Checkpoint keys (`{run_id}:{step_id}`); the file is `checkpoints/{key}.json`. */
  checkpoints: string[];
}

const HOOK_SEPARATOR = '__';

export class RunDataIndex {
  private readonly byRun = new Map<string, RunFiles>();
  /** Names in `.locks/` when the index was built: which lock files a purge should clean up. */
  private lockFiles = new Set<string>();

  private constructor() {}

  /** Files whose owner is an unsafe run id (see containment.ts) are left out, and so never touched. */
  static load(paths: FilePaths, logger: Logger, unsafe: UnsafeIds): RunDataIndex {
    const index = new RunDataIndex();
    for (const name of jsonFiles(paths.hooks)) {
      const stem = name.slice(0, -'.json'.length);
      const sep = stem.indexOf(HOOK_SEPARATOR);
      if (sep > 0) {
        // `{run_id}__{hook_id}.json` (v0.1.14+): the name says whose it is.
        if (!unsafe.check(stem.slice(0, sep), `the name of hooks/${name}`)) continue;
        index.entry(stem.slice(0, sep)).hooks.push({ name, hookId: stem.slice(sep + HOOK_SEPARATOR.length), legacyToken: null });
        continue;
      }
      // Legacy `{hook_id}.json` (≤ v0.1.13): only the content says whose it is (H20).
      const read = readJsonObject(join(paths.hooks, name));
      if (read.kind === 'missing') continue;
      if (read.kind === 'invalid' || typeof read.data.run_id !== 'string') {
        logger.warn('legacy hook file without a readable run_id; left in place', { file: `hooks/${name}` });
        continue;
      }
      if (!unsafe.check(read.data.run_id, `the run_id of hooks/${name}`)) continue;
      const token = read.data.token;
      index.entry(read.data.run_id).hooks.push({ name, hookId: stem, legacyToken: typeof token === 'string' ? token : null });
    }
    // pyworkflow's runtime never writes step files (docs/storage.md#ids), so this is normally an empty directory.
    for (const name of jsonFiles(paths.steps)) {
      const read = readJsonObject(join(paths.steps, name));
      if (read.kind === 'missing') continue;
      if (read.kind === 'invalid' || typeof read.data.run_id !== 'string') {
        logger.warn('step file without a readable run_id; left in place', { file: `steps/${name}` });
        continue;
      }
      if (!unsafe.check(read.data.run_id, `the run_id of steps/${name}`)) continue;
      index.entry(read.data.run_id).steps.push(name);
    }
    for (const name of jsonFiles(paths.checkpoints)) {
      const key = name.slice(0, -'.json'.length);
      const colon = key.indexOf(':');
      // Only `{run_id}:{step_id}` belongs to a run; stream-step checkpoints (`stream_step_...`) do not (H9).
      if (colon > 0 && unsafe.check(key.slice(0, colon), `the name of checkpoints/${name}`)) index.entry(key.slice(0, colon)).checkpoints.push(key);
    }
    index.lockFiles = new Set(readdirSync(paths.locks));
    return index;
  }

  of(runId: string): RunFiles {
    return this.byRun.get(runId) ?? { hooks: [], steps: [], checkpoints: [] };
  }

  /** Every run id some hook, step or checkpoint file names (the orphan sweep checks which have no run file). */
  runIds(): IterableIterator<string> {
    return this.byRun.keys();
  }

  hasLockFile(name: string): boolean {
    return this.lockFiles.has(name);
  }

  forget(runId: string): void {
    this.byRun.delete(runId);
  }

  private entry(runId: string): RunFiles {
    let files = this.byRun.get(runId);
    if (!files) this.byRun.set(runId, (files = { hooks: [], steps: [], checkpoints: [] }));
    return files;
  }
}
