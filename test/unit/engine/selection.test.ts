import { describe, expect, it } from 'vitest';
import type { RunState } from '../../../src/backends/backend.js';
import { confirmBatch, decideBatch, isCandidate, type Selection } from '../../../src/engine/selection.js';

const cutoff = new Date('2026-01-10T00:00:00Z');
const sel: Selection = { statuses: new Set(['completed', 'failed']), cutoff };
const old = new Date('2026-01-01T00:00:00Z');
const young = new Date('2026-01-20T00:00:00Z');
const run = (runId: string, status: string, updatedAt: Date | null, parentRunId: string | null = null): RunState => ({ runId, status, updatedAt, parentRunId });

describe('isCandidate', () => {
  it('needs a selected status and updated_at strictly before the cutoff', () => {
    expect(isCandidate(run('a', 'completed', old), sel)).toBe(true);
    expect(isCandidate(run('a', 'completed', cutoff), sel)).toBe(false);
    expect(isCandidate(run('a', 'completed', new Date(cutoff.getTime() - 1)), sel)).toBe(true);
    expect(isCandidate(run('a', 'running', old), sel)).toBe(false);
    expect(isCandidate(run('a', 'cancelled', old), sel)).toBe(false);
    expect(isCandidate(run('a', 'completed', null), sel)).toBe(false);
    expect(isCandidate(run('a', 'completed', new Date(NaN)), sel)).toBe(false);
  });
});

describe('decideBatch', () => {
  it('keeps a parent whose child is kept, to a fixed point through grandparents', () => {
    const g = run('g', 'completed', old);
    const p = run('p', 'completed', old, 'g');
    const c = run('c', 'running', old, 'p');
    const tree = new Map([['g', [p]], ['p', [c]]]);
    const d = decideBatch([g, p], (id) => tree.get(id) ?? [], sel);
    expect(d.purge).toEqual([]);
    expect(d.keptForChildren.map((r) => r.runId)).toEqual(['g', 'p']);
  });

  it('purges a parent with all its descendants, children first, each once', () => {
    const p = run('p', 'completed', old);
    const c1 = run('c1', 'failed', old, 'p');
    const c2 = run('c2', 'completed', old, 'p');
    const gc = run('gc', 'completed', old, 'c1');
    const tree = new Map([['p', [c1, c2]], ['c1', [gc]]]);
    const d = decideBatch([p, c1, gc], (id) => tree.get(id) ?? [], sel);
    expect(d.purge.map((r) => r.runId)).toEqual(['gc', 'c1', 'c2', 'p']);
  });

  it('purges a child whose parent is kept', () => {
    const c = run('c', 'completed', old, 'p');
    const d = decideBatch([c], () => [], sel);
    expect(d.purge.map((r) => r.runId)).toEqual(['c']);
  });

  it('keeps runs on a parent cycle instead of guessing', () => {
    const a = run('a', 'completed', old, 'b');
    const b = run('b', 'completed', old, 'a');
    const tree = new Map([['a', [b]], ['b', [a]]]);
    expect(decideBatch([a, b], (id) => tree.get(id) ?? [], sel).purge).toEqual([]);
  });

  it('a young child blocks the old parent', () => {
    const p = run('p', 'completed', old);
    const c = run('c', 'completed', young, 'p');
    const d = decideBatch([p], (id) => (id === 'p' ? [c] : []), sel);
    expect(d.purge).toEqual([]);
    expect(d.keptForChildren).toHaveLength(1);
  });
});

describe('confirmBatch', () => {
  const planned = [run('c', 'completed', old, 'p'), run('p', 'completed', old, 'g'), run('g', 'completed', old)];

  it('confirms an unchanged batch in order', () => {
    expect(confirmBatch(planned, planned, new Set(), sel).map((r) => r.runId)).toEqual(['c', 'p', 'g']);
  });

  it('drops runs that vanished and keeps the rest', () => {
    expect(confirmBatch(planned, planned.slice(1), new Set(), sel).map((r) => r.runId)).toEqual(['p', 'g']);
  });

  it('a child updated since selection keeps itself and all its ancestors', () => {
    const current = [run('c', 'completed', young, 'p'), planned[1]!, planned[2]!];
    expect(confirmBatch(planned, current, new Set(), sel)).toEqual([]);
  });

  it('a run that gained a child outside the batch is kept with its ancestors', () => {
    expect(confirmBatch(planned, planned, new Set(['p']), sel).map((r) => r.runId)).toEqual(['c']);
  });

  it('a run that went back to running is kept', () => {
    const current = [planned[0]!, planned[1]!, run('g', 'running', old)];
    expect(confirmBatch(planned, current, new Set(), sel).map((r) => r.runId)).toEqual(['c', 'p']);
  });
});
