// Reading one `runs/{run_id}.json` into what the engine needs. pyworkflow rewrites run files in place
// (truncate, then write), so a reader without the run's lock can see an empty or half-written file.

import { readFileSync } from 'node:fs';
import type { RunState } from '../backend.js';
import { parsePythonTimestamp } from '../python-time.js';

export type RunRead =
  | { kind: 'ok'; run: RunState }
  | { kind: 'missing' }
  /** Unreadable content: never a candidate; `reason` goes into the warning. */
  | { kind: 'invalid'; run: RunState; reason: string };

const RUN_FILE_RE = /^(.+)\.json$/;

/** The run id of a directory entry of `runs/`, or null (cancellation flags, temp files, strays). */
export function runIdOfFile(name: string): string | null {
  const m = RUN_FILE_RE.exec(name);
  return m ? m[1]! : null;
}

export function readRunFile(path: string, runId: string): RunRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  return parseRunFile(runId, text);
}

export function parseRunFile(runId: string, text: string): RunRead {
  const invalid = (reason: string, parentRunId: string | null = null): RunRead => ({
    kind: 'invalid',
    run: { runId, status: '', updatedAt: null, parentRunId },
    reason,
  });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return invalid(text.trim() === '' ? 'empty file' : 'not valid JSON');
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return invalid('not a JSON object');
  const o = data as Record<string, unknown>;
  const parentRunId = typeof o.parent_run_id === 'string' ? o.parent_run_id : null;
  // pyworkflow addresses a run by its file name; a file whose content names another run is not one we can trust.
  if (o.run_id !== runId) return invalid(`run_id ${JSON.stringify(o.run_id)} does not match the file name`, parentRunId);
  if (typeof o.status !== 'string') return invalid('no status', parentRunId);
  const updatedAt = parsePythonTimestamp(o.updated_at);
  if (updatedAt === null) return invalid(`updated_at ${JSON.stringify(o.updated_at)} is not a timestamp`, parentRunId);
  return { kind: 'ok', run: { runId, status: o.status, updatedAt, parentRunId } };
}
