/**
 * Property tests of applyCounter: absolute PLC counter values in, production deltas out. The
 * hub relies on these properties to count production exactly once across rollovers, resets and
 * re-delivered values (DESIGN.md, reliability rules).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  applyCounter,
  applyIncrement,
  applyPulse,
  INITIAL_COUNTER,
  type CounterReading,
} from '../../src/model/counter.ts';

/** Largest counter values: the usual PLC widths, and any other. */
const rolloverAtArb = fc.oneof(
  fc.constantFrom(1, 2, 9_999, 32_767, 65_535, 2 ** 31 - 1, 2 ** 32 - 1),
  fc.integer({ min: 1, max: 2 ** 32 - 1 }),
);

/** Half the range of a counter that holds 0..rolloverAt. */
const halfRange = (rolloverAt: number): number => (rolloverAt + 1) / 2;

/** The largest increment the hub can tell from a rollover: less than half the range. */
const maxIncrement = (rolloverAt: number): number => Math.ceil(halfRange(rolloverAt)) - 1;

/**
 * A counter somewhere in its range and a run of production increments, each smaller than half the
 * counter range (the hub reads the counter at least that often). Built with `map` rather than
 * `chain` so that fast-check shrinks a failure quickly to a small counterexample.
 */
const productionArb = fc
  .record({
    rolloverAt: rolloverAtArb,
    start: fc.maxSafeNat(),
    increments: fc.array(fc.oneof(fc.nat({ max: 3 }), fc.maxSafeNat()), { maxLength: 200 }),
  })
  .map(({ rolloverAt, start, increments }) => ({
    rolloverAt,
    start: start % (rolloverAt + 1),
    increments: increments.map((inc) => inc % (maxIncrement(rolloverAt) + 1)),
  }));

/** Absolute raw values the counter shows for a run of increments, wrapping after rolloverAt. */
function rawValues(start: number, increments: readonly number[], rolloverAt: number): number[] {
  const range = rolloverAt + 1;
  let raw = start;
  return increments.map((inc) => (raw = (raw + inc) % range));
}

function applyAll(
  raws: readonly number[],
  rolloverAt: number | undefined,
  from: CounterReading = INITIAL_COUNTER,
): { reading: CounterReading; deltas: number[]; anomalies: (string | null)[] } {
  let reading = from;
  const deltas: number[] = [];
  const anomalies: (string | null)[] = [];
  for (const raw of raws) {
    const step = applyCounter(reading, raw, rolloverAt);
    deltas.push(step.delta);
    anomalies.push(step.anomaly);
    reading = step.next;
  }
  return { reading, deltas, anomalies };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

test('the first reading is the baseline: delta 0', () => {
  fc.assert(
    fc.property(fc.nat(), fc.option(rolloverAtArb, { nil: undefined }), (raw, rolloverAt) => {
      const step = applyCounter(INITIAL_COUNTER, raw, rolloverAt);
      assert.deepEqual(step, { delta: 0, anomaly: null, next: { total: 0, lastRaw: raw } });
    }),
  );
});

test('the sum of deltas equals the true production across rollovers', () => {
  fc.assert(
    fc.property(productionArb, ({ rolloverAt, start, increments }) => {
      const raws = [start, ...rawValues(start, increments, rolloverAt)];
      const { reading, deltas, anomalies } = applyAll(raws, rolloverAt);
      assert.equal(sum(deltas), sum(increments));
      assert.equal(reading.total, sum(increments));
      assert.ok(!anomalies.includes('reset'), 'a plausible wrap is never taken for a reset');
    }),
  );
});

test('each delta is the increment, flagged rollover exactly when the counter wrapped', () => {
  fc.assert(
    fc.property(productionArb, ({ rolloverAt, start, increments }) => {
      const raws = rawValues(start, increments, rolloverAt);
      const { deltas, anomalies } = applyAll([start, ...raws], rolloverAt);
      assert.deepEqual(deltas.slice(1), increments);
      const wrapped = raws.map((raw, i) => raw < (i === 0 ? start : (raws[i - 1] as number)));
      assert.deepEqual(
        anomalies.slice(1),
        wrapped.map((w) => (w ? 'rollover' : null)),
      );
    }),
  );
});

test('re-applying the same raw value gives delta 0 and changes nothing (idempotence)', () => {
  fc.assert(
    fc.property(
      productionArb,
      fc.integer({ min: 1, max: 5 }),
      ({ rolloverAt, start, increments }, repeats) => {
        const raws = [start, ...rawValues(start, increments, rolloverAt)];
        const { reading } = applyAll(raws, rolloverAt);
        let again = reading;
        for (let i = 0; i < repeats; i++) {
          const step = applyCounter(again, reading.lastRaw as number, rolloverAt);
          assert.deepEqual(step, { delta: 0, anomaly: null, next: reading });
          again = step.next;
        }
      },
    ),
  );
});

test('a re-delivered run of values does not count twice', () => {
  fc.assert(
    fc.property(productionArb, ({ rolloverAt, start, increments }) => {
      const raws = [start, ...rawValues(start, increments, rolloverAt)];
      const once = applyAll(raws, rolloverAt).reading;
      // Each value delivered twice in a row, as after a crash between commit and acknowledgement.
      const twice = applyAll(
        raws.flatMap((r) => [r, r]),
        rolloverAt,
      ).reading;
      assert.deepEqual(twice, once);
    }),
  );
});

test('deltas are never negative, whatever the values and rolloverAt', () => {
  const anyRun = fc.record({
    rolloverAt: fc.option(rolloverAtArb, { nil: undefined }),
    // Values above rolloverAt too: a device whose counter is wider than configured.
    raws: fc.array(fc.oneof(fc.nat({ max: 100 }), fc.nat(), fc.maxSafeNat()), { maxLength: 100 }),
  });
  fc.assert(
    fc.property(anyRun, ({ rolloverAt, raws }) => {
      let reading = INITIAL_COUNTER;
      for (const raw of raws) {
        const step = applyCounter(reading, raw, rolloverAt);
        assert.ok(Number.isSafeInteger(step.delta) && step.delta >= 0, `delta ${step.delta}`);
        assert.equal(step.next.total, reading.total + step.delta);
        assert.equal(step.next.lastRaw, raw);
        reading = step.next;
      }
    }),
  );
});

test('a drop not plausible as a rollover is a reset that counts the new value', () => {
  // A small drop: as a wrap it would mean more than half the range was produced unseen
  // (65535-counter from 1000 to 990), where a PLC counter reset is the likely story.
  const resetArb = fc
    .record({
      // With a range of 2 every drop (1 to 0) is as plausible a wrap as a reset.
      rolloverAt: rolloverAtArb.filter((rolloverAt) => rolloverAt >= 2),
      prev: fc.maxSafeNat(),
      drop: fc.maxSafeNat(),
      total: fc.nat(),
    })
    .map(({ rolloverAt, prev, drop, total }) => {
      const p = 1 + (prev % rolloverAt);
      const d = 1 + (drop % Math.min(p, maxIncrement(rolloverAt)));
      return { rolloverAt, prev: p, raw: p - d, total };
    });
  fc.assert(
    fc.property(resetArb, ({ rolloverAt, prev, raw, total }) => {
      assert.ok(raw < prev && rolloverAt - prev + raw + 1 > halfRange(rolloverAt));
      const step = applyCounter({ total, lastRaw: prev }, raw, rolloverAt);
      assert.deepEqual(step, {
        delta: raw,
        anomaly: 'reset',
        next: { total: total + raw, lastRaw: raw },
      });
    }),
  );
});

test('a wrap of exactly half the range is still a rollover; one more is a reset', () => {
  // The boundary documented on applyCounter: "a delta of at most half the range".
  assert.deepEqual(applyCounter({ total: 0, lastRaw: 65_535 }, 32_767, 65_535), {
    delta: 32_768,
    anomaly: 'rollover',
    next: { total: 32_768, lastRaw: 32_767 },
  });
  assert.equal(applyCounter({ total: 0, lastRaw: 65_535 }, 32_768, 65_535).anomaly, 'reset');
});

test('without rolloverAt every drop is a reset that counts the new value', () => {
  const dropArb = fc
    .record({ prev: fc.maxSafeNat(), raw: fc.maxSafeNat() })
    .filter(({ prev, raw }) => prev !== raw)
    .map(({ prev, raw }) => ({ prev: Math.max(prev, raw), raw: Math.min(prev, raw) }));
  fc.assert(
    fc.property(dropArb, fc.nat(), ({ prev, raw }, total) => {
      const step = applyCounter({ total, lastRaw: prev }, raw, undefined);
      assert.deepEqual(step, {
        delta: raw,
        anomaly: 'reset',
        next: { total: total + raw, lastRaw: raw },
      });
    }),
  );
});

test('a counter above its configured rolloverAt that drops is a reset, never a negative wrap', () => {
  // A device whose counter is wider than the binding says (rolloverAt 9999, PLC counts to 65535).
  const aboveArb = fc
    .record({ rolloverAt: rolloverAtArb, above: fc.maxSafeNat(), drop: fc.nat() })
    .map(({ rolloverAt, above, drop }) => {
      const prev = rolloverAt + 1 + (above % (Number.MAX_SAFE_INTEGER - rolloverAt));
      return { rolloverAt, prev, raw: Math.max(0, prev - 1 - drop) };
    });
  fc.assert(
    fc.property(aboveArb, ({ rolloverAt, prev, raw }) => {
      const step = applyCounter({ total: 0, lastRaw: prev }, raw, rolloverAt);
      assert.equal(step.anomaly, 'reset');
      assert.equal(step.delta, raw);
    }),
  );
});

test('pulse mode counts exactly the rising edges, whatever the level sequence', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(0 as const, 1 as const), { maxLength: 200 }), (levels) => {
      let c: CounterReading = INITIAL_COUNTER;
      let sum = 0;
      for (const level of levels) {
        const step = applyPulse(c, level);
        sum += step.delta;
        c = step.next;
      }
      const edges = levels.filter((l, i) => i > 0 && l === 1 && levels[i - 1] === 0).length;
      return sum === edges && c.total === edges;
    }),
  );
});

test('increment mode adds up exactly the increments', () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 10_000 }), { maxLength: 200 }), (increments) => {
      let c: CounterReading = INITIAL_COUNTER;
      for (const n of increments) c = applyIncrement(c, n).next;
      return c.total === increments.reduce((a, b) => a + b, 0);
    }),
  );
});
