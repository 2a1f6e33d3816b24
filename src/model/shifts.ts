/**
 * Shift calendars (issue #11): which shift, and which crew, runs at an instant, in a site's IANA
 * time zone. A calendar names its shifts by local wall-clock times (`22:00`–`06:00`); this module
 * turns them into UTC instances, and cuts an interval at every shift boundary (what OEE buckets
 * need). Pure: no I/O, only `time.ts` for zone offsets.
 *
 * Wall-clock times that a DST change makes odd follow the rule of java.time and of Temporal's
 * `disambiguation: 'compatible'`:
 * - a time that does not exist (spring forward, e.g. 02:30 in Europe/Berlin on 2026-03-29) moves
 *   forward by the length of the gap (→ 03:30 CEST);
 * - a time that occurs twice (fall back, e.g. 02:30 in Europe/Berlin on 2026-10-25) means its
 *   first occurrence (02:30 CEST, 00:30 UTC).
 * So a 22:00–06:00 shift is 7 hours on the spring night in Berlin and 9 hours on the autumn one.
 * Moving forward by the gap can put the end of one shift after the start of the next (a shift
 * ending at 02:30 and the next starting at 03:00 on the spring night): a shift then ends when the
 * next one starts, so instances never overlap. Breaks are clipped to their shift the same way.
 */
import { localDay, nextDay, zoneOffset } from './time.ts';

/** A planned stop inside a shift, by local wall-clock times (it may cross midnight). */
export interface ShiftBreak {
  readonly name: string;
  /** `HH:MM`, local. */
  readonly start: string;
  /** `HH:MM`, local; before `start` means the break crosses midnight. */
  readonly end: string;
}

/** A shift by local wall-clock times. */
export interface ShiftPattern {
  readonly name: string;
  /** `HH:MM`, local. */
  readonly start: string;
  /** `HH:MM`, local; `end` ≤ `start` means the shift spans midnight (equal: a 24-hour shift). */
  readonly end: string;
  /** ISO weekdays (1 = Monday … 7 = Sunday) the shift STARTS on; default every day. */
  readonly days?: readonly number[];
  readonly breaks?: readonly ShiftBreak[];
}

/**
 * Which crew works which shift: `pattern[d][k]` is the crew that works `shifts[k]` on cycle day
 * `d`, where cycle day 0 is `anchor` and the cycle repeats every `cycleDays` local days (also
 * backwards from the anchor). `null` means shift k is not worked that cycle day (no instance).
 * Example, 4 crews on 12-hour shifts, two days on and two off, `shifts: [Day, Night]`:
 * `{ crews: ['A','B','C','D'], cycleDays: 4, pattern: [['A','C'],['A','C'],['B','D'],['B','D']] }`.
 */
export interface Rotation {
  readonly crews: readonly string[];
  readonly cycleDays: number;
  /** `YYYY-MM-DD`, a local day: cycle day 0. */
  readonly anchor: string;
  readonly pattern: readonly (readonly (string | null)[])[];
}

export interface ShiftCalendar {
  /** IANA zone the wall-clock times are in, e.g. `Europe/Berlin`. */
  readonly timeZone: string;
  readonly shifts: readonly ShiftPattern[];
  readonly rotation?: Rotation;
  /** Local days (`YYYY-MM-DD`) on which no shift STARTS (a night shift from the day before runs). */
  readonly holidays?: readonly string[];
}

export interface BreakInstance {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** One worked shift, in UTC epoch ms: [startMs, endMs). */
export interface ShiftInstance {
  readonly name: string;
  /** The crew from the rotation; null without a rotation. */
  readonly crew: string | null;
  /** The local day (`YYYY-MM-DD`) the shift starts on. */
  readonly day: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Clipped to the shift, in time order, not overlapping. */
  readonly breaks: readonly BreakInstance[];
}

/** A piece of an interval that lies in one shift, or outside every shift (`shift: null`). */
export interface ShiftPiece {
  readonly startMs: number;
  readonly endMs: number;
  readonly shift: ShiftInstance | null;
}

const MINUTE_MS = 60_000;
const DAY_MIN = 1440;
const DAY_MS = 86_400_000;

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const YMD = /^\d{4}-\d{2}-\d{2}$/;

/** Minutes after midnight of `HH:MM`, or null. */
function minutes(hhmm: unknown): number | null {
  if (typeof hhmm !== 'string') return null;
  const m = HHMM.exec(hhmm);
  return m === null ? null : Number(m[1]) * 60 + Number(m[2]);
}

function isDay(day: unknown): day is string {
  return (
    typeof day === 'string' &&
    YMD.test(day) &&
    !Number.isNaN(Date.parse(`${day}T00:00:00Z`)) &&
    new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) === day
  );
}

function dayNumber(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / DAY_MS;
}

function addDays(day: string, n: number): string {
  return new Date((dayNumber(day) + n) * DAY_MS).toISOString().slice(0, 10);
}

/** ISO weekday of a calendar day: 1 = Monday … 7 = Sunday. */
function isoWeekday(day: string): number {
  return new Date(`${day}T00:00:00Z`).getUTCDay() || 7;
}

/** Minutes from `from` to `to` going forward round the clock, in 1..1440 (equal → 1440). */
function span(from: number, to: number): number {
  return ((to - from + DAY_MIN - 1) % DAY_MIN) + 1;
}

/**
 * The instant of a local wall-clock time: `minute` minutes after local midnight of `day` (may be
 * ≥ 1440, for the next days). A time in a spring-forward gap moves forward by the gap; a time that
 * occurs twice is its first occurrence. Assumes a zone changes its offset at most once within a
 * day and a half of the time, which holds for real zones.
 */
export function wallTimeToUtc(day: string, minute: number, timeZone: string): number {
  // Memoised: a report over a month asks for the same few hundred wall times many times.
  const key = `${timeZone}|${day}|${minute}`;
  const known = wallTimes.get(key);
  if (known !== undefined) return known;
  const t = wallTimeToUtcOnce(day, minute, timeZone);
  if (wallTimes.size >= WALL_TIMES_MAX) wallTimes.clear();
  wallTimes.set(key, t);
  return t;
}

const wallTimes = new Map<string, number>();
const WALL_TIMES_MAX = 100_000;

function wallTimeToUtcOnce(day: string, minute: number, timeZone: string): number {
  const wall = Date.parse(`${day}T00:00:00Z`) + minute * MINUTE_MS;
  const before = zoneOffset(wall - 1.5 * DAY_MS, timeZone);
  const after = zoneOffset(wall + 1.5 * DAY_MS, timeZone);
  let first: number | null = null;
  for (const offset of [before, after]) {
    const t = wall - offset;
    if (t + zoneOffset(t, timeZone) === wall && (first === null || t < first)) first = t;
  }
  // No instant shows this wall time: a gap. With the offset from before it, the time lands as
  // far after the change as it was after the gap's start: it moves forward by the gap.
  return first ?? wall - before;
}

/** The problems with a calendar, each with a path (`shifts[1].start: expected HH:MM`); [] if none. */
export function shiftCalendarErrors(calendar: ShiftCalendar): string[] {
  const errors: string[] = [];
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: calendar.timeZone });
  } catch {
    errors.push(`timeZone: unknown IANA time zone ${JSON.stringify(calendar.timeZone)}`);
  }
  const shifts = Array.isArray(calendar.shifts) ? calendar.shifts : [];
  if (!Array.isArray(calendar.shifts)) errors.push('shifts: expected a list');
  const names = new Map<string, number>();
  // Each valid shift as weekly wall-clock intervals, minutes from Monday 00:00.
  const weekly: { index: number; weekday: number; from: number; to: number }[] = [];
  shifts.forEach((s, i) => {
    const at = `shifts[${i}]`;
    if (typeof s.name !== 'string' || s.name === '') errors.push(`${at}.name: expected a name`);
    else if (names.has(s.name))
      errors.push(`${at}.name: ${JSON.stringify(s.name)} is also shifts[${names.get(s.name)}]`);
    else names.set(s.name, i);
    const start = minutes(s.start);
    const end = minutes(s.end);
    if (start === null) errors.push(`${at}.start: expected HH:MM, got ${JSON.stringify(s.start)}`);
    if (end === null) errors.push(`${at}.end: expected HH:MM, got ${JSON.stringify(s.end)}`);
    const days = s.days ?? [1, 2, 3, 4, 5, 6, 7];
    if (!Array.isArray(days) || days.length === 0)
      errors.push(`${at}.days: expected a list of ISO weekdays 1-7`);
    else
      days.forEach((d, j) => {
        if (!Number.isInteger(d) || d < 1 || d > 7)
          errors.push(`${at}.days[${j}]: expected an ISO weekday 1-7, got ${JSON.stringify(d)}`);
        else if (days.indexOf(d) !== j) errors.push(`${at}.days[${j}]: ${d} appears twice`);
      });
    if (start === null || end === null) return;
    const length = span(start, end);
    if (Array.isArray(days))
      for (const d of new Set(days))
        if (Number.isInteger(d) && d >= 1 && d <= 7) {
          const from = (d - 1) * DAY_MIN + start;
          weekly.push({ index: i, weekday: d, from, to: from + length });
        }
    const breaks = s.breaks ?? [];
    if (!Array.isArray(breaks)) {
      errors.push(`${at}.breaks: expected a list`);
      return;
    }
    const inShift: { j: number; from: number; to: number }[] = [];
    breaks.forEach((b, j) => {
      const bat = `${at}.breaks[${j}]`;
      if (typeof b.name !== 'string' || b.name === '') errors.push(`${bat}.name: expected a name`);
      const bs = minutes(b.start);
      const be = minutes(b.end);
      if (bs === null) errors.push(`${bat}.start: expected HH:MM, got ${JSON.stringify(b.start)}`);
      if (be === null) errors.push(`${bat}.end: expected HH:MM, got ${JSON.stringify(b.end)}`);
      if (bs === null || be === null) return;
      if (bs === be) {
        errors.push(`${bat}: starts and ends at ${b.start}`);
        return;
      }
      const from = (bs - start + DAY_MIN) % DAY_MIN;
      const to = from + span(bs, be);
      if (to > length) {
        errors.push(`${bat}: ${b.start}–${b.end} is outside its shift ${s.start}–${s.end}`);
        return;
      }
      for (const other of inShift)
        if (from < other.to && other.from < to)
          errors.push(`${bat}: overlaps ${at}.breaks[${other.j}]`);
      inShift.push({ j, from, to });
    });
  });
  // Shifts overlap when their weekly intervals do (round the end of the week).
  const WEEK = 7 * DAY_MIN;
  const reported = new Set<string>();
  for (const a of weekly)
    for (const b of weekly) {
      if (a.index >= b.index) continue;
      const overlaps = [-WEEK, 0, WEEK].some((k) => a.from < b.to + k && b.from + k < a.to);
      const key = `${a.index}/${b.index}`;
      if (overlaps && !reported.has(key)) {
        reported.add(key);
        errors.push(
          `shifts[${b.index}]: overlaps shifts[${a.index}] (the one starting on weekday ${a.weekday})`,
        );
      }
    }
  (calendar.holidays ?? []).forEach((h, i) => {
    if (!isDay(h)) errors.push(`holidays[${i}]: expected YYYY-MM-DD, got ${JSON.stringify(h)}`);
  });
  const r = calendar.rotation;
  if (r !== undefined) {
    const crews = Array.isArray(r.crews) ? r.crews : [];
    if (!Array.isArray(r.crews) || crews.length === 0)
      errors.push('rotation.crews: expected at least one crew');
    crews.forEach((c, i) => {
      if (typeof c !== 'string' || c === '') errors.push(`rotation.crews[${i}]: expected a name`);
      else if (crews.indexOf(c) !== i) errors.push(`rotation.crews[${i}]: ${c} appears twice`);
    });
    if (!Number.isInteger(r.cycleDays) || r.cycleDays < 1)
      errors.push(`rotation.cycleDays: expected a whole number ≥ 1, got ${r.cycleDays}`);
    if (!isDay(r.anchor))
      errors.push(`rotation.anchor: expected YYYY-MM-DD, got ${JSON.stringify(r.anchor)}`);
    if (!Array.isArray(r.pattern)) errors.push('rotation.pattern: expected a list of cycle days');
    else {
      if (r.pattern.length !== r.cycleDays)
        errors.push(
          `rotation.pattern: expected ${r.cycleDays} cycle days (cycleDays), got ${r.pattern.length}`,
        );
      r.pattern.forEach((row, d) => {
        if (!Array.isArray(row) || row.length !== shifts.length) {
          const got = Array.isArray(row) ? row.length : JSON.stringify(row);
          errors.push(
            `rotation.pattern[${d}]: expected one entry per shift (${shifts.length}), got ${got}`,
          );
          return;
        }
        row.forEach((c, k) => {
          if (c !== null && !crews.includes(c))
            errors.push(
              `rotation.pattern[${d}][${k}]: ${JSON.stringify(c)} is not in rotation.crews`,
            );
        });
      });
    }
  }
  return errors;
}

function crewFor(calendar: ShiftCalendar, day: string, k: number): string | null | undefined {
  const r = calendar.rotation;
  if (r === undefined) return null;
  const d = dayNumber(day) - dayNumber(r.anchor);
  const cycleDay = ((d % r.cycleDays) + r.cycleDays) % r.cycleDays;
  const crew = r.pattern[cycleDay]![k]!;
  return crew === null ? undefined : crew;
}

/** Every instance that starts on a local day in [firstDay, lastDay], before clipping. */
function instances(calendar: ShiftCalendar, firstDay: string, lastDay: string) {
  const tz = calendar.timeZone;
  const holidays = new Set(calendar.holidays ?? []);
  const out: (ShiftInstance & { k: number; breaks: BreakInstance[] })[] = [];
  for (let day = firstDay; day <= lastDay; day = nextDay(day)) {
    if (holidays.has(day)) continue;
    const weekday = isoWeekday(day);
    calendar.shifts.forEach((s, k) => {
      if (s.days !== undefined && !s.days.includes(weekday)) return;
      const crew = crewFor(calendar, day, k);
      if (crew === undefined) return;
      const start = minutes(s.start)!;
      const breaks = (s.breaks ?? []).map((b) => {
        const from = start + ((minutes(b.start)! - start + DAY_MIN) % DAY_MIN);
        return {
          name: b.name,
          startMs: wallTimeToUtc(day, from, tz),
          endMs: wallTimeToUtc(day, from + span(minutes(b.start)!, minutes(b.end)!), tz),
        };
      });
      out.push({
        name: s.name,
        crew,
        day,
        k,
        startMs: wallTimeToUtc(day, start, tz),
        endMs: wallTimeToUtc(day, start + span(start, minutes(s.end)!), tz),
        breaks,
      });
    });
  }
  return out;
}

/** Calendars already checked (a report asks for the shifts of one calendar many times). */
const checked = new WeakMap<ShiftCalendar, string[]>();

/**
 * Every shift instance overlapping [fromMs, toMs), in time order. Throws a RangeError naming the
 * problems when `shiftCalendarErrors` finds any.
 */
export function shiftsBetween(
  calendar: ShiftCalendar,
  fromMs: number,
  toMs: number,
): ShiftInstance[] {
  let errors = checked.get(calendar);
  if (errors === undefined) {
    errors = shiftCalendarErrors(calendar);
    checked.set(calendar, errors);
  }
  if (errors.length > 0) throw new RangeError(`invalid shift calendar: ${errors.join('; ')}`);
  if (!(toMs > fromMs)) return [];
  const tz = calendar.timeZone;
  // A shift lasts at most a day (plus a DST change), so one overlapping `fromMs` starts at most
  // two local days before it. Two days after `toMs` are enough to know when the last one ends.
  const all = instances(
    calendar,
    addDays(localDay(fromMs, tz), -2),
    addDays(localDay(toMs, tz), 2),
  ).filter((inst) => inst.endMs > inst.startMs); // 02:30–03:15 on a spring night: nothing left
  all.sort((a, b) => a.startMs - b.startMs || a.k - b.k);
  const out: ShiftInstance[] = [];
  all.forEach((inst, i) => {
    // DST: a shift ends no later than the next one starts (see the module comment).
    const next = all[i + 1];
    const endMs = next === undefined ? inst.endMs : Math.min(inst.endMs, next.startMs);
    if (endMs <= inst.startMs || endMs <= fromMs || inst.startMs >= toMs) return;
    const breaks: BreakInstance[] = [];
    let floor = inst.startMs;
    for (const b of [...inst.breaks].sort((x, y) => x.startMs - y.startMs)) {
      const startMs = Math.max(b.startMs, floor);
      const bEnd = Math.min(b.endMs, endMs);
      if (bEnd > startMs) {
        breaks.push({ name: b.name, startMs, endMs: bEnd });
        floor = bEnd;
      }
    }
    out.push({
      name: inst.name,
      crew: inst.crew,
      day: inst.day,
      startMs: inst.startMs,
      endMs,
      breaks,
    });
  });
  return out;
}

/** The shift instance running at an instant, or null. */
export function shiftAt(calendar: ShiftCalendar, ms: number): ShiftInstance | null {
  return shiftsBetween(calendar, ms, ms + 1)[0] ?? null;
}

/** A shift's planned time in ms: its length minus its breaks (which lie inside it). */
export function plannedTimeMs(instance: ShiftInstance): number {
  let ms = instance.endMs - instance.startMs;
  for (const b of instance.breaks)
    ms -= Math.max(0, Math.min(b.endMs, instance.endMs) - Math.max(b.startMs, instance.startMs));
  return Math.max(0, ms);
}

/**
 * [fromMs, toMs) cut at every shift boundary: contiguous pieces in time order, each labelled with
 * its shift instance or null outside every shift. Empty when toMs ≤ fromMs.
 */
export function splitByShifts(calendar: ShiftCalendar, fromMs: number, toMs: number): ShiftPiece[] {
  const pieces: ShiftPiece[] = [];
  let at = fromMs;
  for (const shift of shiftsBetween(calendar, fromMs, toMs)) {
    if (shift.startMs > at) pieces.push({ startMs: at, endMs: shift.startMs, shift: null });
    const endMs = Math.min(shift.endMs, toMs);
    pieces.push({ startMs: Math.max(shift.startMs, at), endMs, shift });
    at = endMs;
  }
  if (at < toMs) pieces.push({ startMs: at, endMs: toMs, shift: null });
  return pieces;
}
