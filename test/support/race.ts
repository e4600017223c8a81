// Makes concurrent sweeps of one store really race: each gated backend's first purge waits until all
// n sweeps have reached theirs, so every sweep holds the same first candidates when deleting starts and
// no head start (a slow server, a loaded machine) lets one sweep finish before the others begin.

import type { Backend } from '../../src/backends/backend.js';

/** Returns a function that gates a backend; each of the n gated backends' first purgeRuns waits for all n. */
export function raceGate(n: number): (backend: Backend) => Backend {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return (backend) => {
    const purge = backend.purgeRuns.bind(backend);
    let first = true;
    backend.purgeRuns = async (batch, options) => {
      if (first) {
        first = false;
        if (++arrived >= n) release();
        await all;
      }
      return purge(batch, options);
    };
    return backend;
  };
}
