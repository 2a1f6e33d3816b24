/**
 * Samples per second per connection, over a sliding window: the hub feeds it the pipeline's
 * running counts once a second and reads rates for health and /metrics.
 */
export class RateMeter {
  private readonly history = new Map<string, { ts: number; count: number }[]>();
  private lastTs: number | undefined;

  constructor(private readonly windowMs = 10_000) {}

  /** Record the running count of each key at `ts`. */
  record(counts: Readonly<Record<string, number>>, ts: number): void {
    for (const [key, count] of Object.entries(counts)) {
      // A key seen for the first time counted from 0 at the previous record.
      const h = this.history.get(key) ?? [{ ts: this.lastTs ?? ts, count: 0 }];
      h.push({ ts, count });
      while (h.length > 2 && h[0]!.ts < ts - this.windowMs) h.shift();
      this.history.set(key, h);
    }
    this.lastTs = ts;
  }

  /** Per second over the window; 0 until two points exist. */
  rate(key: string): number {
    const h = this.history.get(key);
    if (h === undefined || h.length < 2) return 0;
    const first = h[0]!;
    const last = h[h.length - 1]!;
    const seconds = (last.ts - first.ts) / 1000;
    return seconds <= 0 ? 0 : Math.max(0, (last.count - first.count) / seconds);
  }
}
