// Listing and reading pyworkflow's one-record-per-file JSON directories (hooks, steps, checkpoints,
// schedules, subscriptions, acknowledgments, signals) the way pyworkflow itself does: `glob("*.json")`.

import { readdirSync } from 'node:fs';
import { readStoreText } from './containment.js';

/** Names of the `*.json` entries of `dir`, sorted; none when the directory does not exist (older layouts). */
export function jsonFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export type JsonRead = { kind: 'ok'; data: Record<string, unknown> } | { kind: 'missing' } | { kind: 'invalid' };

/** One JSON object file. `invalid` covers empty files (pyworkflow rewrites in place) and non-objects. */
export function readJsonObject(path: string): JsonRead {
  const text = readStoreText(path)?.text;
  if (text === undefined) return { kind: 'missing' };
  try {
    const data: unknown = JSON.parse(text);
    return data !== null && typeof data === 'object' && !Array.isArray(data) ? { kind: 'ok', data: data as Record<string, unknown> } : { kind: 'invalid' };
  } catch {
    return { kind: 'invalid' };
  }
}
