/** Times, durations and values as the pages show them. */

const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

const formats = new Map();
/**
 * A time (ISO text or epoch ms) as YYYY-MM-DD HH:MM:SS in an IANA time zone (the browser's
 * unless given); '' for none.
 */
export function at(time, zoneId = browserZone()) {
  if (time === null || time === undefined) return '';
  let f = formats.get(zoneId);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone: zoneId,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formats.set(zoneId, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(time)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

const zones = new Map();
/**
 * The zone to show a site's times in: `{ id, site: true }` when the site has a zone this
 * browser knows, else the browser's own (`site: false`).
 */
export function zoneOf(timeZone) {
  let z = zones.get(timeZone ?? '');
  if (z === undefined) {
    z = { id: browserZone(), site: false };
    if (timeZone) {
      try {
        new Intl.DateTimeFormat('en-GB', { timeZone });
        z = { id: timeZone, site: true };
      } catch {
        // a zone unknown to this browser: its own zone, said so on the page
      }
    }
    zones.set(timeZone ?? '', z);
  }
  return z;
}

/** The browser's own zone, as zoneOf() gives it for a site without one. */
export const localZone = () => zoneOf(null);

/** A duration as "42 s", "3 min 05 s" or "2 h 07 min". */
export function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A tag value as `millwright explain` prints it: strings quoted. */
export const value = (v) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
