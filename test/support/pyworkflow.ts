// Calls test/support/pyworkflow_driver.py with a real pyworkflow virtualenv: genuine pyworkflow data
// written and read back through pyworkflow's own storage classes.

import { runProcess } from './process.js';
import { requireEnv } from './test-env.js';

export interface ManifestRun {
  run_id: string;
  status: string;
  updated_at: string;
  parent_run_id: string | null;
  events: number;
  hook_tokens: string[];
  checkpoint_keys: string[];
  cancel: boolean;
}

export interface Manifest {
  ok: boolean;
  pyworkflow_version: string;
  runs: ManifestRun[];
  schedules: { schedule_id: string; status: string; updated_at: string }[];
  streams: { stream_id: string; signals: { signal_id: string; sequence: number; stream_run_id: string; published_at: string }[] }[];
}

export interface InspectedRun {
  exists: boolean;
  status: string | null;
  updated_at: string | null;
  parent_run_id: string | null;
  events: number;
  hooks: number;
  hook_tokens: Record<string, boolean>;
  cancel_flag: boolean;
  checkpoints: Record<string, boolean>;
}

export interface Inspection {
  ok: boolean;
  runs: Record<string, InspectedRun>;
  schedules: Record<string, null | { status: string; updated_at: string }>;
  streams: Record<string, { signals: number; signal_ids: string[] }>;
}

/** Runs one driver command; throws with the driver's error and stderr when it fails. */
export async function pyworkflow<T>(
  command: string,
  storage: Record<string, unknown>,
  args: string[] = [],
  input?: unknown,
  python = requireEnv('PYWORKFLOW_PYTHON'),
): Promise<T> {
  const r = await runProcess(python, [requireEnv('PYWORKFLOW_DRIVER'), command, '--storage', JSON.stringify(storage), ...args], {
    ...(input === undefined ? {} : { input: JSON.stringify(input) }),
    timeoutMs: 600_000,
  });
  let out: { ok?: boolean; error?: string } | undefined;
  try {
    out = JSON.parse(r.stdout) as { ok?: boolean; error?: string };
  } catch {
    out = undefined;
  }
  if (r.code !== 0 || out?.ok !== true) {
    throw new Error(`pyworkflow ${command} failed (exit ${String(r.code)}): ${out?.error ?? r.stdout.slice(0, 500)}\n${r.stderr.slice(-2000)}`);
  }
  return out as T;
}
