/**
 * The downtime Pareto (issue #11): stop time within planned operation time, by reason or by
 * category, largest first with each row's share and the cumulative share. Stops and their
 * reasons are the downtime service's (a person's reason, else the PLC code's); a stop without a
 * reason is listed by its state (`unclassified down`).
 */
import { authorize, type Principal } from '../../compliance/roles.ts';
import { isPlannedStop } from '../../model/index.ts';
import type { DowntimeService } from '../downtime-service.ts';
import { plannedTime, type Interval } from './groups.ts';
import type { KpiService } from './service.ts';

export interface ParetoRow {
  readonly key: string;
  readonly name: string;
  readonly category: string;
  readonly planned: boolean;
  readonly ms: number;
  readonly stops: number;
  readonly microStops: number;
  readonly share: number;
  readonly cumulativeShare: number;
}

export interface ParetoReport {
  readonly equipment: string;
  readonly from: number;
  readonly to: number;
  readonly by: 'reason' | 'category';
  readonly calendars: readonly { site: string; name: string; timeZone: string }[];
  readonly totalMs: number;
  readonly stops: number;
  readonly rows: readonly ParetoRow[];
}

const overlap = (planned: readonly Interval[], a: number, b: number): number =>
  planned.reduce((s, [lo, hi]) => s + Math.max(0, Math.min(hi, b) - Math.max(lo, a)), 0);

export async function downtimePareto(
  kpi: KpiService,
  downtime: DowntimeService,
  by: Principal,
  query: { equipment: string; from: number; to: number; by: 'reason' | 'category' },
  now: number = Date.now(),
): Promise<ParetoReport> {
  authorize(by, 'equipment.read');
  const units = kpi.unitsOf(query.equipment);
  const end = Math.min(query.to, now);
  const plannedBySite = new Map<string, Interval[]>();
  const rows = new Map<string, Omit<ParetoRow, 'share' | 'cumulativeShare'>>();
  let stops = 0;
  for (const unit of units) {
    const cal = kpi.calendarOf(unit);
    let planned = plannedBySite.get(cal.site);
    if (planned === undefined) {
      planned = plannedTime(cal.calendar, query.from, end).planned;
      plannedBySite.set(cal.site, planned);
    }
    for (const s of await downtime.list(by, unit, { from: query.from, to: end })) {
      const ms = overlap(planned, s.start, s.end ?? now);
      if (ms <= 0) continue;
      stops++;
      const reason = s.reason;
      const key =
        query.by === 'category'
          ? (reason?.category ?? 'unclassified')
          : (reason?.code ?? `unclassified ${s.state}`);
      const row = rows.get(key) ?? {
        key,
        name: query.by === 'category' ? key : (reason?.name ?? `${s.state} without a reason`),
        category: reason?.category ?? 'unclassified',
        planned: isPlannedStop(s.state, reason),
        ms: 0,
        stops: 0,
        microStops: 0,
      };
      rows.set(key, {
        ...row,
        ms: row.ms + ms,
        stops: row.stops + 1,
        microStops: row.microStops + (s.microStop ? 1 : 0),
      });
    }
  }
  const sorted = [...rows.values()].sort((a, b) => b.ms - a.ms || (a.key < b.key ? -1 : 1));
  const totalMs = sorted.reduce((s, r) => s + r.ms, 0);
  let cumulative = 0;
  return {
    equipment: query.equipment,
    from: query.from,
    to: query.to,
    by: query.by,
    calendars: [...plannedBySite.keys()].map((site) => {
      const c = kpi.calendarOf(`${site}/x`);
      return { site, name: c.name, timeZone: c.calendar.timeZone };
    }),
    totalMs,
    stops,
    rows: sorted.map((r) => {
      cumulative += r.ms;
      return {
        ...r,
        share: totalMs > 0 ? r.ms / totalMs : 0,
        cumulativeShare: totalMs > 0 ? cumulative / totalMs : 0,
      };
    }),
  };
}
