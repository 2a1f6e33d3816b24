/**
 * KPI buckets (issue #11): what each work unit did in each minute, summed so that any range of
 * whole minutes is answered by adding rows rather than by reading the journal. Pure: no I/O.
 *
 * A bucket is maintained from the events as they are committed. A state change carries the state
 * it ends, with the reason code it had and how long it lasted (`previousState`,
 * `previousDurationMs`: the runtime's own bookkeeping, DESIGN.md), so the interval
 * [ts − previousDurationMs, ts) is known exactly when the change is committed and is split at
 * every minute boundary into the minutes it covers. Shift boundaries are local `HH:MM` times and
 * every zone's offset is whole minutes, so a minute never straddles two shifts: a shift's figures
 * are exact sums of its minutes. The state a unit is in now is not in any bucket until it ends;
 * a report adds it up to now from the unit's current status.
 *
 * An interval counts in the minute it began as one occurrence (`<state>` count), so stops and
 * changeovers are counted once however many minutes they span. A `down` the runtime marked a
 * micro-stop (`previousMicroStop`) is also summed apart (`microMs`, `microStops`).
 */
import type { DomainEvent } from './events.ts';
import { EQUIPMENT_STATES, type EquipmentState } from './state.ts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** Summable figures of one unit over one bucket (or a sum of buckets). */
export interface BucketFigures {
  /** Time in each state, ms. */
  readonly ms: Readonly<Record<EquipmentState, number>>;
  /** Intervals of each state that began in the bucket. */
  readonly n: Readonly<Record<EquipmentState, number>>;
  /** Time and number of micro-stops (a subset of `down`). */
  readonly microMs: number;
  readonly microStops: number;
  readonly good: number;
  readonly scrap: number;
  readonly total: number;
}

/** A stop interval's time with its reason code, for reasons the state alone does not tell. */
export interface ReasonFigures {
  readonly state: EquipmentState;
  readonly reasonCode: string;
  readonly ms: number;
  readonly n: number;
  readonly microMs: number;
  readonly microStops: number;
}

export interface BucketDelta {
  readonly equipmentId: string;
  /** Start of the minute, UTC epoch ms. */
  readonly minute: number;
  readonly figures: BucketFigures;
  /** The part of `figures` that stop intervals with a reason code contributed. */
  readonly reasons: readonly ReasonFigures[];
}

const perState = (): Record<EquipmentState, number> => {
  const out = {} as Record<EquipmentState, number>;
  for (const s of EQUIPMENT_STATES) out[s] = 0;
  return out;
};

export function emptyFigures(): BucketFigures {
  return { ms: perState(), n: perState(), microMs: 0, microStops: 0, good: 0, scrap: 0, total: 0 };
}

/** Figures summed (buckets into a range, units into a line). */
export function addFigures(a: BucketFigures, b: BucketFigures): BucketFigures {
  const ms = perState();
  const n = perState();
  for (const s of EQUIPMENT_STATES) {
    ms[s] = a.ms[s] + b.ms[s];
    n[s] = a.n[s] + b.n[s];
  }
  return {
    ms,
    n,
    microMs: a.microMs + b.microMs,
    microStops: a.microStops + b.microStops,
    good: a.good + b.good,
    scrap: a.scrap + b.scrap,
    total: a.total + b.total,
  };
}

export const minuteOf = (ms: number): number => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/** [from, to) cut at minute boundaries: [minute start, ms in it] pairs. */
export function splitByMinute(from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  for (let t = from; t < to;) {
    const end = Math.min(to, minuteOf(t) + MINUTE_MS);
    out.push([minuteOf(t), end - t]);
    t = end;
  }
  return out;
}

interface MutableBucket {
  ms: Record<EquipmentState, number>;
  n: Record<EquipmentState, number>;
  microMs: number;
  microStops: number;
  good: number;
  scrap: number;
  total: number;
  reasons: Map<
    string,
    ReasonFigures & { ms: number; n: number; microMs: number; microStops: number }
  >;
}

/** One interval of a state: what a state change ends. */
export interface StateInterval {
  readonly equipmentId: string;
  readonly state: EquipmentState;
  readonly reasonCode: string | null;
  readonly from: number;
  readonly to: number;
  readonly microStop: boolean;
}

/** The interval a state change ends, or null when it has no length (the first change of a unit). */
export function intervalEndedBy(e: DomainEvent): StateInterval | null {
  if (e.type !== 'state.changed') return null;
  const d = e.data;
  if (!(d.previousDurationMs > 0)) return null;
  return {
    equipmentId: e.equipmentId,
    state: d.previousState,
    reasonCode: d.previousReasonCode,
    from: e.ts - d.previousDurationMs,
    to: e.ts,
    microStop: d.previousMicroStop,
  };
}

/**
 * What a set of events adds to the buckets, one delta per unit and minute touched (in no
 * particular order). Applying the deltas of a batch after those of the batches before it gives
 * the same buckets as applying them all at once: every figure is a sum.
 */
export function bucketDeltas(events: readonly DomainEvent[]): BucketDelta[] {
  const buckets = new Map<string, { equipmentId: string; minute: number; b: MutableBucket }>();
  const at = (equipmentId: string, minute: number): MutableBucket => {
    const key = `${equipmentId}\u0000${minute}`;
    let entry = buckets.get(key);
    if (entry === undefined) {
      const f = emptyFigures();
      entry = {
        equipmentId,
        minute,
        b: { ...f, ms: { ...f.ms }, n: { ...f.n }, reasons: new Map() },
      };
      buckets.set(key, entry);
    }
    return entry.b;
  };
  for (const e of events) {
    if (e.type === 'counted') {
      at(e.equipmentId, minuteOf(e.ts))[e.data.counter] += e.data.delta;
      continue;
    }
    const interval = intervalEndedBy(e);
    if (interval === null) continue;
    const micro = interval.microStop && interval.state === 'down';
    let first = true;
    for (const [minute, ms] of splitByMinute(interval.from, interval.to)) {
      const b = at(interval.equipmentId, minute);
      b.ms[interval.state] += ms;
      if (first) b.n[interval.state] += 1;
      if (micro) {
        b.microMs += ms;
        if (first) b.microStops += 1;
      }
      if (interval.reasonCode !== null && interval.state !== 'running') {
        const key = `${interval.state}\u0000${interval.reasonCode}`;
        const r = b.reasons.get(key) ?? {
          state: interval.state,
          reasonCode: interval.reasonCode,
          ms: 0,
          n: 0,
          microMs: 0,
          microStops: 0,
        };
        r.ms += ms;
        if (first) r.n += 1;
        if (micro) {
          r.microMs += ms;
          if (first) r.microStops += 1;
        }
        b.reasons.set(key, r);
      }
      first = false;
    }
  }
  return [...buckets.values()].map(({ equipmentId, minute, b }) => ({
    equipmentId,
    minute,
    figures: {
      ms: b.ms,
      n: b.n,
      microMs: b.microMs,
      microStops: b.microStops,
      good: b.good,
      scrap: b.scrap,
      total: b.total,
    },
    reasons: [...b.reasons.values()],
  }));
}
