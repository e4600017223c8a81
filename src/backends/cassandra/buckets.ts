// The partition buckets pyworkflow derives from timestamps (docs/storage.md#cassandra): strftime of a
// UTC datetime, so index rows of a run can be located again from its workflow_runs row.

const pad = (n: number): string => String(n).padStart(2, '0');

/** `date_bucket` of runs_by_status / runs_by_workflow: YYYY-MM-DD of created_at in UTC. */
export function dateBucket(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** `hour_bucket` of due_schedules: YYYY-MM-DD-HH of next_run_time in UTC. */
export function hourBucket(d: Date): string {
  return `${dateBucket(d)}-${pad(d.getUTCHours())}`;
}
