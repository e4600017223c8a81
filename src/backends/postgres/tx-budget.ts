// Keeps each purge transaction near a time budget: a batch is split into chunks (children still
// before parents, each chunk its own transaction) whose size follows the measured time per run, so
// a slow server, a cold cache or a busy machine shortens transactions instead of lengthening the
// time pyworkflow's writers may wait on a locked run row.

/** Target BEGIN→COMMIT time: well under a second, so a slow outlier still stays below one. */
export const TRANSACTION_BUDGET_MS = 300;
const MIN_CHUNK = 10;

export class TransactionBudget {
  /** Runs per transaction; starts unlimited (a batch is one transaction until one proves too slow). */
  private size = Number.POSITIVE_INFINITY;

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
    else if (Number.isFinite(this.size)) this.size = Math.max(this.size, Math.min(fit, Math.ceil(this.size * 1.5)));
  }
}
