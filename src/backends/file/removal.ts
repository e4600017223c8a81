// Deleting one file and knowing whether we did: a file someone else removed first (ENOENT) is not ours
// to count, so per-kind counts stay exact when two processes race.

import { existsSync, readFileSync, unlinkSync } from 'node:fs';

/** Unlinks `path` (or, in a dry run, checks it is there); true when it existed. */
export function removeFile(path: string, dryRun: boolean): boolean {
  if (dryRun) return existsSync(path);
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Events in an event log: its non-blank lines, as pyworkflow counts them for the next sequence. 0 when absent. */
export function countEventLines(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let n = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') n += 1;
  return n;
}
