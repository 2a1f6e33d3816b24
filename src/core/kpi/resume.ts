/**
 * Where planned time resumes after time the calendar does not plan (a break, the time between
 * shifts), and the stops going on there that began in that gap: such a stop counts once, where
 * planned time resumes (docs/kpi.md, Storage). Used by service.ts.
 */
import { emptyFigures, MINUTE_MS, STOP_STATES } from '../../model/index.ts';
import { mergeFigures, noFigures, type Figures } from './figures.ts';
import { plannedTime, type Interval, type SiteCalendar } from './groups.ts';

/** How far back the gap before a resume point is looked for (a plant shut for longer: cut). */
const GAP_LOOKBACK_MS = 14 * 86_400_000;

export interface Resume {
  readonly minute: Interval;
  readonly gap: Interval;
}

/**
 * resumePoints for many parts of one calendar: its planned time over [lo, hi) computed once,
 * each start looked up in it (a report over a month has hundreds); a start with no planned time
 * before it within the window is looked for further back by resumePoints.
 */
export function resumeFinder(
  cal: SiteCalendar,
  lo: number,
  hi: number,
): (planned: readonly Interval[], now: number) => Resume[] {
  const known = plannedTime(cal.calendar, lo, hi).planned.sort((x, y) => x[0] - y[0]);
  return (planned, now) => {
    const out: Resume[] = [];
    for (const [a] of planned) {
      if (a >= now) continue;
      // The last planned interval that begins before a.
      let l = 0;
      let h = known.length;
      while (l < h) {
        const mid = (l + h) >>> 1;
        if (known[mid]![0] < a) l = mid + 1;
        else h = mid;
      }
      const last = known[l - 1];
      if (last === undefined || a - MINUTE_MS < lo) {
        out.push(...resumePoints(cal, [[a, a]], now));
        continue;
      }
      if (last[1] > a - MINUTE_MS) continue; // the minute before a is planned
      out.push({ minute: [a, Math.min(a + MINUTE_MS, now)], gap: [Math.min(last[1], a), a] });
    }
    return out;
  };
}

/**
 * The starts of planned intervals that follow time that is not planned by the calendar, each
 * with its first minute and the gap before it (from the end of the planned time before).
 */
export function resumePoints(
  cal: SiteCalendar,
  planned: readonly Interval[],
  now: number,
): Resume[] {
  const out: Resume[] = [];
  for (const [a] of planned) {
    if (a >= now || plannedTime(cal.calendar, a - MINUTE_MS, a).planned.length > 0) continue;
    // The last planned time before a: looked for a day back, then further (a weekend).
    let gapStart = a - GAP_LOOKBACK_MS;
    for (const back of [86_400_000, 4 * 86_400_000, GAP_LOOKBACK_MS]) {
      const before = plannedTime(cal.calendar, a - back, a).planned;
      if (before.length > 0) {
        gapStart = before.at(-1)![1];
        break;
      }
    }
    out.push({ minute: [a, Math.min(a + MINUTE_MS, now)], gap: [gapStart, a] });
  }
  return out;
}

/**
 * The stops going on where planned time resumes that began in the gap before: one occurrence
 * each (no time: their time in planned time is in the planned figures). Intervals follow one
 * another, so the state in the resume minute with time but no interval beginning there is the
 * one going on, and it began in the gap exactly when an interval of that state began there.
 */
export function stopsGoingOn(
  units: readonly string[],
  minutes: readonly Map<string, Figures>[],
  gaps: readonly Map<string, Figures>[],
): Map<string, Figures> {
  const out = new Map<string, Figures>();
  minutes.forEach((byUnit, i) => {
    for (const unit of units) {
      const m = byUnit.get(unit);
      const gap = gaps[i]?.get(unit);
      if (m === undefined || gap === undefined) continue;
      const state = STOP_STATES.find((st) => m.figures.ms[st] > 0 && m.figures.n[st] === 0);
      if (state === undefined || gap.figures.n[state] === 0) continue;
      const micro = state === 'down' && m.figures.microMs > 0 && m.figures.microStops === 0;
      const reason = m.reasons.find((r) => r.state === state && r.n === 0 && r.ms > 0);
      const f = emptyFigures();
      const one: Figures = {
        figures: { ...f, n: { ...f.n, [state]: 1 }, microStops: micro ? 1 : 0 },
        reasons:
          reason === undefined
            ? []
            : [{ ...reason, ms: 0, n: 1, microMs: 0, microStops: micro ? 1 : 0 }],
      };
      out.set(unit, mergeFigures(out.get(unit) ?? noFigures(), one));
    }
  });
  return out;
}
