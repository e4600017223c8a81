// What the DynamoDB orphan sweep (H24) needs to know about one item: whose per-run data it is, which
// kind it is counted as, and how old it is by its own timestamps (pyworkflow writes Python ISO text).

import { parsePythonTimestamp } from '../python-time.js';
import { str, type Item, type ItemKey } from './client.js';
import { EVENT_SK_PREFIX, METADATA_SK, STEP_SK_PREFIX } from './keys.js';

export type OrphanKind = 'events' | 'steps' | 'hooks' | 'cancellationFlags' | 'checkpoints';
/** `record`: the run item itself; `index`: deleted with the group, never counted (TOKEN#, #EVENT_COUNTER). */
export type ItemRole = OrphanKind | 'record' | 'index';

/** The attributes that date an item of each kind; every one read also guards its conditional delete. */
export const STAMPS: Readonly<Record<OrphanKind, readonly string[]>> = {
  events: ['timestamp'],
  steps: ['created_at', 'updated_at'],
  hooks: ['created_at', 'received_at'],
  cancellationFlags: ['created_at'],
  checkpoints: ['created_at', 'updated_at'],
};

/** Every stamp attribute, for projections (`timestamp` is a reserved word: #ts). */
export const STAMP_PROJECTION = 'PK, SK, run_id, #ts, created_at, updated_at, received_at';
export const STAMP_NAMES = { '#ts': 'timestamp' };

/** The run id whose per-run data an item is, and its role; null for items of no run (stream-step checkpoints, schedules). */
export function classify(item: Item): { runId: string; role: ItemRole } | { legacyToken: string } | null {
  const pk = str(item, 'PK') ?? '';
  const sk = str(item, 'SK') ?? '';
  const runIdAttr = str(item, 'run_id');
  if (pk.startsWith('RUN#')) {
    const runId = pk.slice('RUN#'.length);
    if (sk === METADATA_SK) return { runId, role: 'record' };
    if (sk.startsWith(EVENT_SK_PREFIX)) return { runId, role: 'events' };
    if (sk.startsWith(STEP_SK_PREFIX)) return { runId, role: 'steps' };
    return { runId, role: 'index' }; // #EVENT_COUNTER (and anything else the run purge deletes uncounted)
  }
  if (pk.startsWith('HOOK#')) {
    // Every hook item names its run, the legacy `HOOK#{hook_id}` ones too.
    return sk === METADATA_SK && runIdAttr !== undefined ? { runId: runIdAttr, role: 'hooks' } : null;
  }
  if (pk.startsWith('TOKEN#')) {
    if (runIdAttr !== undefined) return { runId: runIdAttr, role: 'index' };
    // The SK is the hook item's PK: `HOOK#{run_id}#{hook_id}`, or a legacy `HOOK#{hook_id}` whose hook item names the run.
    const rest = sk.startsWith('HOOK#') ? sk.slice('HOOK#'.length) : '';
    const hash = rest.indexOf('#');
    return hash > 0 ? { runId: rest.slice(0, hash), role: 'index' } : rest !== '' ? { legacyToken: sk } : null;
  }
  if (pk.startsWith('CANCEL#')) return { runId: pk.slice('CANCEL#'.length), role: 'cancellationFlags' };
  if (pk.startsWith('CHECKPOINT#')) {
    // Only `{run_id}:{step_id}` belongs to a run; stream-step checkpoints (no `:`) do not (H9).
    const key = pk.slice('CHECKPOINT#'.length);
    const colon = key.indexOf(':');
    return colon > 0 ? { runId: key.slice(0, colon), role: 'checkpoints' } : null;
  }
  return null;
}

/** The newest of an item's stamps, ms; null when none is a readable timestamp (such a group is kept). */
export function newestStamp(item: Item, kind: OrphanKind): number | null {
  let newest: number | null = null;
  for (const name of STAMPS[kind]) {
    const t = parsePythonTimestamp(str(item, name))?.getTime();
    if (t !== undefined && (newest === null || t > newest)) newest = t;
  }
  return newest;
}

/** A conditional delete's expression: every stamp still as read (absent stays absent), so a rewritten item stays. */
export function unchangedCondition(item: Item, kind: OrphanKind): { ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Item } {
  const names: Record<string, string> = {};
  const values: Item = {};
  const parts = ['attribute_exists(PK)'];
  STAMPS[kind].forEach((name, i) => {
    names[`#s${i}`] = name;
    const v = item[name];
    if (v === undefined) {
      parts.push(`attribute_not_exists(#s${i})`);
    } else {
      values[`:s${i}`] = v;
      parts.push(`#s${i} = :s${i}`);
    }
  });
  return {
    ConditionExpression: parts.join(' AND '),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}

export const keyId = (k: ItemKey): string => `${k.PK}\u0000${k.SK}`;
