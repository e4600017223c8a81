// flock(2) from Node: exclusion against other processes (util-linux `flock`, the same syscall Python's
// filelock uses), timeouts, and the unlink race. Interop with Python's filelock itself is tested in
// test/integration/file-filelock.test.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquire, FlockTimeoutError, tryAcquire } from '../../../../src/backends/flock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pywr-flock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Holds an exclusive flock on `path` in another process (group) until `release`. */
async function holdElsewhere(path: string): Promise<{ release(): void }> {
  // -o: only the flock process holds the lock (its command does not inherit it), so killing the group frees it.
  const child: ChildProcess = spawn('flock', ['-o', '-x', path, '-c', 'echo locked; sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { release: () => process.kill(-child.pid!, 'SIGKILL') };
}

// util-linux's flock(1) plays the other process: it is part of every Debian system (and CI's).
describe('flock across processes', () => {
  it('is refused while another process holds the file, and granted once it lets go', async () => {
    const path = join(dir, 'a.lock');
    const other = await holdElsewhere(path);
    expect(tryAcquire(path)).toBeNull();
    const started = Date.now();
    await expect(acquire(path, { timeoutMs: 150 })).rejects.toBeInstanceOf(FlockTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const waiting = acquire(path, { timeoutMs: 5000 });
    other.release();
    const lock = await waiting;
    // ...and now the other side is refused.
    expect(spawnSync('flock', ['-xn', path, 'true']).status).not.toBe(0);
    lock.release();
    expect(spawnSync('flock', ['-xn', path, 'true']).status).toBe(0);
  });

  it('does not block the event loop while waiting', async () => {
    const path = join(dir, 'b.lock');
    const other = await holdElsewhere(path);
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 10);
    await expect(acquire(path, { timeoutMs: 300 })).rejects.toBeInstanceOf(FlockTimeoutError);
    clearInterval(timer);
    other.release();
    expect(ticks).toBeGreaterThan(10);
  });
});

describe('flock in one process', () => {
  it('creates the lock file 0644 and leaves it after release', () => {
    const path = join(dir, 'c.lock');
    const lock = tryAcquire(path)!;
    expect(lock).not.toBeNull();
    expect(tryAcquire(path)).toBeNull(); // a second open file description is refused too
    lock.release();
    lock.release(); // idempotent
    expect(statSync(path).mode & 0o777).toBe(0o644 & ~process.umask());
    expect(readdirSync(dir)).toEqual(['c.lock']);
  });

  it('removeAndRelease unlinks while holding, and a waiter ends up holding the file the path names afterwards', async () => {
    const path = join(dir, 'd.lock');
    const first = tryAcquire(path)!;
    const waiter = acquire(path, { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 20));
    first.removeAndRelease();
    const second = await waiter;
    // The waiter did not settle for the unlinked inode: it holds the file the path names now, so a
    // newcomer (who can only open that file) is refused.
    expect(statSync(path).isFile()).toBe(true);
    expect(tryAcquire(path)).toBeNull();
    second.release();
  });

  it('can be cancelled through an AbortSignal', async () => {
    const path = join(dir, 'e.lock');
    const held = tryAcquire(path)!;
    const ac = new AbortController();
    const waiting = acquire(path, { timeoutMs: 10_000, signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    held.release();
  });

  it('read-only (a dry run): creates no lock file, still excludes and waits for other holders, never unlinks', async () => {
    const missing = join(dir, 'missing.lock');
    const nothing = tryAcquire(missing, { readOnly: true })!;
    expect(readdirSync(dir)).toEqual([]);
    nothing.removeAndRelease();

    const path = join(dir, 'f.lock');
    const other = await holdElsewhere(path);
    expect(tryAcquire(path, { readOnly: true })).toBeNull();
    other.release();
    const got = await acquire(path, { timeoutMs: 5_000, readOnly: true });
    expect(tryAcquire(path)).toBeNull(); // a read-only holder excludes writers too
    got.removeAndRelease();
    expect(readdirSync(dir)).toEqual(['f.lock']);
  });
});
