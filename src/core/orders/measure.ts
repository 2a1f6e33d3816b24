/**
 * What an operation made and used, from the journal: production counted on its equipment while
 * it was running there is attributed to it (issue #10). Good pieces are those of its counting
 * unit (a line's output unit); scrap is every unit's of the operation's equipment; consumption
 * is every `consumed` event below it. Held time is not in the periods, so nothing counted while
 * held is attributed.
 *
 * Events are matched by their source time against the periods (hub clock at each action): a
 * device whose clock is off by more than its cycle shifts a piece or two across the boundary.
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

export const NOTHING: Measured = {
  good: new Decimal(0),
  scrap: new Decimal(0),
  consumed: new Map(),
};

export async function measure(
  store: Store,
  equipment: string,
  countingUnit: string,
  periods: readonly RunPeriod[],
  now: number,
): Promise<Measured> {
  if (periods.length === 0) return NOTHING;
  const fromTs = Math.min(...periods.map((p) => p.from));
  const toTs = Math.max(...periods.map((p) => p.to ?? now)) + 1;
  let good = new Decimal(0);
  let scrap = new Decimal(0);
  const consumed = new Map<string, { quantity: Decimal; uom: string }>();
  let afterSeq: number | undefined;
  for (;;) {
    const page = await store.listEvents({
      equipmentId: equipment,
      fromTs,
      toTs,
      afterSeq,
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
    if (page.length < PAGE) break;
    afterSeq = page.at(-1)!.seq;
  }
  return { good, scrap, consumed };
}
