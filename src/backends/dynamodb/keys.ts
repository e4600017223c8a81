// pyworkflow's single-table key design for DynamoDB (docs/storage.md#dynamodb): every PK/SK and GSI
// key this backend reads or deletes is spelled here, once.

import type { ItemKey } from './client.js';

/** PK prefixes of the item families pyworkflow writes (the text before the first `#`). */
export const KNOWN_PK_PREFIXES = ['RUN', 'HOOK', 'TOKEN', 'CANCEL', 'CHECKPOINT', 'SCHEDULE', 'STREAM', 'STREAM_RUN', 'STREAMSUB', 'SIGACK'] as const;

export const METADATA_SK = '#METADATA';
export const EVENT_COUNTER_SK = '#EVENT_COUNTER';
export const EVENT_SK_PREFIX = 'EVENT#';
export const STEP_SK_PREFIX = 'STEP#';

export const RUNS_GSI1PK = 'RUNS';
export const SCHEDULES_GSI1PK = 'SCHEDULES';

export const runPk = (runId: string): string => `RUN#${runId}`;
export const runMetadataKey = (runId: string): ItemKey => ({ PK: runPk(runId), SK: METADATA_SK });
export const runHooksGsi1pk = (runId: string): string => `RUN_HOOKS#${runId}`;
export const parentGsi4pk = (runId: string): string => `PARENT#${runId}`;
export const tokenPk = (token: string): string => `TOKEN#${token}`;
export const cancellationKey = (runId: string): ItemKey => ({ PK: `CANCEL#${runId}`, SK: '#FLAG' });
export const checkpointKey = (stepRunId: string): ItemKey => ({ PK: `CHECKPOINT#${stepRunId}`, SK: '#DATA' });
/** `{run_id}:{step_id}`: the key pyworkflow saves a @step checkpoint under (never the bare step_id, H9). */
export const stepCheckpointId = (runId: string, stepId: string): string => `${runId}:${stepId}`;
/** A hook item's PK: `HOOK#{run_id}#{hook_id}`, or `HOOK#{hook_id}` in stores written before v0.1.14 (H20). */
export const hookPk = (runId: string, hookId: string, legacy = false): string => (legacy ? `HOOK#${hookId}` : `HOOK#${runId}#${hookId}`);
/** pyworkflow writes `STREAM_RUN#None` for a signal published without a stream run. */
export const streamRunPk = (streamRunId: string | null): string => `STREAM_RUN#${streamRunId ?? 'None'}`;
export const signalSk = (sequence: number): string => `SIGNAL#${String(sequence).padStart(8, '0')}`;
export const eventSk = (sequence: number): string => `EVENT#${String(sequence).padStart(5, '0')}`;

export const STREAM_RUN_PREFIX = 'STREAM_RUN#';
export const STREAMSUB_PREFIX = 'STREAMSUB#';
export const SIGACK_PREFIX = 'SIGACK#';

/** The family of an item: its PK up to the first `#` (or the whole PK). */
export function pkPrefix(pk: string): string {
  const i = pk.indexOf('#');
  return i < 0 ? pk : pk.slice(0, i);
}
