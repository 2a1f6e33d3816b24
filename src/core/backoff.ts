/**
 * Reconnection backoff as data (STYLE.md rule 2): every connector retries with the same
 * exponential backoff and jitter, configured per connection (`reconnect` in its config).
 * Jitter spreads the retries of many connections after a shared outage (a broker restart)
 * so they do not all knock at once.
 */
export interface BackoffPolicy {
  /** Delay before the first retry (ms). */
  readonly initialMs: number;
  /** Longest delay (ms). */
  readonly maxMs: number;
  /** Growth per failed attempt. */
  readonly factor: number;
  /** Fraction of the delay drawn at random, 0–1: 0.2 gives a delay within ±20 %. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.2,
};

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt));
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + 2 * spread * random()));
}

/**
 * Retry `attempt` until it succeeds or `signal` aborts, waiting the policy's delays between
 * failures; `onFailure` hears of each failure and the wait that follows. Resolves with the
 * result, or rejects with the abort reason.
 */
export async function withBackoff<T>(
  policy: BackoffPolicy,
  attempt: () => Promise<T>,
  options: {
    signal?: AbortSignal;
    onFailure?: (err: unknown, attempt: number, delayMs: number) => void;
  } = {},
): Promise<T> {
  for (let n = 0; ; n++) {
    options.signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (err) {
      options.signal?.throwIfAborted();
      const delay = backoffDelay(policy, n);
      options.onFailure?.(err, n, delay);
      options.signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(options.signal?.reason as Error);
        };
        const timer = setTimeout(() => {
          options.signal?.removeEventListener('abort', onAbort);
          resolve();
        }, delay);
        options.signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
