// Keeps each purge transaction near a time budget (the rule of the postgres backend's tx-budget.ts):
// a batch is split into chunks (children still before parents, each chunk its own transaction) whose
// size follows the measured time per run, so a slow server, a cold cache or a busy machine shortens
// transactions instead of lengthening the time pyworkflow's writers may wait on a locked run row.

/** Target BEGIN→COMMIT time: well under a second, so a slow outlier still stays below one. */
export const TRANSACTION_BUDGET_MS = 300;
const MIN_CHUNK = 10;
/** The first transaction of a sweep takes at most this many runs, until the budget has measured one. */
const FIRST_CHUNK = 100;

export class TransactionBudget {
  /** Runs per transaction: small at first, then as many as fit the budget (up to a whole batch). */
  private size = FIRST_CHUNK;

  constructor(private readonly budgetMs = TRANSACTION_BUDGET_MS) {}

  /** How many of `remaining` runs the next transaction takes. */
  next(remaining: number): number {
    return Math.max(1, Math.min(remaining, this.size));
  }

  /** Learns from one transaction: `runs` purged (or counted) in `ms`. */
  record(runs: number, ms: number): void {
    if (runs <= 0) return;
    const fit = Math.max(MIN_CHUNK, Math.floor((this.budgetMs * runs) / Math.max(ms, 1)));
    // Shrink at once when over budget; grow gently when under (one fast transaction may be luck).
    if (ms > this.budgetMs) this.size = Math.min(fit, this.size);
    else this.size = Math.max(this.size, Math.min(fit, Math.ceil(this.size * 1.5)));
  }
}
