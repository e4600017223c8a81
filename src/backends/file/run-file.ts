// Reading one `runs/{run_id}.json` into what the engine needs. pyworkflow rewrites run files in place
// (truncate, then write), so a reader without the run's lock can see an empty or half-written file.

import { readStoreText } from './containment.js';
import type { RunState } from '../backend.js';
import { parsePythonTimestamp } from '../python-time.js';

export type RunRead =
  | { kind: 'ok'; run: RunState }
  | { kind: 'missing' }
  /**
   * Unreadable content: never a candidate; `reason` goes into the warning. `parentKnown` is false when
   * not even the parent link could be read: then the run may be the child of any run.
   */
  | { kind: 'invalid'; run: RunState; reason: string; parentKnown: boolean };

const RUN_FILE_RE = /^(.+)\.json$/;
/** `"parent_run_id": null` or `"parent_run_id": "..."`, complete (a JSON string with its closing quote). */
const PARENT_LINK_RE = /"parent_run_id"\s*:\s*(null|"(?:[^"\\]|\\.)*")/;

/** The run id of a directory entry of `runs/`, or null (cancellation flags, temp files, strays). */
export function runIdOfFile(name: string): string | null {
  const m = RUN_FILE_RE.exec(name);
  return m ? m[1]! : null;
}

export function readRunFile(path: string, runId: string): RunRead {
  const text = readStoreText(path)?.text;
  return text === undefined ? { kind: 'missing' } : parseRunFile(runId, text);
}

export function parseRunFile(runId: string, text: string): RunRead {
  const invalid = (reason: string, parentRunId: string | null, parentKnown = true): RunRead => ({
    kind: 'invalid',
    run: { runId, status: '', updatedAt: null, parentRunId },
    reason,
    parentKnown,
  });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // A truncated file may still hold the whole parent link (pyworkflow writes it near the end, though).
    const link = PARENT_LINK_RE.exec(text);
    const parent = link === null ? undefined : parseParentLink(link[1]!);
    return invalid(text.trim() === '' ? 'empty file' : 'not valid JSON', parent ?? null, parent !== undefined);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return invalid('not a JSON object', null, false);
  const o = data as Record<string, unknown>;
  const parentRunId = typeof o.parent_run_id === 'string' ? o.parent_run_id : null;
  // pyworkflow addresses a run by its file name; a file whose content names another run is not one we can trust.
  if (o.run_id !== runId) return invalid(`run_id ${JSON.stringify(o.run_id)} does not match the file name`, parentRunId);
  if (typeof o.status !== 'string') return invalid('no status', parentRunId);
  const updatedAt = parsePythonTimestamp(o.updated_at);
  if (updatedAt === null) return invalid(`updated_at ${JSON.stringify(o.updated_at)} is not a timestamp`, parentRunId);
  return { kind: 'ok', run: { runId, status: o.status, updatedAt, parentRunId } };
}

/** The parent run id of a matched link, null for `null`, undefined when its string is itself broken (a bad escape). */
function parseParentLink(value: string): string | null | undefined {
  if (value === 'null') return null;
  try {
    return JSON.parse(value) as string;
  } catch {
    return undefined;
  }
}
