// Takes pyworkflow's lock files for the file backend: a non-blocking attempt first (the common case costs
// a few syscalls), then polling up to the configured timeout. A lock that stays taken longer than that
// belongs to a stuck writer; callers then leave the record alone instead of failing the whole sweep.

import { acquire, FlockTimeoutError, tryAcquire, type FlockHandle } from '../flock.js';
import { unusable } from './containment.js';
import type { FilePaths } from './layout.js';

export class Locker {
  /**
   * `readOnly`: for a dry run, which writes nothing: lock files are opened read-only and never
   * created (see TryAcquireOptions).
   */
  constructor(
    private readonly paths: FilePaths,
    readonly timeoutMs: number,
    readonly readOnly = false,
  ) {}

  /** The lock, or null when another process kept it for the whole timeout. A lock file we cannot use is an error naming it. */
  async take(name: string): Promise<FlockHandle | null> {
    const path = this.paths.lock(name);
    try {
      const quick = tryAcquire(path, { readOnly: this.readOnly });
      if (quick) return quick;
      return await acquire(path, { timeoutMs: this.timeoutMs, readOnly: this.readOnly });
    } catch (err) {
      if (err instanceof FlockTimeoutError) return null;
      throw unusable(path, err, 'lock file');
    }
  }
}
