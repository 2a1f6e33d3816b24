/**
 * Shift calendars: hand-computed instances across midnight, DST nights (Europe/Berlin,
 * America/Chicago), holidays, breaks and a 4-crew rotation; and properties over random valid
 * calendars in zones with odd offsets and DST steps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  plannedTimeMs,
  shiftAt,
  shiftCalendarErrors,
  shiftsBetween,
  splitByShifts,
  wallTimeToUtc,
  type ShiftCalendar,
  type ShiftInstance,
  type ShiftPattern,
} from '../../src/model/shifts.ts';

const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const at = (s: string) => Date.parse(s);
const hours = (i: ShiftInstance) => (i.endMs - i.startMs) / H;

const night: ShiftPattern = { name: 'Night', start: '22:00', end: '06:00' };

/** The one instance of `calendar` starting on local `day`. */
function onDay(calendar: ShiftCalendar, day: string, name: string): ShiftInstance {
  const found = shiftsBetween(
    calendar,
    at(`${day}T00:00:00Z`) - 2 * 86_400_000,
    at(`${day}T00:00:00Z`) + 3 * 86_400_000,
  ).filter((i) => i.day === day && i.name === name);
  assert.equal(found.length, 1, `${name} on ${day}`);
  return found[0]!;
}

describe('shift instances, by hand', () => {
  it('spans midnight', () => {
    const cal: ShiftCalendar = { timeZone: 'UTC', shifts: [night] };
    const got = shiftsBetween(cal, at('2026-05-04T12:00:00Z'), at('2026-05-05T12:00:00Z'));
    assert.deepEqual(got, [
      {
        name: 'Night',
        crew: null,
        day: '2026-05-04',
        startMs: at('2026-05-04T22:00:00Z'),
        endMs: at('2026-05-05T06:00:00Z'),
        breaks: [],
      },
    ]);
    // The night before overlaps from the start of the range.
    const morning = shiftsBetween(cal, at('2026-05-05T05:00:00Z'), at('2026-05-05T07:00:00Z'));
    assert.deepEqual(
      morning.map((i) => i.day),
      ['2026-05-04'],
    );
    assert.equal(shiftAt(cal, at('2026-05-05T05:59:59.999Z'))?.day, '2026-05-04');
    assert.equal(shiftAt(cal, at('2026-05-05T06:00:00Z')), null);
    assert.equal(shiftAt(cal, at('2026-05-05T22:00:00Z'))?.day, '2026-05-05');
  });

  it('Europe/Berlin: the spring night is 7 hours, the autumn night 9', () => {
    const cal: ShiftCalendar = { timeZone: 'Europe/Berlin', shifts: [night] };
    const spring = onDay(cal, '2026-03-28', 'Night'); // clocks 02:00 CET → 03:00 CEST on the 29th
    assert.equal(iso(spring.startMs), '2026-03-28T21:00:00.000Z');
    assert.equal(iso(spring.endMs), '2026-03-29T04:00:00.000Z');
    assert.equal(hours(spring), 7);
    const autumn = onDay(cal, '2026-10-24', 'Night'); // clocks 03:00 CEST → 02:00 CET on the 25th
    assert.equal(iso(autumn.startMs), '2026-10-24T20:00:00.000Z');
    assert.equal(iso(autumn.endMs), '2026-10-25T05:00:00.000Z');
    assert.equal(hours(autumn), 9);
    assert.equal(hours(onDay(cal, '2026-03-29', 'Night')), 8);
  });

  it('Europe/Berlin: a missing wall time moves forward by the gap, a doubled one is the first', () => {
    const tz = 'Europe/Berlin';
    // 02:30 does not exist on 2026-03-29: 03:30 CEST.
    assert.equal(iso(wallTimeToUtc('2026-03-29', 150, tz)), '2026-03-29T01:30:00.000Z');
    assert.equal(iso(wallTimeToUtc('2026-03-29', 120, tz)), '2026-03-29T01:00:00.000Z');
    assert.equal(iso(wallTimeToUtc('2026-03-29', 180, tz)), '2026-03-29T01:00:00.000Z');
    // 02:30 happens twice on 2026-10-25: the first, 02:30 CEST.
    assert.equal(iso(wallTimeToUtc('2026-10-25', 150, tz)), '2026-10-25T00:30:00.000Z');
    assert.equal(iso(wallTimeToUtc('2026-10-25', 180, tz)), '2026-10-25T02:00:00.000Z');
    const cal: ShiftCalendar = {
      timeZone: tz,
      shifts: [{ name: 'Early', start: '02:30', end: '10:30' }],
    };
    const spring = onDay(cal, '2026-03-29', 'Early');
    assert.equal(iso(spring.startMs), '2026-03-29T01:30:00.000Z');
    assert.equal(hours(spring), 7);
    const autumn = onDay(cal, '2026-10-25', 'Early');
    assert.equal(iso(autumn.startMs), '2026-10-25T00:30:00.000Z');
    assert.equal(hours(autumn), 9);
  });

  it('America/Chicago: the spring night is 11 hours, the autumn night 13', () => {
    const cal: ShiftCalendar = {
      timeZone: 'America/Chicago',
      shifts: [
        { name: 'Day', start: '06:00', end: '18:00' },
        { name: 'Night', start: '18:00', end: '06:00' },
      ],
    };
    const spring = onDay(cal, '2026-03-07', 'Night'); // 02:00 CST → 03:00 CDT on the 8th
    assert.equal(iso(spring.startMs), '2026-03-08T00:00:00.000Z');
    assert.equal(iso(spring.endMs), '2026-03-08T11:00:00.000Z');
    assert.equal(hours(spring), 11);
    const autumn = onDay(cal, '2026-10-31', 'Night'); // 02:00 CDT → 01:00 CST on 11-01
    assert.equal(iso(autumn.startMs), '2026-10-31T23:00:00.000Z');
    assert.equal(iso(autumn.endMs), '2026-11-01T12:00:00.000Z');
    assert.equal(hours(autumn), 13);
    assert.equal(hours(onDay(cal, '2026-03-08', 'Day')), 12);
    // 02:30 on 03-08 is 03:30 CDT; 01:30 on 11-01 is the first, 01:30 CDT.
    assert.equal(
      iso(wallTimeToUtc('2026-03-08', 150, 'America/Chicago')),
      '2026-03-08T08:30:00.000Z',
    );
    assert.equal(
      iso(wallTimeToUtc('2026-11-01', 90, 'America/Chicago')),
      '2026-11-01T06:30:00.000Z',
    );
  });

  it('a shift ending in the spring gap ends when the next one starts', () => {
    const cal: ShiftCalendar = {
      timeZone: 'Europe/Berlin',
      shifts: [
        { name: 'A', start: '22:00', end: '02:30' },
        { name: 'B', start: '03:00', end: '06:00' },
      ],
    };
    const [a, b] = shiftsBetween(cal, at('2026-03-28T20:00:00Z'), at('2026-03-29T06:00:00Z'));
    // 02:30 would be 03:30 CEST, after B starts at 03:00 CEST (01:00 UTC).
    assert.equal(iso(a!.endMs), '2026-03-29T01:00:00.000Z');
    assert.equal(iso(b!.startMs), '2026-03-29T01:00:00.000Z');
  });

  it('starts no shift on a holiday; the night before still runs into it', () => {
    const cal: ShiftCalendar = {
      timeZone: 'UTC',
      shifts: [{ name: 'Early', start: '06:00', end: '14:00' }, night],
      holidays: ['2026-12-25'],
    };
    const got = shiftsBetween(cal, at('2026-12-24T00:00:00Z'), at('2026-12-27T00:00:00Z'));
    assert.deepEqual(
      got.map((i) => `${i.name} ${i.day}`),
      [
        'Night 2026-12-23',
        'Early 2026-12-24',
        'Night 2026-12-24',
        'Early 2026-12-26',
        'Night 2026-12-26',
      ],
    );
    assert.equal(iso(got[2]!.endMs), '2026-12-25T06:00:00.000Z');
    assert.equal(shiftAt(cal, at('2026-12-25T10:00:00Z')), null);
  });

  it('honours weekdays', () => {
    const cal: ShiftCalendar = {
      timeZone: 'UTC',
      shifts: [{ name: 'Early', start: '06:00', end: '14:00', days: [1, 2, 3, 4, 5] }],
    };
    // 2026-05-04 is a Monday.
    const got = shiftsBetween(cal, at('2026-05-04T00:00:00Z'), at('2026-05-11T00:00:00Z'));
    assert.deepEqual(
      got.map((i) => i.day),
      ['2026-05-04', '2026-05-05', '2026-05-06', '2026-05-07', '2026-05-08'],
    );
  });

  it('puts breaks that cross midnight on the right day and subtracts them', () => {
    const cal: ShiftCalendar = {
      timeZone: 'UTC',
      shifts: [
        {
          ...night,
          breaks: [
            { name: 'Meal', start: '23:45', end: '00:15' },
            { name: 'Coffee', start: '03:00', end: '03:10' },
          ],
        },
      ],
    };
    const i = onDay(cal, '2026-05-04', 'Night');
    assert.deepEqual(i.breaks, [
      { name: 'Meal', startMs: at('2026-05-04T23:45:00Z'), endMs: at('2026-05-05T00:15:00Z') },
      { name: 'Coffee', startMs: at('2026-05-05T03:00:00Z'), endMs: at('2026-05-05T03:10:00Z') },
    ]);
    assert.equal(plannedTimeMs(i), 8 * H - 40 * 60_000);
    // On the Berlin spring night, a break at 02:00–02:30 (which does not exist) is 03:00–03:30.
    const berlin = onDay(
      {
        timeZone: 'Europe/Berlin',
        shifts: [{ ...night, breaks: [{ name: 'Meal', start: '02:00', end: '02:30' }] }],
      },
      '2026-03-28',
      'Night',
    );
    assert.deepEqual(berlin.breaks, [
      { name: 'Meal', startMs: at('2026-03-29T01:00:00Z'), endMs: at('2026-03-29T01:30:00Z') },
    ]);
    assert.equal(plannedTimeMs(berlin), 6.5 * H);
  });

  it('rotates 4 crews on 12-hour shifts over a 4-day cycle', () => {
    const cal: ShiftCalendar = {
      timeZone: 'Europe/Berlin',
      shifts: [
        { name: 'Day', start: '06:00', end: '18:00' },
        { name: 'Night', start: '18:00', end: '06:00' },
      ],
      rotation: {
        crews: ['A', 'B', 'C', 'D'],
        cycleDays: 4,
        anchor: '2026-01-05',
        pattern: [
          ['A', 'C'],
          ['A', 'C'],
          ['B', 'D'],
          ['B', 'D'],
        ],
      },
    };
    assert.deepEqual(shiftCalendarErrors(cal), []);
    const got = shiftsBetween(cal, at('2026-01-04T05:00:00Z'), at('2026-01-09T05:00:00Z'));
    assert.deepEqual(
      got.map((i) => `${i.day} ${i.name} ${i.crew}`),
      [
        '2026-01-04 Day B', // the day before the anchor is cycle day 3
        '2026-01-04 Night D',
        '2026-01-05 Day A',
        '2026-01-05 Night C',
        '2026-01-06 Day A',
        '2026-01-06 Night C',
        '2026-01-07 Day B',
        '2026-01-07 Night D',
        '2026-01-08 Day B',
        '2026-01-08 Night D',
      ],
    );
    assert.equal(shiftAt(cal, at('2026-01-09T06:00:00Z'))?.crew, 'A'); // 07:00 local, day 4 ≡ 0
    // null in the pattern: the shift is not worked that cycle day.
    const off = {
      ...cal,
      rotation: {
        ...cal.rotation!,
        pattern: [
          ['A', null],
          ['A', 'C'],
          ['B', 'D'],
          ['B', 'D'],
        ],
      },
    };
    assert.equal(shiftAt(off, at('2026-01-05T20:00:00Z')), null);
  });

  it('cuts an interval at shift boundaries', () => {
    const cal: ShiftCalendar = {
      timeZone: 'UTC',
      shifts: [
        { name: 'Early', start: '06:00', end: '14:00' },
        { name: 'Late', start: '14:00', end: '22:00' },
      ],
    };
    const pieces = splitByShifts(cal, at('2026-05-04T05:00:00Z'), at('2026-05-04T23:00:00Z'));
    assert.deepEqual(
      pieces.map(
        (p) =>
          `${iso(p.startMs).slice(11, 16)}-${iso(p.endMs).slice(11, 16)} ${p.shift?.name ?? '-'}`,
      ),
      ['05:00-06:00 -', '06:00-14:00 Early', '14:00-22:00 Late', '22:00-23:00 -'],
    );
    assert.deepEqual(
      splitByShifts(cal, at('2026-05-04T07:00:00Z'), at('2026-05-04T07:00:00Z')),
      [],
    );
  });
});

describe('shift calendar validation', () => {
  it('names each problem with its path', () => {
    const errors = shiftCalendarErrors({
      timeZone: 'Mars/Olympus',
      shifts: [
        {
          name: 'Early',
          start: '06:00',
          end: '14:00',
          breaks: [{ name: 'Late meal', start: '15:00', end: '15:30' }],
        },
        { name: 'Late', start: '6:00', end: '22:00' },
        { name: 'Mid', start: '10:00', end: '18:00', days: [1, 8] },
        {
          name: 'Early',
          start: '22:00',
          end: '05:00',
          breaks: [
            { name: 'a', start: '23:00', end: '01:00' },
            { name: 'b', start: '00:30', end: '00:45' },
          ],
        },
      ],
      holidays: ['2026-02-30'],
      rotation: {
        crews: ['A', 'B'],
        cycleDays: 2,
        anchor: '2026-01-05',
        pattern: [['A', 'B', 'C', 'A'], ['A']],
      },
    });
    assert.deepEqual(errors, [
      'timeZone: unknown IANA time zone "Mars/Olympus"',
      'shifts[0].breaks[0]: 15:00–15:30 is outside its shift 06:00–14:00',
      'shifts[1].start: expected HH:MM, got "6:00"',
      'shifts[2].days[1]: expected an ISO weekday 1-7, got 8',
      'shifts[3].name: "Early" is also shifts[0]',
      'shifts[3].breaks[1]: overlaps shifts[3].breaks[0]',
      'shifts[2]: overlaps shifts[0] (the one starting on weekday 1)',
      'holidays[0]: expected YYYY-MM-DD, got "2026-02-30"',
      'rotation.pattern[0][2]: "C" is not in rotation.crews',
      'rotation.pattern[1]: expected one entry per shift (4), got 1',
    ]);
  });

  it('sees a night shift overlapping the next morning, also round the end of the week', () => {
    const errors = shiftCalendarErrors({
      timeZone: 'UTC',
      shifts: [
        { name: 'Night', start: '22:00', end: '06:00', days: [7] },
        { name: 'Early', start: '05:00', end: '13:00', days: [1] },
      ],
    });
    assert.deepEqual(errors, ['shifts[1]: overlaps shifts[0] (the one starting on weekday 7)']);
  });

  it('makes shiftsBetween refuse an invalid calendar', () => {
    assert.throws(
      () =>
        shiftsBetween(
          { timeZone: 'UTC', shifts: [{ name: 'X', start: '25:00', end: '06:00' }] },
          0,
          H,
        ),
      /shifts\[0\]\.start: expected HH:MM/,
    );
  });
});

const ZONES = ['Europe/Berlin', 'America/Chicago', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC'];
/** Instants near the 2026 DST changes of those zones, and some ordinary ones. */
const NEAR = [
  '2026-03-29T01:00:00Z', // Berlin spring
  '2026-10-25T01:00:00Z', // Berlin autumn
  '2026-03-08T08:00:00Z', // Chicago spring
  '2026-11-01T07:00:00Z', // Chicago autumn
  '2026-04-04T15:00:00Z', // Lord Howe autumn (02:00 → 01:30)
  '2026-10-03T15:30:00Z', // Lord Howe spring (02:00 → 02:30)
  '2026-06-15T00:00:00Z',
  '2026-01-01T00:00:00Z',
].map(at);

const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/**
 * A valid calendar: sorted points round the clock cut the day into slots; some slots are shifts
 * (with random weekdays and a break inside), so shifts cannot overlap.
 */
const calendarArb = fc
  .record({
    timeZone: fc.constantFrom(...ZONES),
    // Minutes, biased to the night where DST changes happen.
    points: fc.uniqueArray(
      fc.oneof(fc.integer({ min: 0, max: 1439 }), fc.integer({ min: 60, max: 200 })),
      {
        minLength: 1,
        maxLength: 5,
      },
    ),
    used: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    days: fc.array(
      fc.option(fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 })),
      {
        minLength: 5,
        maxLength: 5,
      },
    ),
    breaks: fc.array(
      fc.option(
        fc.tuple(
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
        ),
      ),
      {
        minLength: 5,
        maxLength: 5,
      },
    ),
    holidays: fc.array(fc.integer({ min: 0, max: 365 }), { maxLength: 10 }),
    rotation: fc.boolean(),
    seed: fc.array(fc.constantFrom('A', 'B', 'C', null), { minLength: 30, maxLength: 30 }),
  })
  .map((r): ShiftCalendar => {
    const points = [...r.points].sort((a, b) => a - b);
    const shifts: ShiftPattern[] = [];
    points.forEach((p, i) => {
      if (!r.used[i] && !(i === 0 && shifts.length === 0 && points.length === 1)) return;
      const length = i + 1 < points.length ? points[i + 1]! - p : 1440 - p + points[0]!;
      const end = (p + length) % 1440;
      const s: { -readonly [K in keyof ShiftPattern]: ShiftPattern[K] } = {
        name: `S${i}`,
        start: hhmm(p),
        end: hhmm(end),
      };
      const d = r.days[i];
      if (d !== null && d !== undefined) s.days = d;
      const b = r.breaks[i];
      if (b !== null && b !== undefined && length >= 2) {
        const from = Math.min(length - 2, Math.floor(b[0] * length));
        // At most 1439 minutes: a break from 00:00 to 00:00 is an error.
        const to = Math.min(from + 1439, from + 1 + Math.floor(b[1] * (length - from - 1)));
        s.breaks = [{ name: 'Break', start: hhmm((p + from) % 1440), end: hhmm((p + to) % 1440) }];
      }
      shifts.push(s);
    });
    const cal: ShiftCalendar = {
      timeZone: r.timeZone,
      shifts,
      holidays: r.holidays.map((n) =>
        new Date(Date.UTC(2026, 0, 1) + n * 86_400_000).toISOString().slice(0, 10),
      ),
    };
    if (!r.rotation) return cal;
    const cycleDays = 1 + (r.seed.filter((c) => c === null).length % 4);
    return {
      ...cal,
      rotation: {
        crews: ['A', 'B', 'C'],
        cycleDays,
        anchor: '2026-02-11',
        pattern: Array.from({ length: cycleDays }, (_, d) =>
          shifts.map((_s, k) => r.seed[(d * shifts.length + k) % r.seed.length]!),
        ),
      },
    };
  });

const rangeArb = fc
  .tuple(
    fc.constantFrom(...NEAR),
    fc.integer({ min: -3 * 86_400_000, max: 3 * 86_400_000 }),
    fc.integer({ min: 0, max: 4 * 86_400_000 }),
  )
  .map(([base, shift, length]) => [base + shift, base + shift + length] as const);

describe('shift calendars, properties', () => {
  it('has instances in order, not overlapping, non-empty, with breaks inside', () => {
    fc.assert(
      fc.property(calendarArb, rangeArb, (cal, [from, to]) => {
        assert.deepEqual(shiftCalendarErrors(cal), []);
        const got = shiftsBetween(cal, from, to);
        got.forEach((i, n) => {
          assert.ok(i.endMs > i.startMs, `${i.name} ${i.day} is empty`);
          assert.ok(i.startMs < to && i.endMs > from, `${i.name} ${i.day} outside the range`);
          const next = got[n + 1];
          if (next !== undefined)
            assert.ok(i.endMs <= next.startMs, `${i.name} ${i.day} overlaps ${next.name}`);
          let floor = i.startMs;
          for (const b of i.breaks) {
            assert.ok(b.startMs >= floor && b.endMs > b.startMs && b.endMs <= i.endMs);
            floor = b.endMs;
          }
          const planned = plannedTimeMs(i);
          assert.ok(planned >= 0 && planned <= i.endMs - i.startMs);
        });
      }),
      { numRuns: 1500 },
    );
  });

  it('cuts [from, to) into contiguous pieces that lie in their shift', () => {
    fc.assert(
      fc.property(calendarArb, rangeArb, (cal, [from, to]) => {
        const pieces = splitByShifts(cal, from, to);
        if (to === from) return assert.deepEqual(pieces, []);
        assert.equal(pieces[0]!.startMs, from);
        assert.equal(pieces.at(-1)!.endMs, to);
        pieces.forEach((p, n) => {
          assert.ok(p.endMs > p.startMs);
          if (n > 0) assert.equal(p.startMs, pieces[n - 1]!.endMs);
          if (p.shift === null) {
            if (n > 0) assert.notEqual(pieces[n - 1]!.shift, null, 'two gaps in a row');
            assert.equal(shiftAt(cal, p.startMs), null);
            assert.equal(shiftAt(cal, p.endMs - 1), null);
          } else {
            assert.ok(p.startMs >= p.shift.startMs && p.endMs <= p.shift.endMs);
            assert.deepEqual(shiftAt(cal, p.startMs), p.shift);
          }
        });
      }),
      { numRuns: 800 },
    );
  });

  it('gives the same instances whatever the window', () => {
    fc.assert(
      fc.property(
        calendarArb,
        rangeArb,
        fc.integer({ min: 0, max: 86_400_000 }),
        (cal, [from, to], widen) => {
          const wide = shiftsBetween(cal, from - widen, to + widen).filter(
            (i) => to > from && i.startMs < to && i.endMs > from,
          );
          assert.deepEqual(shiftsBetween(cal, from, to), wide);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('starts a shift at its wall-clock time on its day, unless that time does not exist', () => {
    fc.assert(
      fc.property(calendarArb, rangeArb, (cal, [from, to]) => {
        for (const i of shiftsBetween(cal, from, to)) {
          const pattern = cal.shifts.find((s) => s.name === i.name)!;
          const [h, m] = pattern.start.split(':').map(Number);
          const wanted = wallTimeToUtc(i.day, h! * 60 + m!, cal.timeZone);
          assert.equal(i.startMs, wanted);
          const local = new Date(i.startMs + offsetAt(i.startMs, cal.timeZone));
          const exists = local.toISOString().slice(0, 16) === `${i.day}T${pattern.start}`;
          // A time in a gap lands later, by less than the gap (at most an hour here).
          const late = local.getTime() - at(`${i.day}T${pattern.start}:00Z`);
          if (!exists) assert.ok(late > 0 && late <= H, `${i.name} ${i.day} ${late}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});

function offsetAt(ms: number, timeZone: string): number {
  const f = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  const name = f.formatToParts(ms).find((p) => p.type === 'timeZoneName')!.value; // GMT+05:30
  const m = /GMT(?:([+-])(\d{2}):(\d{2}))?/.exec(name)!;
  return m[1] === undefined
    ? 0
    : (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
}
