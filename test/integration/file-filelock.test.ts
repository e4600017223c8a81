// Needs: real pyworkflow's Python (PYWORKFLOW_PYTHON), whose `filelock` pyworkflow's file store locks with.
// Our flock(2) and filelock's FileLock must exclude each other on the same .lock file, both ways.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquire, FlockTimeoutError, tryAcquire } from '../../src/backends/flock.js';
import { requireEnv } from '../support/test-env.js';

const dir = mkdtempSync(join(tmpdir(), 'pywr-filelock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const python = (): string => requireEnv('PYWORKFLOW_PYTHON');

/** Python takes FileLock(path) (pyworkflow's way), prints "held", holds it `seconds`, releases. */
function pythonHolds(path: string, seconds: number): Promise<void> {
  const child = spawn(python(), ['-c', `import filelock, time, sys\nwith filelock.FileLock(sys.argv[1]):\n  print("held", flush=True)\n  time.sleep(${seconds})\n`, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => child.stdout.once('data', () => resolve()));
}

/** Whether Python's FileLock(path).acquire(timeout) succeeds right now. */
function pythonCanLock(path: string, timeout = 0.2): boolean {
  const r = spawnSync(python(), ['-c', `import filelock, sys\ntry:\n  filelock.FileLock(sys.argv[1]).acquire(timeout=${timeout}); print("got")\nexcept filelock.Timeout:\n  print("timeout")\n`, path], {
    encoding: 'utf8',
  });
  return r.stdout.trim() === 'got';
}

describe('flock(2) from Node against Python filelock', () => {
  it('reports the filelock version pyworkflow runs with', () => {
    const v = spawnSync(python(), ['-c', 'import filelock; print(filelock.__version__)'], { encoding: 'utf8' }).stdout.trim();
    console.log(`filelock ${v}`);
    expect(v).toMatch(/^\d+\./);
  });

  it('waits while pyworkflow holds a lock, and gets it when pyworkflow lets go', async () => {
    const path = join(dir, 'run_x.lock');
    await pythonHolds(path, 1);
    expect(tryAcquire(path)).toBeNull();
    await expect(acquire(path, { timeoutMs: 200 })).rejects.toBeInstanceOf(FlockTimeoutError);
    const lock = await acquire(path, { timeoutMs: 10_000 });
    lock.release();
    expect(existsSync(path)).toBe(true); // filelock leaves its lock files in place
  });

  it('keeps pyworkflow out while we hold a lock', async () => {
    const path = join(dir, 'events_run_x.lock');
    const lock = await acquire(path, { timeoutMs: 1000 });
    expect(pythonCanLock(path)).toBe(false);
    lock.release();
    expect(pythonCanLock(path)).toBe(true);
  });

  it('a pyworkflow writer waiting while we remove the lock file ends up on the new file, still excluding us', async () => {
    const path = join(dir, 'run_y_cancel.lock');
    const lock = await acquire(path, { timeoutMs: 1000 });
    const waiter = spawn(python(), ['-c', 'import filelock, time, sys\nwith filelock.FileLock(sys.argv[1]):\n  print("held", flush=True)\n  time.sleep(2)\n', path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const held = new Promise<void>((resolve) => waiter.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 300));
    lock.removeAndRelease();
    await held;
    expect(existsSync(path)).toBe(true);
    expect(tryAcquire(path)).toBeNull();
    await new Promise<void>((resolve) => waiter.on('close', () => resolve()));
  });
});
