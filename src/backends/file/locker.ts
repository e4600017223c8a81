// Takes pyworkflow's lock files for the file backend: a non-blocking attempt first (the common case costs
// a few syscalls), then polling up to the configured timeout. A lock that stays taken longer than that
// belongs to a stuck writer; callers then leave the record alone instead of failing the whole sweep.

import { acquire, FlockTimeoutError, tryAcquire, type FlockHandle } from '../flock.js';
import type { FilePaths } from './layout.js';

export class Locker {
  constructor(
    private readonly paths: FilePaths,
    readonly timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** The lock, or null when another process kept it for the whole timeout. */
  async take(name: string): Promise<FlockHandle | null> {
    const path = this.paths.lock(name);
    const quick = tryAcquire(path);
    if (quick) return quick;
    try {
      return await acquire(path, { timeoutMs: this.timeoutMs, ...(this.signal ? { signal: this.signal } : {}) });
    } catch (err) {
      if (err instanceof FlockTimeoutError) return null;
      throw err;
    }
  }
}
