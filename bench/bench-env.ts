// What the benchmarks share: tool paths (e.g. the pyworkflow virtualenv) from the test environment
// file, and the cutoff that makes a chosen share of a generated dataset purgeable.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TERMINAL_STATUSES } from '../src/engine/statuses.js';
import type { Dataset } from '../src/model/dataset.js';

/** The cutoff that makes `share` of all runs terminal and older. */
export function cutoffFor(d: Dataset, share: number): Date {
  const terminal = new Set<string>(TERMINAL_STATUSES);
  const times = d.runs.filter((r) => terminal.has(r.status)).map((r) => r.updated_at.getTime()).sort((a, b) => a - b);
  const want = Math.round(share * d.runs.length);
  if (want > times.length) throw new Error(`only ${times.length} of ${d.runs.length} runs are terminal; lower --purgeable`);
  return new Date(times[want - 1]! + 1);
}

export function envValue(name: string): string {
  if (process.env[name]) return process.env[name];
  const file = join(import.meta.dirname, '..', '..', '.test-env', 'env');
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
      if (m && m[1] === name) return m[2]!;
    }
  }
  throw new Error(`${name} is not set: run \`npm run env:up\` first`);
}
