/**
 * A unit's figures over arbitrary intervals (issue #11): whole minutes from the store's buckets,
 * the ragged ends (under a minute) exactly from the journal, and the state the unit is in now
 * (in no bucket until it ends) from its current status. One bucket query for every unit and
 * interval of a report.
 */
import {
  addFigures,
  emptyFigures,
  intervalEndedBy,
  MINUTE_MS,
  type BucketFigures,
  type DomainEvent,
  type EquipmentState,
  type ReasonFigures,
  type UnitStatus,
} from '../../model/index.ts';
import type { EventQuery, KpiSumQuery, Store } from '../../store/types.ts';
import type { Interval } from './groups.ts';

export interface Figures {
  figures: BucketFigures;
  /** Stop time with a reason code, per state and code. */
  reasons: ReasonFigures[];
}

export const noFigures = (): Figures => ({ figures: emptyFigures(), reasons: [] });

export function addReasons(into: ReasonFigures[], more: readonly ReasonFigures[]): ReasonFigures[] {
  const out = [...into];
  for (const r of more) {
    const i = out.findIndex((x) => x.state === r.state && x.reasonCode === r.reasonCode);
    if (i < 0) out.push(r);
    else {
      const x = out[i]!;
      out[i] = {
        ...x,
        ms: x.ms + r.ms,
        n: x.n + r.n,
        microMs: x.microMs + r.microMs,
        microStops: x.microStops + r.microStops,
      };
    }
  }
  return out;
}

/**
 * `a` less `b`, where `b` is a part of `a` (a shift's figures less its breaks'): every figure is
 * a sum over disjoint time, so the difference is exact; reasons left at zero are dropped.
 */
export function subtractFigures(a: Figures, b: Figures): Figures {
  const ms = { ...a.figures.ms };
  const n = { ...a.figures.n };
  for (const st of Object.keys(ms) as EquipmentState[]) {
    ms[st] -= b.figures.ms[st];
    n[st] -= b.figures.n[st];
  }
  const figures: BucketFigures = {
    ms,
    n,
    microMs: a.figures.microMs - b.figures.microMs,
    microStops: a.figures.microStops - b.figures.microStops,
    good: a.figures.good - b.figures.good,
    scrap: a.figures.scrap - b.figures.scrap,
    total: a.figures.total - b.figures.total,
  };
  const reasons = addReasons(
    a.reasons,
    b.reasons.map((r) => ({
      ...r,
      ms: -r.ms,
      n: -r.n,
      microMs: -r.microMs,
      microStops: -r.microStops,
    })),
  ).filter((r) => r.ms !== 0 || r.n !== 0 || r.microMs !== 0 || r.microStops !== 0);
  return { figures, reasons };
}

export function mergeFigures(a: Figures, b: Figures): Figures {
  return { figures: addFigures(a.figures, b.figures), reasons: addReasons(a.reasons, b.reasons) };
}

/** Figures of one interval of one state. */
function ofInterval(
  state: EquipmentState,
  reasonCode: string | null,
  ms: number,
  began: boolean,
  micro: boolean,
): Figures {
  const f = emptyFigures();
  const isMicro = micro && state === 'down';
  const figures: BucketFigures = {
    ...f,
    ms: { ...f.ms, [state]: ms },
    n: { ...f.n, [state]: began ? 1 : 0 },
    microMs: isMicro ? ms : 0,
    microStops: isMicro && began ? 1 : 0,
  };
  const reasons =
    reasonCode !== null && state !== 'running'
      ? [
          {
            state,
            reasonCode,
            ms,
            n: began ? 1 : 0,
            microMs: isMicro ? ms : 0,
            microStops: isMicro && began ? 1 : 0,
          },
        ]
      : [];
  return { figures, reasons };
}

/**
 * Figures of [a, b) from events: the intervals they end, clipped, and the counts within. `events`
 * must hold the unit's events with ts in [a, b) and the first state change at or after b (which
 * ends the interval covering b).
 */
export function figuresFromEvents(events: readonly DomainEvent[], a: number, b: number): Figures {
  let out = noFigures();
  for (const e of events) {
    if (e.type === 'counted') {
      if (e.ts >= a && e.ts < b) {
        const f = emptyFigures();
        out = mergeFigures(out, { figures: { ...f, [e.data.counter]: e.data.delta }, reasons: [] });
      }
      continue;
    }
    const i = intervalEndedBy(e);
    if (i === null) continue;
    const ms = Math.min(i.to, b) - Math.max(i.from, a);
    if (ms <= 0) continue;
    out = mergeFigures(
      out,
      ofInterval(i.state, i.reasonCode, ms, i.from >= a && i.from < b, i.microStop),
    );
  }
  return out;
}

/** The figures the current state adds to [a, b) up to now (it is in no bucket yet); null: none. */
export function figuresOfCurrent(
  status: UnitStatus,
  a: number,
  b: number,
  now: number,
): Figures | null {
  if (status.sinceMs <= 0) return null;
  const ms = Math.min(b, now) - Math.max(a, status.sinceMs);
  if (ms <= 0) return null;
  return ofInterval(
    status.state,
    status.reasonCode,
    ms,
    status.sinceMs >= a && status.sinceMs < b,
    false,
  );
}

const ceilMinute = (t: number): number => Math.ceil(t / MINUTE_MS) * MINUTE_MS;
const floorMinute = (t: number): number => Math.floor(t / MINUTE_MS) * MINUTE_MS;

/**
 * A request: figures of these units over these intervals, each apart, or `summed` into one
 * (a shift less its breaks); the answer is keyed the same.
 */
export interface FigureRequest {
  readonly unitIds: readonly string[];
  readonly intervals: readonly Interval[];
  readonly summed?: boolean;
}

/**
 * Figures per request, per unit, per interval (index order; one for a summed request).
 * Intervals of all requests share one bucket query, each slot a key of it (slots of the same
 * whole minutes share one); ragged ends read the journal, a few events per unit and end.
 * `reasons` are the (state, code) pairs whose reason figures are wanted (KpiSumQuery).
 */
export async function figuresOver(
  store: Store,
  requests: readonly FigureRequest[],
  statuses: ReadonlyMap<string, UnitStatus>,
  now: number,
  reasons?: KpiSumQuery['reasons'],
): Promise<Map<string, Figures>[][]> {
  const ranges: { from: number; to: number; key: number }[] = [];
  const keyOf = new Map<string, number>();
  const units = new Set<string>();
  const edges: { unit: string; a: number; b: number; req: number; i: number }[] = [];
  // Per request, per slot: the key of its whole minutes, or null when it has none.
  const keys: (number | null)[][] = requests.map((req, r) => {
    for (const u of req.unitIds) units.add(u);
    const slots = req.summed === true ? [req.intervals] : req.intervals.map((iv) => [iv]);
    return slots.map((intervals, slot) => {
      const whole: Interval[] = [];
      for (const [a, b] of intervals) {
        const lo = ceilMinute(a);
        const hi = floorMinute(b);
        if (hi <= lo) {
          for (const unit of req.unitIds) edges.push({ unit, a, b, req: r, i: slot });
          continue;
        }
        if (a < lo) for (const unit of req.unitIds) edges.push({ unit, a, b: lo, req: r, i: slot });
        if (hi < b) for (const unit of req.unitIds) edges.push({ unit, a: hi, b, req: r, i: slot });
        whole.push([lo, hi]);
      }
      if (whole.length === 0) return null;
      const id = whole.map(([lo, hi]) => `${lo}-${hi}`).join(',');
      let key = keyOf.get(id);
      if (key === undefined) {
        key = keyOf.size;
        keyOf.set(id, key);
        for (const [lo, hi] of whole) ranges.push({ from: lo, to: hi, key });
      }
      return key;
    });
  });
  const sums =
    ranges.length === 0
      ? []
      : await store.sumKpi({
          equipmentIds: [...units],
          ranges,
          ...(reasons === undefined ? {} : { reasons }),
        });
  const byKey = new Map<string, Figures>();
  for (const s of sums)
    byKey.set(`${s.equipmentId}#${s.range}`, { figures: s.figures, reasons: [...s.reasons] });
  const out: Map<string, Figures>[][] = requests.map((req, r) =>
    keys[r]!.map((key, slot) => {
      const intervals = req.summed === true ? req.intervals : [req.intervals[slot]!];
      const m = new Map<string, Figures>();
      for (const unit of req.unitIds) {
        let f = key === null ? noFigures() : (byKey.get(`${unit}#${key}`) ?? noFigures());
        const status = statuses.get(unit);
        if (status !== undefined)
          for (const [a, b] of intervals) {
            const current = figuresOfCurrent(status, a, b, now);
            if (current !== null) f = mergeFigures(f, current);
          }
        m.set(unit, f);
      }
      return m;
    }),
  );
  // Ragged ends: the journal of each end's units at once.
  const ends = new Map<string, typeof edges>();
  for (const e of edges) {
    const id = `${e.a}-${e.b}`;
    const list = ends.get(id);
    if (list === undefined) ends.set(id, [e]);
    else list.push(e);
  }
  const work = [...ends.values()];
  const worker = async (): Promise<void> => {
    for (let list = work.pop(); list !== undefined; list = work.pop()) {
      const { a, b } = list[0]!;
      const byUnit = await journalOf(store, [...new Set(list.map((e) => e.unit))], a, b, now);
      for (const e of list) {
        const f = figuresFromEvents(byUnit.get(e.unit) ?? [], a, b);
        const m = out[e.req]![e.i]!;
        m.set(e.unit, mergeFigures(m.get(e.unit) ?? noFigures(), f));
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return out;
}

/** The equipment every unit is at or below (`acme/plant1/line1` of its units). */
function ancestorOf(units: readonly string[]): string {
  let parts = units[0]!.split('/');
  for (const u of units.slice(1)) {
    const p = u.split('/');
    let n = 0;
    while (n < parts.length && n < p.length && parts[n] === p[n]) n += 1;
    parts = parts.slice(0, n);
  }
  return parts.join('/');
}

/**
 * Each unit's events with ts in [a, b) and its first state change at or after b (which ends
 * the interval covering b): figuresFromEvents' input. One query for the units' common ancestor
 * (b − a is under a minute: a few events per unit); the state changes after b likewise when b
 * is now (only a clock ahead writes there), else one query per unit.
 */
async function journalOf(
  store: Store,
  units: readonly string[],
  a: number,
  b: number,
  now: number,
): Promise<Map<string, DomainEvent[]>> {
  const wanted = new Set(units);
  const out = new Map<string, DomainEvent[]>(units.map((u) => [u, []]));
  const root = ancestorOf(units);
  const page = async (
    q: Omit<EventQuery, 'limit' | 'afterSeq'>,
    take: (e: DomainEvent) => void,
  ) => {
    for (let afterSeq = 0; ;) {
      const list = await store.listEvents({ ...q, afterSeq, limit: 1000 });
      for (const e of list) if (wanted.has(e.equipmentId)) take(e);
      if (list.length < 1000) break;
      afterSeq = list.at(-1)!.seq;
    }
  };
  await page({ equipmentId: root, fromTs: a, toTs: b }, (e) => out.get(e.equipmentId)!.push(e));
  if (b >= now) {
    const next = new Map<string, DomainEvent>();
    await page({ equipmentId: root, fromTs: b, type: 'state.changed' }, (e) => {
      if (!next.has(e.equipmentId)) next.set(e.equipmentId, e);
    });
    for (const [unit, e] of next) out.get(unit)!.push(e);
  } else
    for (const unit of units) {
      const [next] = await store.listEvents({
        equipmentId: unit,
        fromTs: b,
        type: 'state.changed',
        limit: 1,
      });
      if (next !== undefined && next.equipmentId === unit) out.get(unit)!.push(next);
    }
  return out;
}
