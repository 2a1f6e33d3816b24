/**
 * KPI bucket arithmetic (src/model/kpi-buckets.ts) and the time model of src/model/kpi.ts:
 * buckets summed over any run of whole minutes give what clipping every interval to that range
 * gives, whatever the batches the events were committed in; and the loss waterfall of a unit
 * adds up to its planned busy time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  addFigures,
  bucketDeltas,
  emptyFigures,
  EQUIPMENT_STATES,
  kpisOfTotals,
  lossesOf,
  MINUTE_MS,
  splitByMinute,
  unitTotals,
  type BucketFigures,
  type DomainEvent,
  type EquipmentState,
} from '../../src/model/index.ts';

const U = 'acme/p/a/l/u';
const T0 = Date.UTC(2026, 2, 29, 0, 0, 0);

/** A unit's history: consecutive intervals of random states and lengths, with counts. */
const history = fc
  .array(
    fc.record({
      state: fc.constantFrom(...EQUIPMENT_STATES),
      ms: fc.integer({ min: 1, max: 7 * MINUTE_MS }),
      micro: fc.boolean(),
      reason: fc.option(fc.constantFrom('JAM', 'BREAK'), { nil: null }),
      good: fc.nat(5),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .map((steps) => {
    const events: DomainEvent[] = [];
    const intervals: { state: EquipmentState; from: number; to: number; micro: boolean }[] = [];
    let t = T0 + 17_123;
    for (const s of steps) {
      const from = t;
      t += s.ms;
      intervals.push({ state: s.state, from, to: t, micro: s.micro && s.state === 'down' });
      events.push({
        type: 'state.changed',
        equipmentId: U,
        ts: t,
        data: {
          state: 'running',
          reasonCode: null,
          previousState: s.state,
          previousReasonCode: s.reason,
          previousDurationMs: s.ms,
          previousMicroStop: s.micro,
        },
      });
      if (s.good > 0)
        events.push({
          type: 'counted',
          equipmentId: U,
          ts: from + Math.floor(s.ms / 2),
          data: { counter: 'good', delta: s.good, raw: 0, total: 0, anomaly: null },
        });
    }
    return { events, intervals, end: t };
  });

function sumMinutes(
  deltas: ReturnType<typeof bucketDeltas>,
  lo: number,
  hi: number,
): BucketFigures {
  return deltas
    .filter((d) => d.minute >= lo && d.minute < hi)
    .reduce((f, d) => addFigures(f, d.figures), emptyFigures());
}

test('buckets over any whole-minute range equal the intervals clipped to it', () => {
  fc.assert(
    fc.property(history, fc.nat(60), fc.nat(60), ({ events, intervals }, a, b) => {
      const lo = T0 + Math.min(a, b) * MINUTE_MS;
      const hi = T0 + (Math.max(a, b) + 1) * MINUTE_MS;
      const f = sumMinutes(bucketDeltas(events), lo, hi);
      for (const s of EQUIPMENT_STATES) {
        const clipped = intervals
          .filter((i) => i.state === s)
          .reduce((sum, i) => sum + Math.max(0, Math.min(i.to, hi) - Math.max(i.from, lo)), 0);
        assert.equal(f.ms[s], clipped, `${s} ms`);
        // An interval counts once, in the minute it began.
        const began = intervals.filter((i) => i.state === s && i.from >= lo && i.from < hi);
        assert.equal(f.n[s], began.length, `${s} occurrences`);
      }
      const micro = intervals
        .filter((i) => i.micro)
        .reduce((sum, i) => sum + Math.max(0, Math.min(i.to, hi) - Math.max(i.from, lo)), 0);
      assert.equal(f.microMs, micro);
      const good = events
        .filter((e) => e.type === 'counted' && e.ts >= lo && e.ts < hi)
        .reduce((s, e) => s + (e.type === 'counted' ? e.data.delta : 0), 0);
      assert.equal(f.good, good);
    }),
  );
});

test('the batches events are committed in do not change the buckets', () => {
  fc.assert(
    fc.property(history, fc.nat(), ({ events, end }, cut) => {
      const at = cut % (events.length + 1);
      const whole = sumMinutes(bucketDeltas(events), T0, end + MINUTE_MS);
      const split = addFigures(
        sumMinutes(bucketDeltas(events.slice(0, at)), T0, end + MINUTE_MS),
        sumMinutes(bucketDeltas(events.slice(at)), T0, end + MINUTE_MS),
      );
      assert.deepEqual(split, whole);
    }),
  );
});

test('splitByMinute cuts exactly at minute boundaries', () => {
  assert.deepEqual(splitByMinute(T0 + 59_000, T0 + 121_000), [
    [T0, 1000],
    [T0 + MINUTE_MS, MINUTE_MS],
    [T0 + 2 * MINUTE_MS, 1000],
  ]);
  assert.deepEqual(splitByMinute(T0, T0), []);
});

test('a unit’s losses and the ideal time of its good pieces add up to its planned busy time', () => {
  fc.assert(
    fc.property(
      history,
      fc.integer({ min: 100, max: 5000 }),
      fc.nat(3),
      ({ events, end }, idealMs, scrap) => {
        const figures = sumMinutes(bucketDeltas(events), T0, end + MINUTE_MS);
        const f = { ...figures, scrap };
        const produced = f.good + f.scrap;
        const covered = EQUIPMENT_STATES.reduce((s, st) => s + f.ms[st], 0);
        const t = unitTotals({
          calendarTimeMs: covered + MINUTE_MS,
          plannedOperationTimeMs: covered + 30_000, // 30 s without data
          figures: f,
          outside: emptyFigures(),
          plannedMs: { 'planned-stop': f.ms['planned-stop'], changeover: f.ms.changeover },
          plannedDownStops: 0,
          idealTimeMs: idealMs * produced,
          piecesWithoutIdealTime: 0,
        });
        const l = lossesOf(t);
        const availabilityLoss = l.breakdownsMs + l.setupMs + l.otherStopsMs;
        assert.equal(t.plannedBusyTimeMs - t.actualProductionTimeMs, availabilityLoss);
        if (produced > 0) {
          const goodIdeal = idealMs * f.good;
          const sum =
            goodIdeal + l.rejectsMs! + l.reducedSpeedMs! + l.smallStopsMs + availabilityLoss;
          assert.ok(Math.abs(sum - t.plannedBusyTimeMs) < 1e-6, `${sum} vs ${t.plannedBusyTimeMs}`);
          const k = kpisOfTotals(t);
          if (k.oee !== null)
            assert.ok(
              Math.abs(k.oee * t.plannedBusyTimeMs - goodIdeal) < 1e-6,
              'OEE × PBT = ideal time of good pieces',
            );
        }
      },
    ),
  );
});
