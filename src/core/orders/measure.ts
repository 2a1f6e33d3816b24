/**
 * What an operation made and used, from the journal: production counted on its equipment while
 * it was running there is attributed to it (issue #10). Good pieces are those of its counting
 * unit (a line's output unit); scrap is every unit's of the operation's equipment; consumption
 * is every `consumed` event below it. Held time is not in the periods, so nothing counted while
 * held is attributed.
 *
 * Events are matched by their source time against the periods (hub clock at each action): a
 * device whose clock is off by more than its cycle shifts a piece or two across the boundary.
 *
 * The journal is append-only and its seq only grows (visible in order, also on a shared
 * PostgreSQL store), so a measurement is kept with the last seq it read and the next one reads
 * only the events after it — an order's live view does not re-read a whole shift of events at
 * every poll. A change of the periods (hold, resume, complete) measures afresh.
 */
import { Decimal } from 'decimal.js';
import { inPeriods, type RunPeriod } from '../../model/index.ts';
import type { Store } from '../../store/types.ts';

export interface Measured {
  readonly good: Decimal;
  readonly scrap: Decimal;
  /** Material → quantity in its booked unit. */
  readonly consumed: ReadonlyMap<string, { readonly quantity: Decimal; readonly uom: string }>;
}

const PAGE = 2000;
/** Operations whose measurement is kept (the running ones and those read lately). */
const MAX_KEPT = 10_000;

interface Kept {
  readonly what: string;
  readonly afterSeq: number;
  readonly measured: Measured;
}

export const NOTHING: Measured = {
  good: new Decimal(0),
  scrap: new Decimal(0),
  consumed: new Map(),
};

export class Measurer {
  private readonly kept = new Map<string, Kept>();

  constructor(private readonly store: Store) {}

  /**
   * The figures of one operation (`key` names it, e.g. `<order>/<operation>`) on `equipment`,
   * good pieces counted on `countingUnit`, over `periods`.
   */
  async measure(
    key: string,
    equipment: string,
    countingUnit: string,
    periods: readonly RunPeriod[],
  ): Promise<Measured> {
    if (periods.length === 0) return NOTHING;
    const what = `${equipment}\u0000${countingUnit}\u0000${JSON.stringify(periods)}`;
    const before = this.kept.get(key);
    const from = before?.what === what ? before : { afterSeq: 0, measured: NOTHING };
    const fromTs = Math.min(...periods.map((p) => p.from));
    // An open period takes any later source time, so no upper bound then (a device clock
    // ahead of the hub's is not lost between two reads).
    const open = periods.some((p) => p.to === null);
    const toTs = open ? undefined : Math.max(...periods.map((p) => p.to ?? 0)) + 1;
    let good = from.measured.good;
    let scrap = from.measured.scrap;
    const consumed = new Map(from.measured.consumed);
    let afterSeq = from.afterSeq;
    for (;;) {
      const page = await this.store.listEvents({
        equipmentId: equipment,
        fromTs,
        toTs,
        afterSeq: afterSeq === 0 ? undefined : afterSeq,
        limit: PAGE,
      });
      for (const e of page) {
        if (!inPeriods(periods, e.ts)) continue;
        if (e.type === 'counted') {
          if (e.data.counter === 'good' && e.equipmentId === countingUnit)
            good = good.plus(e.data.delta);
          else if (e.data.counter === 'scrap') scrap = scrap.plus(e.data.delta);
        } else if (e.type === 'consumed') {
          const c = consumed.get(e.data.material);
          consumed.set(e.data.material, {
            quantity: (c?.quantity ?? new Decimal(0)).plus(e.data.quantity),
            uom: e.data.uom,
          });
        }
      }
      if (page.length > 0) afterSeq = page.at(-1)!.seq;
      if (page.length < PAGE) break;
    }
    const measured = { good, scrap, consumed };
    // Re-inserted, so the map's order is the order of use and the oldest is dropped first.
    this.kept.delete(key);
    this.kept.set(key, { what, afterSeq, measured });
    if (this.kept.size > MAX_KEPT) this.kept.delete(this.kept.keys().next().value!);
    return measured;
  }
}
