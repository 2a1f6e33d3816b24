/**
 * Attempts per minute per key (a user name, a client address), for logins and signatures.
 * A sliding log of attempt times per key, kept in memory: a limit that resets when the hub
 * restarts is fine here, since lockout (stored with the user) is the lasting defence and this
 * only slows guessing down. Hand-written: @fastify/rate-limit keys a route by one value, and a
 * login must be limited by two (user and address) and from the CLI and broker too.
 */
export class AttemptLimiter {
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Record an attempt for every key; returns the key over its limit and the seconds until it
   * frees up, or null when all are within limits (then the attempt counts for each).
   */
  take(keys: readonly string[]): { key: string; retryAfterS: number } | null {
    const now = this.now();
    const windowStart = now - 60_000;
    for (const key of keys) {
      const log = (this.attempts.get(key) ?? []).filter((t) => t > windowStart);
      this.attempts.set(key, log);
      if (log.length >= this.perMinute) {
        return { key, retryAfterS: Math.max(1, Math.ceil((log[0]! - windowStart) / 1000)) };
      }
    }
    for (const key of keys) this.attempts.get(key)!.push(now);
    if (this.attempts.size > 10_000) this.prune(windowStart);
    return null;
  }

  private prune(windowStart: number): void {
    for (const [key, log] of this.attempts) {
      if (log.every((t) => t <= windowStart)) this.attempts.delete(key);
    }
  }
}
