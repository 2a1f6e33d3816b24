/**
 * Site-local days: every instant lies in the day `localDay` names, between that day's start and
 * the next day's start, in any zone, across DST changes (23- and 25-hour days) and in zones that
 * skip midnight.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { dayStart, localDay, nextDay, zoneOffset } from '../../src/model/time.ts';

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/Chicago',
  'America/Santiago', // DST changes at midnight: some days begin at 01:00
  'America/Havana', // likewise
  'Asia/Kolkata', // +05:30, no DST
  'Australia/Lord_Howe', // a 30-minute DST shift
  'Pacific/Apia', // skipped a whole day in 2011
];

describe('site-local days', () => {
  it('puts every instant in its local day, between that day’s start and the next', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2005, 0, 1), max: Date.UTC(2035, 0, 1) }),
        fc.constantFrom(...ZONES),
        (t, zone) => {
          const day = localDay(t, zone);
          const start = dayStart(day, zone);
          const end = dayStart(nextDay(day), zone);
          assert.ok(start <= t && t < end, `${zone} ${new Date(t).toISOString()} in ${day}`);
          assert.equal(localDay(start, zone), day);
          assert.notEqual(localDay(start - 1, zone), day);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('knows 23- and 25-hour days and a midnight that does not exist', () => {
    const hours = (day: string, zone: string) =>
      (dayStart(nextDay(day), zone) - dayStart(day, zone)) / 3_600_000;
    assert.equal(hours('2026-03-29', 'Europe/Berlin'), 23);
    assert.equal(hours('2026-10-25', 'Europe/Berlin'), 25);
    assert.equal(hours('2026-11-26', 'Europe/Berlin'), 24);
    assert.equal(
      new Date(dayStart('2026-11-26', 'Europe/Berlin')).toISOString(),
      '2026-11-25T23:00:00.000Z',
    );
    assert.equal(
      new Date(dayStart('2026-11-26', 'America/Chicago')).toISOString(),
      '2026-11-26T06:00:00.000Z',
    );
    // Santiago moved its clocks from 00:00 to 01:00 on 2024-09-08: the day began at 01:00 local.
    assert.equal(
      new Date(dayStart('2024-09-08', 'America/Santiago')).toISOString(),
      '2024-09-08T04:00:00.000Z',
    );
    assert.equal(zoneOffset(Date.UTC(2026, 0, 1), 'Asia/Kolkata'), 5.5 * 3_600_000);
  });
});
