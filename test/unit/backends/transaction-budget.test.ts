// The SQL backends' transaction budget: a first transaction of at most 100 runs, shrinking at once when one runs
// over budget, growing by at most half when under. No server needed.
import { describe, expect, it } from 'vitest';
import { TransactionBudget } from '../../../src/backends/transaction-budget.js';

describe('transaction budget', () => {
  it('starts small, grows by half while under budget, up to what fits', () => {
    const b = new TransactionBudget(300);
    expect(b.next(500)).toBe(100);
    b.record(100, 30);
    expect(b.next(500)).toBe(150);
    b.record(150, 40);
    expect(b.next(500)).toBe(225);
    b.record(225, 200);
    expect(b.next(500)).toBe(337);
    b.record(337, 290);
    expect(b.next(50)).toBe(50);
  });

  it('shrinks at once to what fits when a transaction runs over, never below 10 runs', () => {
    const b = new TransactionBudget(300);
    b.record(100, 1200);
    expect(b.next(500)).toBe(25);
    b.record(25, 100_000);
    expect(b.next(500)).toBe(10);
  });
});
