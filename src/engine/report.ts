// The result of one sweep: printed with --output json, written to the pod's termination message,
// and read back by the controller, which validates it with RESULT_SCHEMA before trusting it.

import type { JSONSchemaType } from 'ajv';
import { RECORD_KINDS, type KindCounts } from './records.js';

export type SweepOutcome = 'succeeded' | 'failed' | 'cancelled';

export interface SweepReport {
  /** Bumped when a field's meaning changes; the controller refuses versions it does not know. */
  resultVersion: 1;
  outcome: SweepOutcome;
  backend: string;
  cutoff: string;
  dryRun: boolean;
  statuses: string[];
  housekeeping: boolean;
  /** Layout version as found in the store; "" when the sweep failed before reading it. */
  schemaVersion: string;
  /** Records deleted per kind (in a dry run: that would be deleted). Exact, also when the sweep failed midway. */
  deleted: KindCounts;
  /** Candidate runs kept because a child of theirs is kept. */
  keptForChildren: number;
  /**
   * Run ids read from the store that were never used because they would reach outside it (or cannot
   * be a key); absent means 0, so results without it (older releases) and with it both parse.
   */
  skippedUnsafe?: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  error?: { code: string; message: string };
}

const countsSchema = {
  type: 'object',
  properties: Object.fromEntries(RECORD_KINDS.map((k) => [k, { type: 'integer', minimum: 0 }])),
  required: [...RECORD_KINDS],
  additionalProperties: false,
} as unknown as JSONSchemaType<KindCounts>;

export const RESULT_SCHEMA: JSONSchemaType<SweepReport> = {
  type: 'object',
  properties: {
    resultVersion: { type: 'integer', const: 1 },
    outcome: { type: 'string', enum: ['succeeded', 'failed', 'cancelled'] },
    backend: { type: 'string', maxLength: 64 },
    cutoff: { type: 'string', maxLength: 64 },
    dryRun: { type: 'boolean' },
    statuses: { type: 'array', items: { type: 'string', maxLength: 32 }, maxItems: 8 },
    housekeeping: { type: 'boolean' },
    schemaVersion: { type: 'string', maxLength: 64 },
    deleted: countsSchema,
    keptForChildren: { type: 'integer', minimum: 0 },
    skippedUnsafe: { type: 'integer', minimum: 0, nullable: true },
    startedAt: { type: 'string', maxLength: 64 },
    finishedAt: { type: 'string', maxLength: 64 },
    durationMs: { type: 'integer', minimum: 0 },
    error: {
      type: 'object',
      properties: { code: { type: 'string', maxLength: 64 }, message: { type: 'string', maxLength: 2048 } },
      required: ['code', 'message'],
      additionalProperties: false,
      nullable: true,
    },
  },
  required: [
    'resultVersion', 'outcome', 'backend', 'cutoff', 'dryRun', 'statuses', 'housekeeping',
    'schemaVersion', 'deleted', 'keptForChildren', 'startedAt', 'finishedAt', 'durationMs',
  ],
  additionalProperties: false,
};
