/**
 * The groups a KPI report is made of (issue #11): shifts, site-local days or ISO weeks of a
 * site's calendar, or orders and products from the orders' run periods. Each group says, per set
 * of units, which intervals are planned operation time (shift time minus breaks) and which are
 * not (breaks, time outside every shift), clipped to the report's range and to now.
 */
import {
  dayStart,
  localDay,
  nextDay,
  shiftsBetween,
  splitByShifts,
  type OperationProgress,
  type OrderContent,
  type ShiftCalendar,
  type ShiftInstance,
} from '../../model/index.ts';

export type Interval = readonly [number, number];

export interface SiteCalendar {
  /** The site's id (`acme/plant1`). */
  readonly site: string;
  /** The calendar's name as reports state it. */
  readonly name: string;
  readonly calendar: ShiftCalendar;
}

/** The calendar of every site of a configuration, by site id (`acme/plant1`). */
export function siteCalendars(config: {
  readonly enterprise: { readonly id: string };
  readonly sites: readonly {
    readonly id: string;
    readonly timeZone: string;
    readonly calendar?:
      (Omit<ShiftCalendar, 'timeZone'> & { readonly name?: string | undefined }) | undefined;
  }[];
}): Map<string, SiteCalendar> {
  return new Map(
    config.sites.map((s) => {
      const site = `${config.enterprise.id}/${s.id}`;
      if (s.calendar === undefined) return [site, defaultCalendar(site, s.timeZone)];
      const { name, ...calendar } = s.calendar;
      return [
        site,
        { site, name: name ?? `${s.id} shifts`, calendar: { ...calendar, timeZone: s.timeZone } },
      ];
    }),
  );
}

/** A site without a calendar: planned all day, in one 24-hour shift named Day. */
export function defaultCalendar(site: string, timeZone: string): SiteCalendar {
  return {
    site,
    name: '24 h (no calendar configured)',
    calendar: { timeZone, shifts: [{ name: 'Day', start: '00:00', end: '00:00' }] },
  };
}

export interface GroupPart {
  readonly unitIds: readonly string[];
  readonly planned: readonly Interval[];
  readonly outside: readonly Interval[];
  /** The ideal cycle time of the product made, when it has its own (an order's material). */
  readonly productIdealMs: number | null;
}

export interface Group {
  readonly key: string;
  readonly label: string;
  readonly from: number;
  readonly to: number;
  readonly site: string;
  readonly shift: {
    readonly name: string;
    readonly day: string;
    readonly crew: string | null;
  } | null;
  readonly order: string | null;
  readonly product: string | null;
  readonly parts: readonly GroupPart[];
}

export type GroupBy = 'shift' | 'day' | 'week' | 'order' | 'product';

const clip = (i: Interval, lo: number, hi: number): Interval | null => {
  const a = Math.max(i[0], lo);
  const b = Math.min(i[1], hi);
  return b > a ? [a, b] : null;
};

/** [from, to) minus the intervals (sorted, disjoint). */
function minus(span: Interval, holes: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let at = span[0];
  for (const h of [...holes].sort((x, y) => x[0] - y[0])) {
    if (h[1] <= at || h[0] >= span[1]) continue;
    if (h[0] > at) out.push([at, h[0]]);
    at = Math.max(at, h[1]);
  }
  if (at < span[1]) out.push([at, span[1]]);
  return out;
}

/** A shift's planned time within [lo, hi): its span minus its breaks, and the breaks. */
function shiftTime(
  s: ShiftInstance,
  lo: number,
  hi: number,
): { planned: Interval[]; outside: Interval[] } {
  const span = clip([s.startMs, s.endMs], lo, hi);
  if (span === null) return { planned: [], outside: [] };
  const breaks = s.breaks
    .map((b) => clip([b.startMs, b.endMs], span[0], span[1]))
    .filter((b): b is Interval => b !== null);
  return { planned: minus(span, breaks), outside: breaks };
}

/** Planned and unplanned time of a calendar within [lo, hi). */
export function plannedTime(
  cal: ShiftCalendar,
  lo: number,
  hi: number,
): { planned: Interval[]; outside: Interval[] } {
  const planned: Interval[] = [];
  const outside: Interval[] = [];
  for (const piece of splitByShifts(cal, lo, hi)) {
    if (piece.shift === null) outside.push([piece.startMs, piece.endMs]);
    else {
      const t = shiftTime(piece.shift, piece.startMs, piece.endMs);
      planned.push(...t.planned);
      outside.push(...t.outside);
    }
  }
  return { planned, outside };
}

/** Monday of the ISO week of a day, and the week's name (`2026-W13`). */
function isoWeek(day: string): { monday: string; name: string } {
  const d = new Date(`${day}T00:00:00Z`);
  const weekday = (d.getUTCDay() + 6) % 7; // Monday 0
  const monday = new Date(d.getTime() - weekday * 86_400_000);
  const thursday = new Date(monday.getTime() + 3 * 86_400_000);
  const year = thursday.getUTCFullYear();
  const jan1 = Date.UTC(year, 0, 1);
  const week = Math.floor((thursday.getTime() - jan1) / (7 * 86_400_000)) + 1;
  return {
    monday: monday.toISOString().slice(0, 10),
    name: `${year}-W${String(week).padStart(2, '0')}`,
  };
}

/** Shift, day or week groups of one site's units over [from, end) (end = min(to, now)). */
export function timeGroups(
  cal: SiteCalendar,
  unitIds: readonly string[],
  groupBy: 'shift' | 'day' | 'week',
  from: number,
  end: number,
): Group[] {
  const zone = cal.calendar.timeZone;
  const base = { site: cal.site, order: null, product: null };
  if (end <= from) return [];
  if (groupBy === 'shift') {
    return shiftsBetween(cal.calendar, from, end).flatMap((s): Group[] => {
      const t = shiftTime(s, from, end);
      if (t.planned.length === 0 && t.outside.length === 0) return [];
      return [
        {
          ...base,
          key: `${s.day}/${s.name}`,
          label: `${s.name} ${s.day}${s.crew === null ? '' : ` (crew ${s.crew})`}`,
          from: Math.max(s.startMs, from),
          to: Math.min(s.endMs, end),
          shift: { name: s.name, day: s.day, crew: s.crew },
          parts: [{ unitIds, ...t, productIdealMs: null }],
        },
      ];
    });
  }
  const out: Group[] = [];
  let day = groupBy === 'week' ? isoWeek(localDay(from, zone)).monday : localDay(from, zone);
  for (;;) {
    const start = dayStart(day, zone);
    if (start >= end) break;
    let next = nextDay(day);
    if (groupBy === 'week') for (let i = 1; i < 7; i++) next = nextDay(next);
    const span = clip([start, dayStart(next, zone)], from, end);
    if (span !== null) {
      const t = plannedTime(cal.calendar, span[0], span[1]);
      out.push({
        ...base,
        key: groupBy === 'week' ? isoWeek(day).name : day,
        label: groupBy === 'week' ? `week ${isoWeek(day).name}` : day,
        from: span[0],
        to: span[1],
        shift: null,
        parts: [{ unitIds, ...t, productIdealMs: null }],
      });
    }
    day = next;
  }
  return out;
}

export interface OrderRun {
  readonly id: string;
  readonly content: OrderContent;
  readonly operations: readonly OperationProgress[];
}

/** Whether `unit` is `equipment` or below it. */
export const within = (unit: string, equipment: string): boolean =>
  unit === equipment || unit.startsWith(`${equipment}/`);

/**
 * The periods each order ran on the units of the report within [from, end), as order groups or,
 * merged by material, product groups. An order's units are those below its operations'
 * equipment; its planned time is the calendar's planned time within its run periods.
 */
export function orderGroups(
  orders: readonly OrderRun[],
  calendarOf: (unit: string) => SiteCalendar,
  unitIds: readonly string[],
  groupBy: 'order' | 'product',
  from: number,
  end: number,
  idealOfMaterial: (material: string) => number | null,
): Group[] {
  const byKey = new Map<string, Group & { parts: GroupPart[] }>();
  for (const o of orders) {
    const parts: GroupPart[] = [];
    let first = Infinity;
    let last = -Infinity;
    o.operations.forEach((op, i) => {
      const equipment = o.content.operations[i]?.equipment;
      if (equipment === undefined) return;
      const units = unitIds.filter((u) => within(u, equipment));
      if (units.length === 0) return;
      // Units of one site share a calendar; a route across sites is cut per site.
      const bySite = new Map<string, string[]>();
      for (const u of units) {
        const site = calendarOf(u).site;
        bySite.set(site, [...(bySite.get(site) ?? []), u]);
      }
      for (const p of op.periods) {
        const span = clip([p.from, p.to ?? end], from, end);
        if (span === null) continue;
        first = Math.min(first, span[0]);
        last = Math.max(last, span[1]);
        for (const siteUnits of bySite.values()) {
          const t = plannedTime(calendarOf(siteUnits[0]!).calendar, span[0], span[1]);
          parts.push({
            unitIds: siteUnits,
            ...t,
            productIdealMs: idealOfMaterial(o.content.material),
          });
        }
      }
    });
    if (parts.length === 0) continue;
    const key = groupBy === 'order' ? o.id : o.content.material;
    const g = byKey.get(key);
    if (g === undefined) {
      byKey.set(key, {
        key,
        label: groupBy === 'order' ? `order ${o.id} (${o.content.material})` : o.content.material,
        from: first,
        to: last,
        site: calendarOf(parts[0]!.unitIds[0]!).site,
        shift: null,
        order: groupBy === 'order' ? o.id : null,
        product: o.content.material,
        parts,
      });
    } else {
      byKey.set(key, {
        ...g,
        from: Math.min(g.from, first),
        to: Math.max(g.to, last),
        parts: [...g.parts, ...parts],
      });
    }
  }
  return [...byKey.values()].sort((a, b) => a.from - b.from || (a.key < b.key ? -1 : 1));
}
