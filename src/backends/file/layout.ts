// Where pyworkflow's file store keeps what (docs/storage.md#file), and which layout generation a
// directory is (docs/storage.md#detection-other): pyworkflow creates every directory it knows whenever it opens a store, so the set
// of directories names the newest pyworkflow release that opened it.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RetentionError, UnknownSchemaError } from '../../errors.js';
import type { StoreLayout } from '../backend.js';
import { isOurTempFile } from './atomic-write.js';
import { assertSegment } from './containment.js';

export const TOKEN_INDEX_FILE = '_token_index.json';

/** Paths inside one store. */
export class FilePaths {
  readonly runs: string;
  readonly events: string;
  readonly steps: string;
  readonly hooks: string;
  readonly schedules: string;
  readonly checkpoints: string;
  readonly locks: string;
  readonly streams: string;
  readonly signals: string;
  readonly subscriptions: string;
  readonly acknowledgments: string;
  readonly tokenIndex: string;

  constructor(readonly base: string) {
    this.runs = join(base, 'runs');
    this.events = join(base, 'events');
    this.steps = join(base, 'steps');
    this.hooks = join(base, 'hooks');
    this.schedules = join(base, 'schedules');
    this.checkpoints = join(base, 'checkpoints');
    this.locks = join(base, '.locks');
    this.streams = join(base, 'streams');
    this.signals = join(base, 'signals');
    this.subscriptions = join(base, 'subscriptions');
    this.acknowledgments = join(base, 'acknowledgments');
    this.tokenIndex = join(base, TOKEN_INDEX_FILE);
  }

  // Every name is checked to be one segment: ids come from the store's contents (see containment.ts).
  runFile(runId: string): string {
    return join(this.runs, assertSegment(`${runId}.json`, 'run file'));
  }
  cancelFile(runId: string): string {
    return join(this.runs, assertSegment(`${runId}.cancel`, 'cancellation flag'));
  }
  eventsFile(runId: string): string {
    return join(this.events, assertSegment(`${runId}.jsonl`, 'event log'));
  }
  lock(name: string): string {
    return join(this.locks, assertSegment(name, 'lock file'));
  }
  /** A file of one of the store's directories, by a name from its listing. */
  in(dir: string, name: string): string {
    return join(dir, assertSegment(name, 'file'));
  }
}

/** Directories of every generation (created by every release since the file store exists). */
const ALWAYS = ['runs', 'events', 'steps', 'hooks', 'schedules', '.locks'] as const;
const CHECKPOINTS = 'checkpoints'; // v0.2.0b1+
const STREAMS = ['streams', 'signals', 'subscriptions', 'acknowledgments'] as const; // v0.2.4+

export const FILE_LAYOUTS = ['file:legacy (v0.1.x)', 'file:v0.2.0b1+ (checkpoints)', 'file:v0.2.4+ (checkpoints, streams)'];

/**
 * Entries a store may hold that pyworkflow did not write and that mean no harm: a filesystem's
 * `lost+found` at a volume root, NFS "silly rename" files (`.nfsXXXX`, left when a file that is still
 * open elsewhere is replaced, as our atomic rewrite of the token index does), and our own temp files.
 */
function isHarmless(name: string): boolean {
  return name === 'lost+found' || name.startsWith('.nfs') || isOurTempFile(name);
}

export interface FileLayout extends StoreLayout {
  checkpoints: boolean;
  streams: boolean;
}

/** Reads the top level of the store; throws for a missing path or a layout this release does not know. */
export function detectFileLayout(paths: FilePaths, target: string): FileLayout {
  const st = statSync(paths.base, { throwIfNoEntry: false });
  if (st === undefined) {
    throw new RetentionError(
      'CONNECTION_FAILED',
      `${target}: base_path does not exist; point base_path at pyworkflow's data directory (the storage base_path pyworkflow uses)`,
    );
  }
  if (!st.isDirectory()) {
    throw new RetentionError('CONNECTION_FAILED', `${target}: base_path is not a directory; point it at pyworkflow's data directory`);
  }
  const entries = readdirSync(paths.base, { withFileTypes: true });
  const present = new Set<string>();
  const unknown: string[] = [];
  const known = new Set<string>([...ALWAYS, CHECKPOINTS, ...STREAMS]);
  for (const e of entries) {
    if (known.has(e.name)) {
      if (!e.isDirectory()) unknown.push(`${e.name} (a file where pyworkflow keeps a directory)`);
      else present.add(e.name);
    } else if (e.name === TOKEN_INDEX_FILE) {
      if (!e.isFile()) unknown.push(`${e.name} (not a file)`);
    } else if (!isHarmless(e.name)) {
      unknown.push(e.name);
    }
  }
  const meaningful = entries.filter((e) => !isHarmless(e.name));
  if (meaningful.length === 0) {
    // pyworkflow creates its directories on first use: an empty directory was never a store.
    return { schemaVersion: 'file:empty', empty: true, checkpoints: false, streams: false, details: { entries: 0 } };
  }
  const missing = ALWAYS.filter((d) => !present.has(d));
  const streamDirs = STREAMS.filter((d) => present.has(d));
  const checkpoints = present.has(CHECKPOINTS);
  if (missing.length > 0) unknown.push(`missing ${missing.join(', ')}`);
  if (streamDirs.length > 0 && streamDirs.length < STREAMS.length) {
    unknown.push(`only some stream directories (${streamDirs.join(', ')})`);
  }
  if (streamDirs.length === STREAMS.length && !checkpoints) unknown.push('stream directories without checkpoints');
  if (unknown.length > 0) {
    throw new UnknownSchemaError(target, `unexpected top-level entries: ${unknown.join('; ')}`, FILE_LAYOUTS);
  }
  const streams = streamDirs.length === STREAMS.length;
  const schemaVersion = streams ? 'file:v0.2.4+' : checkpoints ? 'file:v0.2.0b1+' : 'file:legacy';
  return {
    schemaVersion,
    empty: false,
    checkpoints,
    streams,
    details: { checkpoints, streams, tokenIndex: entries.some((e) => e.name === TOKEN_INDEX_FILE) },
  };
}
