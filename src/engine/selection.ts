// Which runs a sweep may purge: the exact predicate (status and cutoff), and the parent/child rule
// of docs/storage.md#selection: a candidate with a child that is kept is itself kept, to a fixed point.
// Pure functions; the sweep loop feeds them what the backend read.

import type { RunState } from '../backends/backend.js';

export interface Selection {
  statuses: ReadonlySet<string>;
  cutoff: Date;
}

/** Status selected and updated_at strictly before the cutoff. An unreadable timestamp is never a candidate. */
export function isCandidate(run: RunState, selection: Selection): boolean {
  return (
    selection.statuses.has(run.status) &&
    run.updatedAt !== null &&
    !Number.isNaN(run.updatedAt.getTime()) &&
    run.updatedAt.getTime() < selection.cutoff.getTime()
  );
}

export interface Decision {
  /** Runs to purge, children before parents, each once. */
  purge: RunState[];
  /** Candidates kept because a descendant is kept. */
  keptForChildren: RunState[];
}

/**
 * Decides a batch. `roots` are candidates read from the store; `childrenOf` returns the children
 * loaded for a run id (the whole descendant tree of every root must have been loaded). A root is
 * purged with all its descendants when every descendant is a candidate.
 */
export function decideBatch(
  roots: readonly RunState[],
  childrenOf: (runId: string) => readonly RunState[],
  selection: Selection,
): Decision {
  const memo = new Map<string, boolean>();
  const onPath = new Set<string>();

  // deletable(r) = candidate(r) and every child deletable. A cycle in parent links cannot come from
  // pyworkflow; if the data has one, keep everything on it rather than guess.
  const deletable = (run: RunState): boolean => {
    const known = memo.get(run.runId);
    if (known !== undefined) return known;
    if (onPath.has(run.runId)) return false;
    onPath.add(run.runId);
    let ok = isCandidate(run, selection);
    if (ok) {
      for (const child of childrenOf(run.runId)) {
        if (!deletable(child)) {
          ok = false;
          break;
        }
      }
    }
    onPath.delete(run.runId);
    memo.set(run.runId, ok);
    return ok;
  };

  const purge: RunState[] = [];
  const placed = new Set<string>();
  // Post-order: a run is placed after all of its descendants.
  const place = (run: RunState): void => {
    if (placed.has(run.runId)) return;
    placed.add(run.runId);
    for (const child of childrenOf(run.runId)) place(child);
    purge.push(run);
  };

  const keptForChildren: RunState[] = [];
  for (const root of roots) {
    if (deletable(root)) place(root);
    else if (isCandidate(root, selection)) keptForChildren.push(root);
  }
  return { purge, keptForChildren };
}

/**
 * Re-validates a planned batch against the states read again under the backend's lock.
 * Keeps the planned order (children first); a run that vanished is dropped; a run that stopped
 * being a candidate, or gained a child outside the batch, is kept and so are all its ancestors.
 */
export function confirmBatch(
  planned: readonly RunState[],
  current: readonly RunState[],
  withOutsideChildren: ReadonlySet<string>,
  selection: Selection,
): RunState[] {
  const now = new Map(current.map((r) => [r.runId, r]));
  const blocked = new Set<string>();
  const confirmed: RunState[] = [];
  for (const plan of planned) {
    const run = now.get(plan.runId);
    if (run === undefined) continue;
    const ok = isCandidate(run, selection) && !withOutsideChildren.has(run.runId) && !blocked.has(run.runId);
    if (ok) confirmed.push(run);
    else {
      for (const parent of [run.parentRunId, plan.parentRunId]) if (parent !== null) blocked.add(parent);
    }
  }
  // A parent placed before a blocked child cannot happen (children come first), but a caller could
  // pass any order: drop confirmed runs that ended up blocked.
  return confirmed.filter((r) => !blocked.has(r.runId));
}
