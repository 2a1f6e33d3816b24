/**
 * What each site made and used, side by side (issue #5, multi-site): per line its output unit's
 * good, scrap and total pieces, per material the quantity consumed in the material's unit, over
 * a site-local calendar day (each site in its own time zone) or an absolute range. Read from the
 * journal: the counted and consumed events in the range.
 */
import { Decimal } from 'decimal.js';
import { authorize, type Principal } from '../compliance/roles.ts';
import { dayStart, localDay, nextDay, type COUNTER_KINDS, type Hierarchy } from '../model/index.ts';
import type { Store } from '../store/types.ts';

type CounterTotals = Record<(typeof COUNTER_KINDS)[number], number>;

export interface LineOutput {
  readonly id: string;
  readonly name: string;
  /** The unit whose counts are the line's output (config `outputUnit`, else the last unit). */
  readonly outputUnitId: string;
  readonly counts: CounterTotals;
}

export interface SiteProduction {
  readonly site: string;
  readonly name: string;
  readonly timeZone: string;
  /** The site-local day summarised, or null for an absolute range. */
  readonly day: string | null;
  readonly from: number;
  readonly to: number;
  readonly lines: readonly LineOutput[];
  /** Every unit's counts (a line's output is one of them). */
  readonly units: Readonly<Record<string, CounterTotals>>;
  /** Quantity consumed per material, exact decimal text in `uom`. */
  readonly consumption: readonly { material: string; quantity: string; uom: string }[];
}

export interface SiteInfo {
  readonly id: string;
  readonly name: string;
  readonly timeZone: string;
  readonly lines: readonly { id: string; name: string; outputUnitId: string }[];
}

export type SummaryRange =
  | { readonly kind: 'day'; readonly day: string | undefined }
  | { readonly kind: 'range'; readonly from: number; readonly to: number };

const PAGE = 10_000;

/** The sites of a hierarchy with their lines and output units. */
export function sitesOf(
  hierarchy: Hierarchy,
  outputUnitOf: (lineId: string) => string | null,
): SiteInfo[] {
  const all = hierarchy.all();
  return all
    .filter((e) => e.level === 'site')
    .map((site) => ({
      id: site.id,
      name: site.name,
      timeZone: site.timeZone ?? 'UTC',
      lines: all
        .filter((e) => e.level === 'workCenter' && e.id.startsWith(`${site.id}/`))
        .flatMap((line) => {
          const out = outputUnitOf(line.id);
          return out === null ? [] : [{ id: line.id, name: line.name, outputUnitId: out }];
        }),
    }));
}

export async function productionSummary(
  store: Store,
  by: Principal,
  sites: readonly SiteInfo[],
  range: SummaryRange,
  now: number = Date.now(),
): Promise<SiteProduction[]> {
  authorize(by, 'equipment.read');
  const out: SiteProduction[] = [];
  for (const site of sites) {
    const day = range.kind === 'day' ? (range.day ?? localDay(now, site.timeZone)) : null;
    const from = day === null ? (range as { from: number }).from : dayStart(day, site.timeZone);
    const to = day === null ? (range as { to: number }).to : dayStart(nextDay(day), site.timeZone);
    const units: Record<string, CounterTotals> = {};
    const used = new Map<string, { quantity: Decimal; uom: string }>();
    let afterSeq = 0;
    for (;;) {
      const page = await store.listEvents({
        equipmentId: site.id,
        fromTs: from,
        toTs: to,
        afterSeq,
        limit: PAGE,
      });
      for (const e of page) {
        if (e.type === 'counted') {
          const c = (units[e.equipmentId] ??= { good: 0, scrap: 0, total: 0 });
          c[e.data.counter] += e.data.delta;
        } else if (e.type === 'consumed') {
          const key = `${e.data.material}\u0000${e.data.uom}`;
          const u = used.get(key);
          used.set(key, {
            quantity: (u?.quantity ?? new Decimal(0)).plus(e.data.quantity),
            uom: e.data.uom,
          });
        }
      }
      if (page.length < PAGE) break;
      afterSeq = page.at(-1)!.seq;
    }
    out.push({
      site: site.id.split('/').at(-1) ?? site.id,
      name: site.name,
      timeZone: site.timeZone,
      day,
      from,
      to,
      lines: site.lines.map((l) => ({
        ...l,
        counts: units[l.outputUnitId] ?? { good: 0, scrap: 0, total: 0 },
      })),
      units,
      consumption: [...used.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, v]) => ({
          material: key.split('\u0000')[0] as string,
          quantity: v.quantity.toFixed(),
          uom: v.uom,
        })),
    });
  }
  return out;
}
