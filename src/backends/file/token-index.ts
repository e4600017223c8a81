// `_token_index.json` (token → "run_id:hook_id"; legacy stores: token → hook_id): removing the tokens of
// purged runs (H3). Callers hold `token_index.lock`, which every pyworkflow writer of the file takes.

import { writeFileAtomic } from './atomic-write.js';
import type { Logger } from '../../log.js';
import { readStoreText, type UnsafeIds } from './containment.js';
import { TOKEN_INDEX_FILE, type FilePaths } from './layout.js';
import { joinObject, rawObjectMembers, type RawMember } from './raw-json.js';

export type TokenRemoval =
  | { kind: 'done'; removed: number; ownerWarning: string | null }
  | { kind: 'unreadable'; reason: string };

/** The token index of one store, as one sweep sees it batch after batch. */
export class TokenIndexFile {
  /**
   * The text last read or written and its members: while pyworkflow creates no hook between two
   * batches the file is unchanged, and parsing thousands of tokens per batch is skipped.
   */
  private cached: { text: string; members: RawMember[] } | null = null;

  constructor(private readonly paths: FilePaths) {}

  /**
   * Run ids that own entries (the text before `:` of a token or its value), read without the lock:
   * which ids have tokens at all, for the orphan sweep; it removes them under the lock. null when the
   * file cannot be parsed. Unsafe owners (see containment.ts) are left out: their entries stay.
   */
  ownerRunIds(unsafe: UnsafeIds): Set<string> | null {
    const text = readStoreText(this.paths.tokenIndex)?.text;
    if (text === undefined) return new Set();
    let members: RawMember[];
    try {
      members = text.trim() === '' ? [] : rawObjectMembers(text);
    } catch {
      return null;
    }
    const owners = new Set<string>();
    for (const m of members) {
      for (const s of [m.key, m.value]) {
        const colon = typeof s === 'string' ? s.indexOf(':') : -1;
        if (colon > 0 && unsafe.check((s as string).slice(0, colon), TOKEN_INDEX_FILE)) owners.add((s as string).slice(0, colon));
      }
    }
    return owners;
  }

  /** removeRunTokens, logging what a sweep must report: an unparseable index (left as is) or an owner it could not keep. */
  removeRunTokensOrWarn(runIds: ReadonlySet<string>, tokens: ReadonlySet<string>, logger: Logger): void {
    const result = this.removeRunTokens(runIds, tokens);
    if (result.kind === 'unreadable') {
      logger.warn('_token_index.json cannot be parsed; its tokens are left in place', { reason: result.reason });
    } else if (result.ownerWarning !== null) {
      logger.warn(result.ownerWarning);
    }
  }

  /**
   * Drops every entry whose token or value starts with `{run_id}:` for one of `runIds`, or whose token
   * is one of `tokens` (legacy hook files name theirs), and rewrites the file atomically in pyworkflow's
   * shape (json.dumps indent 2) with every other entry exactly as written.
   */
  removeRunTokens(runIds: ReadonlySet<string>, tokens: ReadonlySet<string>): TokenRemoval {
    const text = readStoreText(this.paths.tokenIndex)?.text;
    if (text === undefined) return { kind: 'done', removed: 0, ownerWarning: null };
    let members: RawMember[];
    if (this.cached?.text === text) {
      members = this.cached.members;
    } else {
      try {
        members = text.trim() === '' ? [] : rawObjectMembers(text);
      } catch (err) {
        return { kind: 'unreadable', reason: (err as Error).message };
      }
    }
    const ownedByPurged = (s: unknown): boolean => {
      if (typeof s !== 'string') return false;
      const colon = s.indexOf(':');
      return colon > 0 && runIds.has(s.slice(0, colon));
    };
    const kept = members.filter((m) => !(ownedByPurged(m.key) || ownedByPurged(m.value) || tokens.has(m.key)));
    const removed = members.length - kept.length;
    let ownerWarning: string | null = null;
    if (removed > 0) {
      const next = joinObject(kept);
      ownerWarning = writeFileAtomic(this.paths.tokenIndex, next);
      this.cached = { text: next, members: kept };
    } else {
      this.cached = { text, members };
    }
    return { kind: 'done', removed, ownerWarning };
  }
}
