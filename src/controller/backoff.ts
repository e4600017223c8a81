// Jittered exponential backoff shared by the watches, the work queue and leader election: retries
// spread out (no thundering herd after an API server restart) and never wait longer than a cap.

export interface BackoffPolicy {
  /** Delay after the first failure. */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per consecutive failure (default 2). */
  factor?: number;
  /** Fraction of the delay that is randomised, 0..1 (default 0): the delay lies in [d*(1-jitter), d]. */
  jitter?: number;
}

/** The delay before retry number `failures` (1 = after the first failure); 0 when failures <= 0. */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  if (failures <= 0) return 0;
  const factor = policy.factor ?? 2;
  // Cap the exponent first so that many failures cannot overflow to Infinity.
  const exponent = Math.min(failures - 1, 64);
  const raw = Math.min(policy.maxMs, policy.baseMs * factor ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0));
  return Math.round(raw * (1 - jitter * random()));
}
