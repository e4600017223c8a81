// What every backend's test fixture provides: create a store in pyworkflow's exact layout from a
// neutral Dataset, hand out a Backend (and the --storage config for the CLI), and dump the store's
// raw state so two stores can be compared record by record, byte for byte.

import type { Backend } from '../../../src/backends/backend.js';
import type { Dataset } from '../../../src/model/dataset.js';

/** Raw store state: per table/collection/directory, the records as raw strings, sorted. */
export type Snapshot = Record<string, string[]>;

export interface StoreHandle {
  /** pyworkflow storage config (pyworkflow's keys) for `--storage`. */
  readonly storageConfig: Record<string, unknown>;
  /** A new, unopened backend on this store. */
  backend(): Backend;
  /** The store's raw content. Equal snapshots mean equal stores. */
  dump(): Promise<Snapshot>;
  destroy(): Promise<void>;
}

export interface StoreFixture {
  readonly type: string;
  /** The dataset as this store can hold it (e.g. SQLite has no scheduled_signals table). */
  adapt(dataset: Dataset): Dataset;
  /** Creates a fresh store holding exactly `dataset`, in pyworkflow's layout. */
  create(dataset: Dataset): Promise<StoreHandle>;
}
