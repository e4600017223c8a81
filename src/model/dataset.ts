// A backend-neutral model of the data pyworkflow keeps (docs/storage.md#relations, #layouts): the shape the
// reference store holds, the demo generates, and tests load into each backend's real layout.

export interface RunRecord {
  run_id: string;
  workflow_name: string;
  status: string;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  idempotency_key: string | null;
  parent_run_id: string | null;
  nesting_depth: number;
  continued_from_run_id: string | null;
  continued_to_run_id: string | null;
  input_args: string;
  input_kwargs: string;
  result: string | null;
  error: string | null;
  context: string;
}

export interface EventRecord {
  event_id: string;
  run_id: string;
  /** 0-based per run, as the SQL and DynamoDB stores keep it (the file store writes sequence + 1). */
  sequence: number;
  type: string;
  timestamp: Date;
  data: Record<string, unknown>;
  step_id: string | null;
}

export interface StepRecord {
  step_id: string;
  run_id: string;
  step_name: string;
  status: string;
  created_at: Date;
}

export interface HookRecord {
  run_id: string;
  hook_id: string;
  /** `{run_id}:{hook_id}` */
  token: string;
  status: string;
  created_at: Date;
}

export interface CancellationFlagRecord {
  run_id: string;
  created_at: Date;
}

export interface CheckpointRecord {
  /** `{run_id}:{step_id}` for @step checkpoints, `stream_step_...` for stream steps. */
  step_run_id: string;
  data: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export interface ScheduleRecord {
  schedule_id: string;
  workflow_name: string;
  status: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  running_run_ids: string[];
  last_run_id: string | null;
}

export interface StreamRecord {
  stream_id: string;
  status: string;
  created_at: Date;
}

export interface SignalRecord {
  stream_id: string;
  stream_run_id: string;
  sequence: number;
  signal_id: string;
  signal_type: string;
  payload: Record<string, unknown>;
  published_at: Date;
  source_run_id: string | null;
}

export interface SubscriptionRecord {
  stream_id: string;
  step_run_id: string;
  status: string;
  created_at: Date;
}

export interface AcknowledgmentRecord {
  signal_id: string;
  step_run_id: string;
  acknowledged_at: Date;
}

export interface ScheduledSignalRecord {
  id: string;
  stream_id: string;
  signal_type: string;
  due_at: Date;
  delivered: boolean;
  created_at: Date;
}

export interface Dataset {
  runs: RunRecord[];
  events: EventRecord[];
  steps: StepRecord[];
  hooks: HookRecord[];
  cancellationFlags: CancellationFlagRecord[];
  checkpoints: CheckpointRecord[];
  schedules: ScheduleRecord[];
  streams: StreamRecord[];
  signals: SignalRecord[];
  subscriptions: SubscriptionRecord[];
  acknowledgments: AcknowledgmentRecord[];
  scheduledSignals: ScheduledSignalRecord[];
}

export function emptyDataset(): Dataset {
  return {
    runs: [], events: [], steps: [], hooks: [], cancellationFlags: [], checkpoints: [], schedules: [],
    streams: [], signals: [], subscriptions: [], acknowledgments: [], scheduledSignals: [],
  };
}

/** The checkpoint key prefix of a run's @step checkpoints. */
export function checkpointPrefix(runId: string): string {
  return `${runId}:`;
}
