// Bounded concurrency for the backend's statements: enough in flight to hide round trips, few enough
// that a sweep never floods a cluster that also serves pyworkflow (H19).

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. After a
 * failure no new call starts, the calls in flight finish (their effects are known when this rejects),
 * and the first error is thrown.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
  return out;
}
