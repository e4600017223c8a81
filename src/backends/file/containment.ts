// Keeping the sweep inside the store. Run ids come from the store's own contents (file names, but also
// `_token_index.json` values and the `run_id` inside step and legacy hook files), and every one of them
// becomes part of a path: an id that is not exactly one harmless name segment would reach outside the
// store (`../../notes`), or name a file elsewhere (an absolute id). Such ids are reported and never used.
// Reads never follow a symbolic link either: pyworkflow writes none, so one inside the store can only
// point somewhere we must not read (or count) from.

import { closeSync, constants as fsc, fstatSync, openSync, readFileSync } from 'node:fs';
import { RetentionError } from '../../errors.js';
import type { Logger } from '../../log.js';

/** NAME_MAX of Linux filesystems, in bytes. */
const NAME_MAX = 255;
/** The longest suffix/prefix a run id gets in a file name (`events_{id}.lock`, `{id}_cancel.lock`). */
const LONGEST_AFFIX = 'events_.lock'.length;

/** Why `id` cannot be used as a run id in a path, or null when it can. */
export function unsafeRunIdReason(id: string): string | null {
  if (id === '') return 'it is empty';
  if (id === '.' || id === '..') return 'it names a directory';
  if (id.includes('/') || id.includes('\\')) return 'it contains a path separator';
  if (id.includes('\0')) return 'it contains a NUL character';
  if (Buffer.byteLength(id) > NAME_MAX - LONGEST_AFFIX) return `it is longer than ${NAME_MAX - LONGEST_AFFIX} bytes`;
  return null;
}

/** Throws when `name` is not one path segment: the last line of defence behind UnsafeIds. */
export function assertSegment(name: string, what: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new RetentionError('BACKEND_ERROR', `refusing ${what} ${JSON.stringify(name)}: it would name a path outside its directory`);
  }
  return name;
}

/**
 * The unsafe run ids one sweep met: each is warned about once (with where it came from) and counted
 * once, whichever source names it again.
 */
export class UnsafeIds {
  private readonly seen = new Set<string>();

  constructor(private readonly logger: Logger) {}

  get count(): number {
    return this.seen.size;
  }

  /** True when `id` may be used; otherwise warns (first time) and returns false. */
  check(id: string, source: string): boolean {
    const reason = unsafeRunIdReason(id);
    if (reason === null) return true;
    if (!this.seen.has(id)) {
      this.seen.add(id);
      // JSON.stringify: the id may hold newlines, NUL or escape sequences meant for a terminal.
      this.logger.warn(`unsafe id skipped: ${JSON.stringify(id).slice(0, 300)} in ${source} (${reason}); nothing named by it is read or deleted`, {
        source,
      });
    }
    return false;
  }
}

/** The file's bytes; null when it does not exist. Never follows a symbolic link; errors name the path. */
export function readStoreFile(path: string): { bytes: Buffer; mtimeMs: number } | null {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw unreadable(path, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw unreadable(path, Object.assign(new Error('not a regular file'), { code: st.isDirectory() ? 'EISDIR' : 'EINVAL' }));
    return { bytes: readFileSync(fd), mtimeMs: st.mtimeMs };
  } catch (err) {
    throw err instanceof RetentionError ? err : unreadable(path, err);
  } finally {
    closeSync(fd);
  }
}

/** readStoreFile as UTF-8 text. */
export function readStoreText(path: string): { text: string; mtimeMs: number } | null {
  const read = readStoreFile(path);
  return read === null ? null : { text: read.bytes.toString('utf8'), mtimeMs: read.mtimeMs };
}

/** An error that says which file to fix. */
export function unreadable(path: string, cause: unknown): RetentionError {
  return unusable(path, cause, 'file');
}

/** An error naming the file (`what`: "file", "lock file") that cannot be used, and why. */
export function unusable(path: string, cause: unknown, what: string): RetentionError {
  if (cause instanceof RetentionError) return cause;
  const code = (cause as NodeJS.ErrnoException | null)?.code;
  const why =
    code === 'ELOOP' ? 'it is a symbolic link, which pyworkflow never writes'
    : code === 'EISDIR' ? 'it is a directory where pyworkflow keeps a file'
    : cause instanceof Error ? cause.message : String(cause);
  return new RetentionError('BACKEND_ERROR', `${what} ${path} cannot be used (${why}): repair or remove it, then sweep again`, { cause });
}
