/**
 * OEE arithmetic (src/model/oee.ts, ISO 22400-2): a published worked example reproduced, a
 * line whose OEE is not the average of its units' OEEs, and properties of the formulas.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { addTotals, kpisOf, totalsOf } from '../../src/model/oee.ts';
import {
  addKpiTotals,
  addTotalsArray,
  KPI_TOTALS_WIDTH,
  totalsFromArray,
  totalsToArray,
} from '../../src/model/kpi.ts';

const MIN = 60_000;

test('the worked example of oee.com "Calculate OEE" (Vorne) is reproduced', () => {
  // Source: https://www.oee.com/calculating-oee/ — shift 8 h, two 15-min breaks and a 30-min meal
  // (planned production time 420 min), 47 min down time (run time 373 min), ideal run rate
  // 60 pieces/min (ideal cycle time 1 s), total count 19,271, reject count 423 (good 18,848).
  // Published: Availability 88.81 %, Performance 86.11 %, Quality 97.80 %, OEE 74.79 %.
  const k = kpisOf(
    totalsOf({
      plannedBusyTimeMs: 420 * MIN,
      actualProductionTimeMs: 373 * MIN,
      idealCycleTimeMs: 1000,
      goodQuantity: 18_848,
      scrapQuantity: 423,
    }),
  );
  const pct = (x: number | null) => Math.round((x ?? NaN) * 10_000) / 100;
  assert.equal(pct(k.availability), 88.81);
  assert.equal(pct(k.performance), 86.11);
  assert.equal(pct(k.quality), 97.8);
  assert.equal(pct(k.oee), 74.79);
  // The simple form: good count × ideal cycle time / planned production time.
  assert.ok(Math.abs(k.oee! - (18_848 * 1000) / (420 * MIN)) < 1e-12);
});

test('a line of three units: OEE from summed times and counts, not the mean of unit OEEs', () => {
  const units = [
    // a fast unit on a short shift, a slow one that ran all shift, one in between
    {
      plannedBusyTimeMs: 120 * MIN,
      actualProductionTimeMs: 60 * MIN,
      idealCycleTimeMs: 500,
      goodQuantity: 6_000,
      scrapQuantity: 200,
    },
    {
      plannedBusyTimeMs: 480 * MIN,
      actualProductionTimeMs: 470 * MIN,
      idealCycleTimeMs: 2000,
      goodQuantity: 13_500,
      scrapQuantity: 10,
    },
    {
      plannedBusyTimeMs: 480 * MIN,
      actualProductionTimeMs: 400 * MIN,
      idealCycleTimeMs: 1000,
      goodQuantity: 22_000,
      scrapQuantity: 500,
    },
  ].map(totalsOf);
  const unitOee = units.map((u) => kpisOf(u).oee!);
  const mean = unitOee.reduce((s, x) => s + x, 0) / unitOee.length;
  const line = kpisOf(addTotals(...units));
  // By hand: Σ APT = 60 + 470 + 400 min = 55,800 s; Σ PBT = 1,080 min = 64,800 s;
  // Σ PRI × PQ = 0.5 s × 6,200 + 2 s × 13,510 + 1 s × 22,500 = 52,620 s;
  // Σ GQ / Σ PQ = 41,500 / 42,210. Unit OEEs 0.4167, 0.9375, 0.7639 (mean 0.7060); line 0.7984.
  assert.ok(Math.abs(line.availability! - 55_800 / 64_800) < 1e-12);
  assert.ok(Math.abs(line.performance! - 52_620 / 55_800) < 1e-12);
  assert.ok(Math.abs(line.quality! - 41_500 / 42_210) < 1e-12);
  assert.ok(Math.abs(line.oee! - (52_620 / 64_800) * (41_500 / 42_210)) < 1e-12);
  assert.equal(Math.round(mean * 10_000) / 10_000, 0.706);
  assert.ok(Math.abs(line.oee! - mean) > 0.01, `line ${line.oee} vs mean of units ${mean}`);
});

test('nothing planned or produced gives null ratios, never NaN', () => {
  const k = kpisOf(
    totalsOf({
      plannedBusyTimeMs: 0,
      actualProductionTimeMs: 0,
      idealCycleTimeMs: null,
      goodQuantity: 0,
      scrapQuantity: 0,
    }),
  );
  assert.deepEqual(
    [k.availability, k.performance, k.quality, k.oee, k.teep, k.scrapRatio, k.mtbfMs, k.mttrMs],
    [null, null, null, null, null, null, null, null],
  );
});

const unitArb = fc
  .record({
    pbt: fc.integer({ min: 1, max: 86_400_000 }),
    runShare: fc.double({ min: 0.01, max: 1, noNaN: true }),
    idealMs: fc.integer({ min: 100, max: 10_000 }),
    good: fc.integer({ min: 0, max: 100_000 }),
    scrap: fc.integer({ min: 0, max: 5_000 }),
  })
  .map((r) =>
    totalsOf({
      plannedBusyTimeMs: r.pbt,
      actualProductionTimeMs: Math.max(1, Math.round(r.pbt * r.runShare)),
      idealCycleTimeMs: r.idealMs,
      goodQuantity: r.good,
      scrapQuantity: r.scrap,
      calendarTimeMs: r.pbt * 2,
    }),
  );

test('property: OEE = availability × performance × quality = Σ PRI × GQ-share / PBT', () => {
  fc.assert(
    fc.property(fc.array(unitArb, { minLength: 1, maxLength: 8 }), (units) => {
      const t = addTotals(...units);
      const k = kpisOf(t);
      if (t.producedQuantity === 0) return k.quality === null && k.oee === null;
      const direct =
        (t.idealProductionTimeMs * (t.goodQuantity / t.producedQuantity)) / t.plannedBusyTimeMs;
      assert.ok(Math.abs(k.oee! - direct) <= 1e-12 * Math.max(1, direct));
      assert.ok(k.availability! > 0 && k.availability! <= 1);
      assert.ok(k.quality! >= 0 && k.quality! <= 1);
      assert.ok(Math.abs(k.teep! - (k.oee! * t.plannedBusyTimeMs) / t.calendarTimeMs) <= 1e-12);
      return true;
    }),
    { numRuns: 500 },
  );
});

test('property: a rollup of rollups equals the rollup of all members (sums, in any grouping)', () => {
  fc.assert(
    fc.property(fc.array(unitArb, { minLength: 2, maxLength: 10 }), fc.nat(), (units, cut) => {
      const at = 1 + (cut % (units.length - 1));
      const nested = addTotals(addTotals(...units.slice(0, at)), addTotals(...units.slice(at)));
      assert.deepEqual(nested, addTotals(...units));
      assert.deepEqual(kpisOf(nested), kpisOf(addTotals(...[...units].reverse())));
    }),
    { numRuns: 300 },
  );
});

test('property: KPI totals as numbers (the KPI cache) come back as they were, and add as totals do', () => {
  const n = fc.integer({ min: 0, max: 2 ** 40 });
  const states = fc.record({
    'no-data': n,
    running: n,
    idle: n,
    down: n,
    'planned-stop': n,
    changeover: n,
    starved: n,
    blocked: n,
    unknown: n,
  });
  const totals = fc.record({
    calendarTimeMs: n,
    plannedOperationTimeMs: n,
    plannedDownTimeMs: n,
    plannedBusyTimeMs: n,
    actualProductionTimeMs: n,
    runningMs: n,
    microStopMs: n,
    microStops: n,
    unplannedStopMs: n,
    changeoverMs: n,
    changeovers: n,
    failures: n,
    failureDownTimeMs: n,
    idealProductionTimeMs: n,
    piecesWithoutIdealTime: n,
    producedQuantity: fc.double({ min: 0, max: 1e9, noNaN: true }),
    goodQuantity: n,
    scrapQuantity: n,
    stateMs: states,
    unplannedStateMs: states,
    outsidePlannedTime: fc.record({
      runningMs: n,
      producedQuantity: n,
      goodQuantity: n,
      scrapQuantity: n,
    }),
  });
  fc.assert(
    fc.property(fc.array(totals, { minLength: 1, maxLength: 6 }), (generated) => {
      // Plain objects (fast-check may make some without a prototype).
      const list = JSON.parse(JSON.stringify(generated)) as typeof generated;
      for (const t of list) assert.deepEqual(totalsFromArray(totalsToArray(t)), t);
      const sum = new Float64Array(KPI_TOTALS_WIDTH);
      for (const t of list) addTotalsArray(sum, totalsToArray(t));
      assert.deepEqual(totalsFromArray(sum), addKpiTotals(list));
    }),
  );
});
