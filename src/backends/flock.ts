// BSD flock(2) from Node (through koffi), the lock pyworkflow's writers take with Python's `filelock`
// on `.locks/*.lock`: exclusive, non-blocking attempts retried with async sleeps, so waiting for a
// lock never blocks the event loop. Generic: any backend that needs a cross-process file lock uses it.

import { closeSync, fstatSync, openSync, constants as fsc, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import koffi from 'koffi';

const LOCK_EX = 2;
const LOCK_NB = 4;

/** An exclusive flock held on an open lock file. */
export interface FlockHandle {
  readonly path: string;
  /** Unlocks and closes. Idempotent. */
  release(): void;
  /**
   * Unlinks the lock file, then unlocks and closes. Only safe as the very last act under the lock:
   * a process that opens the path afterwards creates a new inode and locks that one, so from the
   * unlink on this lock no longer excludes anybody. Waiters on the old inode notice the unlink
   * (filelock and `acquire` below both check st_nlink) and start over on the new file.
   */
  removeAndRelease(): void;
}

export interface AcquireOptions {
  /** Give up (FlockTimeoutError) after this long; 0 means a single attempt. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** See TryAcquireOptions.readOnly. */
  readOnly?: boolean;
}

export interface TryAcquireOptions {
  /**
   * For a reader that must write nothing (a dry run, a read-only store): the lock file is opened
   * read-only and never created. A lock file that does not exist is held by nobody, so the handle
   * returned then locks nothing; removeAndRelease never unlinks.
   */
  readOnly?: boolean;
}

export class FlockTimeoutError extends Error {
  constructor(
    readonly path: string,
    readonly waitedMs: number,
  ) {
    super(`timed out after ${waitedMs} ms waiting for the lock ${path} (another process holds it)`);
    this.name = 'FlockTimeoutError';
  }
}

type FlockFn = (fd: number, operation: number) => number;
let flockFn: FlockFn | null = null;

/** Loads libc's flock on first use, so merely importing this module never touches native code. */
function nativeFlock(): FlockFn {
  if (flockFn) return flockFn;
  const candidates =
    process.platform === 'darwin'
      ? ['libSystem.B.dylib']
      : ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libc.so'];
  let lastError: unknown;
  for (const name of candidates) {
    try {
      const fn = koffi.load(name).func('int flock(int, int)') as (fd: number, op: number) => number;
      flockFn = fn;
      return fn;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`cannot load flock(2) from the C library (tried ${candidates.join(', ')}): ${String(lastError)}`);
}

const errnoCodes = koffi.os.errno;
const CONTENDED = new Set([errnoCodes.EWOULDBLOCK, errnoCodes.EAGAIN, errnoCodes.EACCES].filter((n): n is number => n !== undefined));
const EINTR = errnoCodes.EINTR;

/** One flock call; true when granted, false when another process holds it. Throws on real errors (ENOLCK, ENOSYS...). */
function flockOnce(fd: number, operation: number): boolean {
  const flock = nativeFlock();
  for (;;) {
    if (flock(fd, operation) === 0) return true;
    const errno = koffi.errno();
    if (errno === EINTR) continue;
    if (CONTENDED.has(errno)) return false;
    throw Object.assign(new Error(`flock failed with errno ${errno}${errnoName(errno)}; the filesystem may not support flock(2)`), { errno });
  }
}

function errnoName(errno: number): string {
  const name = Object.entries(errnoCodes).find(([, n]) => n === errno)?.[0];
  return name ? ` (${name})` : '';
}

const OPEN_FLAGS = fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW;

/**
 * One non-blocking attempt. The link-count check after locking closes the race with a process that
 * unlinked the lock file while we were opening it: holding a lock on an inode no path names protects
 * nothing. (filelock never unlinks its lock files, and `removeAndRelease` unlinks one only while
 * holding it, so a lock file that goes away under us is always unlinked, never renamed over.)
 */
export function tryAcquire(path: string, options: TryAcquireOptions = {}): FlockHandle | null {
  for (;;) {
    let fd: number;
    if (options.readOnly) {
      try {
        fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return handle(path, null, true);
        throw err;
      }
    } else {
      fd = openSync(path, OPEN_FLAGS, 0o644);
    }
    try {
      let granted: boolean;
      try {
        granted = flockOnce(fd, LOCK_EX | LOCK_NB);
      } catch (err) {
        // NFS emulates flock with POSIX locks, which refuse an exclusive lock on a read-only
        // descriptor (EBADF): a reader that must write nothing then goes without the lock.
        if (!options.readOnly || (err as { errno?: number }).errno !== errnoCodes.EBADF) throw err;
        closeSync(fd);
        return handle(path, null, true);
      }
      if (!granted) {
        closeSync(fd);
        return null;
      }
      if (fstatSync(fd).nlink === 0) {
        closeSync(fd); // a dead inode: let go and start over on the file the path names now
        continue;
      }
      return handle(path, fd, options.readOnly === true);
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
      throw err;
    }
  }
}

/** A held lock (`fd` null: a read-only take of a lock file that does not exist, which locks nothing). */
function handle(path: string, fd: number | null, readOnly: boolean): FlockHandle {
  let open = true;
  const release = (): void => {
    if (!open) return;
    open = false;
    // Closing releases the lock: a flock belongs to the open file description, and only this
    // descriptor refers to it (Node opens files close-on-exec and never duplicates them).
    if (fd !== null) closeSync(fd);
  };
  return {
    path,
    release,
    removeAndRelease: () => {
      if (!open) return;
      if (readOnly) return release();
      try {
        unlinkSync(path); // still the file we locked: lock files are only ever unlinked by a holder
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      } finally {
        release();
      }
    },
  };
}

/**
 * Takes the exclusive lock, retrying with short sleeps (1 ms growing to 50 ms, filelock's own poll
 * interval) until `timeoutMs` has passed.
 */
export async function acquire(path: string, options: AcquireOptions): Promise<FlockHandle> {
  const started = Date.now();
  let pause = 1;
  for (;;) {
    options.signal?.throwIfAborted();
    const got = tryAcquire(path, { readOnly: options.readOnly === true });
    if (got) return got;
    const waited = Date.now() - started;
    if (waited >= options.timeoutMs) throw new FlockTimeoutError(path, waited);
    try {
      await sleep(Math.min(pause, options.timeoutMs - waited), undefined, options.signal ? { signal: options.signal } : undefined);
    } catch (err) {
      options.signal?.throwIfAborted(); // the caller's reason rather than a generic AbortError
      throw err;
    }
    pause = Math.min(pause * 2, 50);
  }
}
