/**
 * Production counters. Devices report absolute PLC counter values that roll over; the hub turns
 * them into deltas. Applying the same absolute value twice yields a zero delta, so a value
 * re-delivered after a crash never double-counts production.
 */

export const COUNTER_KINDS = ['good', 'scrap', 'total'] as const;
export type CounterKind = (typeof COUNTER_KINDS)[number];

export interface CounterReading {
  /** Accumulated production since the hub first saw the counter. */
  readonly total: number;
  /** Last absolute raw value read from the device, null before the first reading. */
  readonly lastRaw: number | null;
}

export const INITIAL_COUNTER: CounterReading = { total: 0, lastRaw: null };

export type CounterAnomaly = 'rollover' | 'reset' | null;

export interface CounterStep {
  readonly delta: number;
  readonly anomaly: CounterAnomaly;
  readonly next: CounterReading;
}

/**
 * Apply an absolute raw counter value.
 * - First reading: the baseline, delta 0 (the hub cannot know what was produced before it).
 * - Increase: the difference.
 * - Decrease with `rolloverAt` set (the largest value the counter holds, e.g. 65535) and a
 *   plausible wrap (a delta of at most half the range): a rollover, counted across the wrap.
 * - Any other decrease: a reset of the counter; the new value is counted from zero.
 * Never negative.
 */
export function applyCounter(
  current: CounterReading,
  raw: number,
  rolloverAt: number | undefined,
): CounterStep {
  if (current.lastRaw === null) {
    return { delta: 0, anomaly: null, next: { total: current.total, lastRaw: raw } };
  }
  const prev = current.lastRaw;
  let delta: number;
  let anomaly: CounterAnomaly = null;
  if (raw >= prev) {
    delta = raw - prev;
  } else if (
    rolloverAt !== undefined &&
    prev <= rolloverAt &&
    rolloverAt - prev + raw + 1 <= (rolloverAt + 1) / 2
  ) {
    delta = rolloverAt - prev + raw + 1;
    anomaly = 'rollover';
  } else {
    delta = raw;
    anomaly = 'reset';
  }
  return { delta, anomaly, next: { total: current.total + delta, lastRaw: raw } };
}

/** How a counter tag reports production. */
export const COUNTER_MODES = ['absolute', 'increment', 'pulse'] as const;
export type CounterMode = (typeof COUNTER_MODES)[number];

/**
 * A reading of a counter in `increment` mode: the value is the pieces made since the last
 * report (a PLC that resets its counter after each send). Re-delivery cannot be told from new
 * production by the value, so the caller drops readings not newer than the last one applied.
 */
export function applyIncrement(current: CounterReading, increment: number): CounterStep {
  return {
    delta: increment,
    anomaly: null,
    next: { total: current.total + increment, lastRaw: current.lastRaw },
  };
}

/**
 * A reading of a counter in `pulse` mode: a part-complete signal (0/1, false/true); a rising
 * edge (0 → 1) is one piece. `lastRaw` holds the last level, so a repeated 1 counts once and
 * the edge survives a restart of the hub.
 */
export function applyPulse(current: CounterReading, level: 0 | 1): CounterStep {
  const rising = level === 1 && current.lastRaw === 0;
  return {
    delta: rising ? 1 : 0,
    anomaly: null,
    next: { total: current.total + (rising ? 1 : 0), lastRaw: level },
  };
}
