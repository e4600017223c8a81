// The lock files of pyworkflow's file store, named exactly as pyworkflow's FileStorageBackend names them
// (docs/storage.md#file), plus the one lock that is ours: the store-wide sweep lock.

/** Ours: one sweep per store at a time. Clearly not a pyworkflow name. */
export const SWEEP_LOCK = 'pyworkflow-retention-sweep.lock';

/** Run file writes (create, status, context, recovery, continuation, claim). */
export const runLock = (runId: string): string => `${runId}.lock`;
/** Appends to `events/{run_id}.jsonl`. */
export const eventsLock = (runId: string): string => `events_${runId}.lock`;
/** `runs/{run_id}.cancel`. */
export const cancelLock = (runId: string): string => `${runId}_cancel.lock`;
/** `checkpoints/{step_run_id}.json`. */
export const checkpointLock = (stepRunId: string): string => `checkpoint_${stepRunId}.lock`;
/** Hook status updates; shared by every run whose hook has this id (hook ids repeat across runs). */
export const hookLock = (hookId: string): string => `hook_${hookId.replaceAll('/', '_').replaceAll(':', '_')}.lock`;
/** Hook creation and every read-modify-write of `_token_index.json`. */
export const TOKEN_INDEX_LOCK = 'token_index.lock';
/** `signals/{stream_id}.json` (publishers read-modify-write the whole array). */
export const signalsLock = (streamId: string): string => `signals_${streamId}.lock`;
/** `subscriptions/{stream_id}__{step_run_id}.json`. */
export const subscriptionLock = (streamId: string, stepRunId: string): string => `sub_${streamId}_${stepRunId}.lock`;
/** `schedules/{schedule_id}.json`. */
export const scheduleLock = (scheduleId: string): string => `schedule_${scheduleId}.lock`;
