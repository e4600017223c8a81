// The controller runtime's time source: real timers in production, a manual clock in unit tests, so
// backoff, resync, lease renewal and the watch watchdog can be tested without waiting.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs fn after ms; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

const MAX_TIMEOUT_MS = 2_147_483_647;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // setTimeout fires at once for delays beyond 2^31-1 ms (~24.8 days): chain shorter ones instead.
    let t: NodeJS.Timeout;
    const arm = (left: number): void => {
      t = setTimeout(() => (left > MAX_TIMEOUT_MS ? arm(left - MAX_TIMEOUT_MS) : fn()), Math.min(Math.max(0, left), MAX_TIMEOUT_MS));
    };
    arm(ms);
    return () => clearTimeout(t);
  },
};

/** Resolves after ms on the given clock, or early (without error) when the signal aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      cancel();
      resolve();
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
