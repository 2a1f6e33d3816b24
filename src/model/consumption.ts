/**
 * Material consumption: how much of a material a unit used, as an exact decimal. Devices report
 * either a totaliser (a flow meter's or scale's running total, which may roll over or be reset)
 * or the quantity used since the last report. Like production counters, a re-delivered
 * totaliser value yields nothing new, so a crash never books a consumption twice.
 *
 * Quantities are decimal.js Decimals or decimal strings, never binary floats: 0.1 + 0.2 is 0.3.
 */
import { Decimal } from 'decimal.js';
import type { CounterAnomaly } from './counter.ts';

/** The position of one consumption source of one unit, as the projection keeps it. */
export interface ConsumptionPosition {
  /** Used since the hub first saw the source, in the material's unit (decimal text). */
  readonly total: string;
  /** Last totaliser value read, in the tag's unit (decimal text); null before the first. */
  readonly lastRaw: string | null;
  /** Source time of the last reading applied. */
  readonly lastTs: number;
}

export const INITIAL_POSITION: ConsumptionPosition = { total: '0', lastRaw: null, lastTs: 0 };

/** How a consumption tag reports: a running total, or the quantity since the last report. */
export const CONSUMPTION_MODES = ['absolute', 'increment'] as const;
export type ConsumptionMode = (typeof CONSUMPTION_MODES)[number];

export interface ConsumptionStep {
  /** Used by this reading, in the tag's unit; zero for a first totaliser reading. */
  readonly delta: Decimal;
  readonly anomaly: CounterAnomaly;
  /** The new last raw value (tag unit). */
  readonly lastRaw: string | null;
}

/**
 * One reading of a consumption source, in the tag's unit. `absolute`: the first reading is the
 * baseline; a rise is the difference; a fall is a rollover when `rolloverAt` (the largest value
 * before the wrap to 0) is set and the wrap is plausible (at most half the range), else a reset
 * counted from zero. Never negative.
 * `increment`: the value itself (the caller drops re-deliveries by time).
 */
export function applyConsumption(
  lastRaw: string | null,
  raw: Decimal,
  mode: ConsumptionMode,
  rolloverAt: Decimal | undefined,
): ConsumptionStep {
  if (mode === 'increment') return { delta: raw, anomaly: null, lastRaw };
  const text = raw.toFixed();
  if (lastRaw === null) return { delta: new Decimal(0), anomaly: null, lastRaw: text };
  const prev = new Decimal(lastRaw);
  if (raw.gte(prev)) return { delta: raw.minus(prev), anomaly: null, lastRaw: text };
  if (rolloverAt !== undefined && prev.lte(rolloverAt)) {
    // `rolloverAt` is the largest value shown before the wrap to 0, as for production counters
    // (65535): the step from it to 0 is one unit of its last decimal place (99999.9 → 0 is 0.1).
    const resolution = new Decimal(10).pow(-rolloverAt.decimalPlaces());
    const step = rolloverAt.minus(prev).plus(raw).plus(resolution);
    if (step.lte(rolloverAt.plus(1).div(2))) {
      return { delta: step, anomaly: 'rollover', lastRaw: text };
    }
  }
  return { delta: raw, anomaly: 'reset', lastRaw: text };
}

/**
 * A reading's value as a decimal: a finite non-negative number or decimal text. Numbers go
 * through their shortest round-trip text (0.1 stays 0.1); decimal text is taken exactly.
 * Returns null for anything else.
 */
export function readDecimal(value: unknown): Decimal | null {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    text = String(value);
  } else if (
    typeof value === 'string' &&
    /^\s*[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value)
  ) {
    text = value.trim();
  } else {
    return null;
  }
  const d = new Decimal(text);
  return d.isNegative() ? null : d;
}
