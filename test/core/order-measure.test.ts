/**
 * Attribution of production to an operation (core/orders/measure.ts), as a property: for any
 * counted and consumed events and any run periods, the figures equal a plain sum over the events
 * inside the periods — good only from the counting unit, scrap from every unit below the
 * equipment, consumption per material in exact decimals — and a measurement continued from an
 * earlier one (reading only the events after it) equals one made afresh.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import path from 'node:path';
import fc from 'fast-check';
import { Decimal } from 'decimal.js';
import { Measurer } from '../../src/core/orders/measure.ts';
import type { DomainEvent, RunPeriod } from '../../src/model/index.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { tempDir } from '../helpers/hub.ts';

const LINE = 'acme/p/a/line1';
const UNITS = [`${LINE}/filler`, `${LINE}/packer`, 'acme/p/a/line2/filler'];
const COUNTING = `${LINE}/packer`;
const T0 = 1_800_000_000_000;

const tmp = tempDir('mw-measure-');
after(() => tmp.remove());
let stores = 0;

async function freshStore(): Promise<Store> {
  const store = await openSqliteStore({
    path: path.join(tmp.dir, `s${++stores}.db`),
    quarantineMaxEntries: 10,
    quarantinePayloadBytes: 64,
    synchronous: 'NORMAL',
  });
  await store.migrate();
  return store;
}

const eventArb: fc.Arbitrary<DomainEvent> = fc.oneof(
  fc
    .record({
      unit: fc.constantFrom(...UNITS),
      counter: fc.constantFrom('good' as const, 'scrap' as const),
      delta: fc.integer({ min: 0, max: 50 }),
      ts: fc.integer({ min: 0, max: 10_000 }),
    })
    .map(({ unit, counter, delta, ts }): DomainEvent => ({
      type: 'counted',
      equipmentId: unit,
      ts: T0 + ts,
      data: { counter, delta, raw: 0, total: 0, anomaly: null },
    })),
  fc
    .record({
      unit: fc.constantFrom(...UNITS),
      material: fc.constantFrom('PET', 'CAP'),
      milli: fc.integer({ min: 0, max: 100_000 }),
      ts: fc.integer({ min: 0, max: 10_000 }),
    })
    .map(({ unit, material, milli, ts }): DomainEvent => ({
      type: 'consumed',
      equipmentId: unit,
      ts: T0 + ts,
      data: {
        material,
        quantity: new Decimal(milli).div(1000).toString(),
        uom: 'KGM',
        raw: '0',
        rawUom: 'KGM',
        total: '0',
        anomaly: null,
      },
    })),
);

/** Sorted, non-overlapping periods; the last may be open. */
const periodsArb: fc.Arbitrary<RunPeriod[]> = fc
  .uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 6 })
  .chain((cuts) =>
    fc.boolean().map((open) => {
      const sorted = [...cuts].sort((a, b) => a - b);
      const out: RunPeriod[] = [];
      for (let i = 0; i < sorted.length; i += 2)
        out.push({ from: T0 + sorted[i]!, to: i + 1 < sorted.length ? T0 + sorted[i + 1]! : null });
      if (!open && out.at(-1)!.to === null)
        out[out.length - 1] = { ...out.at(-1)!, to: T0 + 10_001 };
      return out;
    }),
  );

function expected(events: readonly DomainEvent[], periods: readonly RunPeriod[]) {
  const inside = (ts: number) => periods.some((p) => ts >= p.from && (p.to === null || ts < p.to));
  let good = new Decimal(0);
  let scrap = new Decimal(0);
  const used: Record<string, string> = {};
  for (const e of events) {
    if (!e.equipmentId.startsWith(`${LINE}/`) || !inside(e.ts)) continue;
    if (e.type === 'counted' && e.data.counter === 'good' && e.equipmentId === COUNTING)
      good = good.plus(e.data.delta);
    if (e.type === 'counted' && e.data.counter === 'scrap') scrap = scrap.plus(e.data.delta);
    if (e.type === 'consumed')
      used[e.data.material] = new Decimal(used[e.data.material] ?? 0)
        .plus(e.data.quantity)
        .toString();
  }
  return { good: good.toString(), scrap: scrap.toString(), used };
}

function shown(m: Awaited<ReturnType<Measurer['measure']>>) {
  return {
    good: m.good.toString(),
    scrap: m.scrap.toString(),
    used: Object.fromEntries([...m.consumed].map(([k, v]) => [k, v.quantity.toString()])),
  };
}

test('attributed figures = the plain sum inside the periods, continued or afresh', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(eventArb, { maxLength: 40 }),
      fc.array(eventArb, { maxLength: 40 }),
      periodsArb,
      async (first, second, periods) => {
        const store = await freshStore();
        try {
          const commit = (events: DomainEvent[]) =>
            store.commit({ samples: [], events, units: [], quarantine: [] });
          const kept = new Measurer(store);
          await commit(first);
          assert.deepEqual(
            shown(await kept.measure('o/0010', LINE, COUNTING, periods)),
            expected(first, periods),
          );
          await commit(second);
          const all = [...first, ...second];
          const continued = shown(await kept.measure('o/0010', LINE, COUNTING, periods));
          assert.deepEqual(continued, expected(all, periods));
          assert.deepEqual(
            shown(await new Measurer(store).measure('o/0010', LINE, COUNTING, periods)),
            continued,
          );
          // Other periods (a hold closed one): measured afresh, not continued from the old ones.
          const closed = periods.map((p) => ({ from: p.from, to: p.to ?? T0 + 5_000 }));
          if (closed.every((p) => p.to >= p.from))
            assert.deepEqual(
              shown(await kept.measure('o/0010', LINE, COUNTING, closed)),
              expected(all, closed),
            );
        } finally {
          await store.close();
        }
      },
    ),
    { numRuns: 60 },
  );
});
