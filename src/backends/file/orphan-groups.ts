// The file store's orphan groups (docs/storage.md H24): per-run files of run ids that have no
// `runs/{run_id}.json`, found in the sweep's directory listings, and dated record by record.

import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parsePythonTimestamp } from '../python-time.js';
import { readStoreText, unreadable, type UnsafeIds } from './containment.js';
import type { FilePaths } from './layout.js';
import type { HookFile, RunDataIndex } from './run-data-index.js';
import type { RunSnapshot } from './run-snapshot.js';

const EVENTS_SUFFIX = '.jsonl';

/** Run ids that own per-run files or token entries but have no run file, sorted. */
export function orphanRunIds(paths: FilePaths, snapshot: RunSnapshot, index: RunDataIndex, tokenOwners: ReadonlySet<string>, unsafe: UnsafeIds): string[] {
  const ids = new Set<string>();
  for (const name of listDir(paths.events)) {
    if (name.endsWith(EVENTS_SUFFIX) && unsafe.check(name.slice(0, -EVENTS_SUFFIX.length), `the name of events/${name}`)) ids.add(name.slice(0, -EVENTS_SUFFIX.length));
  }
  // The index and token owners are checked where they are read; the snapshot checks runs/.
  for (const id of snapshot.cancelFlagIds()) ids.add(id);
  for (const id of index.runIds()) ids.add(id);
  for (const id of tokenOwners) ids.add(id);
  // The snapshot holds every run file listed (unreadable ones too) and forgets only runs it purged.
  return [...ids].filter((id) => snapshot.get(id) === undefined).sort();
}

/** One group as read now: what exists, how many events, and its newest record. */
export interface GroupRead {
  runId: string;
  /** Newest instant of any record, ms; -Infinity when the group holds no record (only token entries). */
  newestMs: number;
  events: number;
  eventsFile: boolean;
  cancelFlag: boolean;
  /** Checkpoint keys, step file names and hook files that exist. */
  checkpoints: string[];
  steps: string[];
  hooks: HookFile[];
}

/**
 * Reads every record of the group: event lines (their `timestamp`), the flag (its content), hook and
 * step files (created_at, received_at / updated_at) and checkpoints (which hold only the step's data,
 * so their mtime). A record without a readable timestamp is dated by its file's mtime.
 */
export function readGroup(paths: FilePaths, runId: string, listed: { checkpoints: readonly string[]; steps: readonly string[]; hooks: readonly HookFile[] }): GroupRead {
  const read: GroupRead = { runId, newestMs: -Infinity, events: 0, eventsFile: false, cancelFlag: false, checkpoints: [], steps: [], hooks: [] };
  const seen = (ms: number): void => {
    if (ms > read.newestMs) read.newestMs = ms;
  };

  const events = readStoreText(paths.eventsFile(runId));
  if (events !== null) {
    read.eventsFile = true;
    for (const line of events.text.split('\n')) {
      if (line.trim() === '') continue; // pyworkflow numbers (and we count) the non-blank lines
      read.events += 1;
      seen(lineTimestamp(line) ?? events.mtimeMs);
    }
  }
  const flag = readStoreText(paths.cancelFile(runId));
  if (flag !== null) {
    read.cancelFlag = true;
    seen(parsePythonTimestamp(flag.text.trim())?.getTime() ?? flag.mtimeMs);
  }
  for (const key of listed.checkpoints) {
    const path = join(paths.checkpoints, `${key}.json`);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined) continue;
    if (st.isDirectory()) throw unreadable(path, Object.assign(new Error('a directory'), { code: 'EISDIR' }));
    read.checkpoints.push(key);
    seen(st.mtimeMs);
  }
  for (const name of listed.steps) {
    const ms = newestOfRecord(join(paths.steps, name), ['created_at', 'updated_at']);
    if (ms === null) continue;
    read.steps.push(name);
    seen(ms);
  }
  for (const hook of listed.hooks) {
    const ms = newestOfRecord(join(paths.hooks, hook.name), ['created_at', 'received_at']);
    if (ms === null) continue;
    read.hooks.push(hook);
    seen(ms);
  }
  return read;
}

/** The newest of a hook file's timestamps (created_at, received_at), mtime without one; null when gone. */
export function hookNewestMs(paths: FilePaths, hook: HookFile): number | null {
  return newestOfRecord(join(paths.hooks, hook.name), ['created_at', 'received_at']);
}

function lineTimestamp(line: string): number | null {
  try {
    const o: unknown = JSON.parse(line);
    return o !== null && typeof o === 'object' ? (parsePythonTimestamp((o as Record<string, unknown>).timestamp)?.getTime() ?? null) : null;
  } catch {
    return null;
  }
}

/** Newest of the named timestamps of a JSON record file, its mtime when it has none; null when the file is gone. */
function newestOfRecord(path: string, fields: readonly string[]): number | null {
  const file = readStoreText(path);
  if (file === null) return null;
  let data: unknown = null;
  try {
    data = JSON.parse(file.text);
  } catch {
    // Half-written or foreign: dated by its mtime below.
  }
  const stamps =
    data !== null && typeof data === 'object'
      ? fields.map((f) => parsePythonTimestamp((data as Record<string, unknown>)[f])?.getTime()).filter((t): t is number => t !== undefined)
      : [];
  return stamps.length > 0 ? Math.max(...stamps) : file.mtimeMs;
}


function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
