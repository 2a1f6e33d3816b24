/**
 * Site-local calendar days in UTC: when a day begins in a site's IANA time zone. Intl (built into
 * Node, with the IANA database) gives a zone's offset at an instant; the arithmetic around it is
 * small and here, because no maintained library on our list does just this without bringing a
 * whole date library along. Handles DST: a day may be 23 or 25 hours long, and where a zone
 * skips midnight (a DST jump at 00:00) the day begins at the first local time that exists.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local wall-clock time of an instant in a zone, as if it were UTC (epoch ms). */
function wallClock(ms: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(ms))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
    ms - Math.floor(ms / 1000) * 1000,
  );
}

/**
 * Offsets already asked for, per zone and instant: a report over a month asks for the same few
 * thousand instants (shift starts and ends, day starts) many times, and formatToParts takes
 * microseconds. Bounded: cleared when it holds too many.
 */
const offsets = new Map<string, Map<number, number>>();
const OFFSETS_MAX = 100_000;

/** The zone's offset from UTC at an instant, in ms (Europe/Berlin in winter: 3,600,000). */
export function zoneOffset(ms: number, timeZone: string): number {
  let zone = offsets.get(timeZone);
  if (zone === undefined) {
    zone = new Map();
    offsets.set(timeZone, zone);
  }
  let offset = zone.get(ms);
  if (offset === undefined) {
    offset = wallClock(ms, timeZone) - ms;
    if (zone.size >= OFFSETS_MAX) zone.clear();
    zone.set(ms, offset);
  }
  return offset;
}

/** The local calendar day (YYYY-MM-DD) of an instant in a zone. */
export function localDay(ms: number, timeZone: string): string {
  return new Date(ms + zoneOffset(ms, timeZone)).toISOString().slice(0, 10);
}

/**
 * The instant (UTC epoch ms) a local calendar day begins in a zone: its midnight, or the first
 * local time of the day when the zone jumps over midnight.
 */
export function dayStart(day: string, timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (m === null) throw new RangeError(`expected a day as YYYY-MM-DD, got ${JSON.stringify(day)}`);
  const midnight = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // The offset at the instant of local midnight: try the offsets of the hours around it.
  for (const probe of [midnight - 14 * 3_600_000, midnight, midnight + 14 * 3_600_000]) {
    const t = midnight - zoneOffset(probe, timeZone);
    if (t + zoneOffset(t, timeZone) === midnight) {
      // Several instants can show the same wall clock (a DST fall-back at midnight): the first.
      const earlier = t - 3_600_000;
      return earlier + zoneOffset(earlier, timeZone) === midnight ? earlier : t;
    }
  }
  // Midnight does not exist that day (a DST jump at 00:00): the first instant of the day.
  let t = midnight - zoneOffset(midnight, timeZone);
  while (localDay(t - 60_000, timeZone) === day) t -= 60_000;
  while (localDay(t, timeZone) !== day) t += 60_000;
  return t;
}

/** The local day after `day` (calendar arithmetic, not 24 hours). */
export function nextDay(day: string): string {
  const ms = Date.parse(`${day}T00:00:00Z`) + 86_400_000;
  return new Date(ms).toISOString().slice(0, 10);
}
