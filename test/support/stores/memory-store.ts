// StoreFixture for the reference memory store: the dataset itself, dumped as sorted JSON records.

import { ReferenceMemoryBackend } from '../../../src/backends/memory/memory-backend.js';
import type { Dataset } from '../../../src/model/dataset.js';
import type { Snapshot, StoreFixture } from './store-fixture.js';

export const memoryFixture: StoreFixture = {
  type: 'reference-memory',
  adapt: (d) => d,
  async create(dataset: Dataset) {
    const data = structuredClone(dataset);
    return {
      storageConfig: { type: 'reference-memory' },
      backend: () => new ReferenceMemoryBackend(data),
      dump: async (): Promise<Snapshot> =>
        Object.fromEntries(Object.entries(data).map(([k, v]) => [k, (v as unknown[]).map((x) => JSON.stringify(x)).sort()])),
      destroy: async () => undefined,
    };
  },
};
