// Replacing a shared JSON file (token index, a stream's signals) so that a reader or a crash only ever
// sees the old or the new content: write a temp file beside it, then rename it over the original.

import { closeSync, fchmodSync, fchownSync, fsyncSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

const TEMP_MARK = '.retention-tmp-';
const TEMP_RE = /\.retention-tmp-\d+-[0-9a-f]{8}$/;

/** Our temp files never end in `.json`, so pyworkflow's `glob("*.json")` never picks one up. */
export function isOurTempFile(name: string): boolean {
  return TEMP_RE.test(name);
}

/**
 * Writes `content` to `path` atomically. The new file keeps the old one's mode and (where we may)
 * owner: pyworkflow runs as another user in many deployments and must still be able to rewrite it.
 * Returns a warning when the owner could not be kept.
 */
export function writeFileAtomic(path: string, content: string): string | null {
  const old = statSync(path, { throwIfNoEntry: false });
  const mode = old ? old.mode & 0o7777 : 0o644;
  const temp = join(dirname(path), `${basename(path)}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
  let warning: string | null = null;
  const fd = openSync(temp, 'wx', mode);
  try {
    writeSync(fd, content);
    fchmodSync(fd, mode); // the umask may have narrowed the create mode
    if (old && (old.uid !== process.geteuid?.() || old.gid !== process.getegid?.())) {
      try {
        fchownSync(fd, old.uid, old.gid);
      } catch (err) {
        warning = `could not give ${path} back to uid ${old.uid}/gid ${old.gid} after rewriting it (${(err as Error).message}); pyworkflow may need write access through its group or mode`;
      }
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(temp);
    throw err;
  }
  closeSync(fd);
  renameSync(temp, path);
  return warning;
}

/** Removes temp files a killed sweep left in `dir`. Call only while holding the store's sweep lock. */
export function removeStaleTempFiles(dir: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!isOurTempFile(name)) continue;
    try {
      unlinkSync(join(dir, name));
      removed += 1;
    } catch {
      /* gone already */
    }
  }
  return removed;
}
