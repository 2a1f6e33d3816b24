/**
 * The KPI bucket part of the Store contract: run unchanged on SQLite and PostgreSQL by
 * sqlite.test.ts and postgres.test.ts. Figures are checked against a plain sum over the events.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { DomainEvent, EquipmentState, StateChangedEvent } from '../../src/model/index.ts';
import type { Store } from '../../src/store/index.ts';
import type { NewStoreTarget } from './contract.ts';
import { batch } from './fixtures.ts';

/** 2026-03-02T05:00Z: on a whole hour. */
const T0 = Date.UTC(2026, 2, 2, 5, 0, 0);
const MIN = 60_000;
const A = 'acme/plant1/packaging/line1/filler';
const B = 'acme/plant1/packaging/line1/capper';

function change(
  equipmentId: string,
  ts: number,
  previousState: EquipmentState,
  previousDurationMs: number,
  over: Partial<StateChangedEvent['data']> = {},
): StateChangedEvent {
  return {
    type: 'state.changed',
    equipmentId,
    ts,
    data: {
      state: 'running',
      reasonCode: null,
      previousState,
      previousReasonCode: null,
      previousDurationMs,
      previousMicroStop: false,
      ...over,
    },
  };
}

const good = (equipmentId: string, ts: number, delta: number): DomainEvent => ({
  type: 'counted',
  equipmentId,
  ts,
  data: { counter: 'good', delta, raw: 0, total: 0, anomaly: null },
});

export async function kpiContract(t: TestContext, newTarget: NewStoreTarget): Promise<void> {
  async function fresh(t: TestContext): Promise<Store> {
    const store = await (await newTarget(t)).open();
    await store.migrate();
    return store;
  }

  // A: running 05:00–06:30:30, then down (jam, 90.5 min … a long stop) to 08:01, a micro-stop
  // of 20 s, then running; B counts. The ranges cut hours and minutes both ways.
  const history: DomainEvent[][] = [
    [change(A, T0 + 90 * MIN + 30_000, 'running', 90 * MIN + 30_000, { state: 'down' })],
    [good(A, T0 + 10 * MIN + 5, 3), good(A, T0 + 61 * MIN, 2), good(B, T0 + 61 * MIN, 7)],
    [
      change(A, T0 + 181 * MIN, 'down', 90 * MIN + 30_000, { previousReasonCode: 'JAM' }),
      change(A, T0 + 181 * MIN + 20_000, 'down', 20_000, { previousMicroStop: true }),
    ],
  ];

  await t.test('commits keep per-minute and per-hour sums that any range adds up', async (t) => {
    const store = await fresh(t);
    for (const events of history) await store.commit(batch({ events }));
    const ranges = [
      { from: T0, to: T0 + 240 * MIN }, // whole hours
      { from: T0 + 30 * MIN, to: T0 + 125 * MIN }, // ragged at both ends
      { from: T0 + 91 * MIN, to: T0 + 92 * MIN }, // one minute
      { from: T0 + 500 * MIN, to: T0 + 600 * MIN }, // nothing
    ];
    const sums = await store.sumKpi({ equipmentIds: [A, B], ranges });
    const of = (id: string, r: number) => sums.find((s) => s.equipmentId === id && s.range === r);
    const all = of(A, 0)!;
    assert.equal(all.figures.ms.running, 90 * MIN + 30_000);
    assert.equal(all.figures.ms.down, 90 * MIN + 30_000 + 20_000);
    assert.equal(all.figures.n.down, 2);
    assert.equal(all.figures.microMs, 20_000);
    assert.equal(all.figures.microStops, 1);
    assert.equal(all.figures.good, 5);
    assert.deepEqual(all.reasons, [
      { state: 'down', reasonCode: 'JAM', ms: 90 * MIN + 30_000, n: 1, microMs: 0, microStops: 0 },
    ]);
    const ragged = of(A, 1)!;
    assert.equal(ragged.figures.ms.running, 60 * MIN + 30_000);
    assert.equal(ragged.figures.ms.down, 34 * MIN + 30_000);
    // The stop began in the range: counted once; the micro-stop is outside it.
    assert.equal(ragged.figures.n.down, 1);
    assert.equal(ragged.figures.good, 2);
    assert.equal(ragged.reasons[0]!.ms, 34 * MIN + 30_000);
    assert.equal(of(A, 2)!.figures.ms.down, MIN);
    assert.equal(of(A, 2)!.figures.n.down, 0);
    assert.equal(of(B, 0)!.figures.good, 7);
    assert.equal(of(B, 0)!.figures.ms.running, 0);
    assert.equal(of(A, 3), undefined);
    await assert.rejects(
      store.sumKpi({ equipmentIds: [A], ranges: [{ from: T0 + 1, to: T0 + MIN }] }),
      /not on whole minutes/,
    );
  });

  await t.test(
    'ranges of one key are summed, quarters equal their minutes, reasons as asked',
    async (t) => {
      const store = await fresh(t);
      for (const events of history) await store.commit(batch({ events }));
      // Key 7: a whole quarter and a range of minutes, a quarter and minutes again.
      const parts = [
        { from: T0 + 30 * MIN, to: T0 + 45 * MIN },
        { from: T0 + 100 * MIN, to: T0 + 125 * MIN },
      ];
      const [keyed] = await store.sumKpi({
        equipmentIds: [A],
        ranges: parts.map((p) => ({ ...p, key: 7 })),
      });
      assert.equal(keyed!.range, 7);
      // The same time minute by minute, added here.
      const minutes = parts.flatMap((p) =>
        Array.from({ length: (p.to - p.from) / MIN }, (_, i) => ({
          from: p.from + i * MIN,
          to: p.from + (i + 1) * MIN,
        })),
      );
      const one = await store.sumKpi({ equipmentIds: [A], ranges: minutes });
      const add = (f: (s: (typeof one)[number]) => number) => one.reduce((x, s) => x + f(s), 0);
      assert.equal(
        keyed!.figures.ms.running,
        add((s) => s.figures.ms.running),
      );
      assert.equal(
        keyed!.figures.ms.down,
        add((s) => s.figures.ms.down),
      );
      assert.equal(keyed!.figures.ms.running, 15 * MIN);
      assert.equal(keyed!.figures.ms.down, 25 * MIN);
      assert.equal(keyed!.figures.n.down, 0);
      assert.equal(keyed!.reasons[0]!.ms, 25 * MIN);
      // Reasons: none asked, the pair asked, a pair with no figures.
      const ask = async (reasons: { state: string; reasonCode: string }[]) =>
        (
          await store.sumKpi({
            equipmentIds: [A],
            ranges: [{ from: T0, to: T0 + 240 * MIN }],
            reasons,
          })
        )[0]!.reasons;
      assert.deepEqual(await ask([]), []);
      assert.deepEqual(
        (await ask([{ state: 'down', reasonCode: 'JAM' }])).map((r) => [r.reasonCode, r.ms]),
        [['JAM', 90 * MIN + 30_000]],
      );
      assert.deepEqual(await ask([{ state: 'idle', reasonCode: 'JAM' }]), []);
    },
  );

  await t.test('a rebuild from the journal gives the same buckets', async (t) => {
    const store = await fresh(t);
    for (const events of history) await store.commit(batch({ events }));
    const ranges = [
      { from: T0, to: T0 + 240 * MIN },
      { from: T0 + 30 * MIN, to: T0 + 125 * MIN },
    ];
    const before = await store.sumKpi({ equipmentIds: [A, B], ranges });
    const progress: number[] = [];
    assert.equal(await store.rebuildKpi((n) => progress.push(n)), 6);
    assert.deepEqual(progress, [6]);
    const key = (s: { equipmentId: string; range: number }) => `${s.equipmentId}#${s.range}`;
    const sorted = (x: typeof before) => [...x].sort((a, b) => (key(a) < key(b) ? -1 : 1));
    assert.deepEqual(sorted(await store.sumKpi({ equipmentIds: [A, B], ranges })), sorted(before));
    // Deltas added by hand (a bulk load) sum like committed ones.
    await store.addKpiDeltas([
      {
        equipmentId: B,
        minute: T0,
        figures: { ...before[0]!.figures, good: 4 },
        reasons: [],
      },
    ]);
    const [b] = await store.sumKpi({ equipmentIds: [B], ranges: [{ from: T0, to: T0 + MIN }] });
    assert.equal(b!.figures.good, 4);
  });

  await t.test(
    'the KPI cache gives back what was written until a delta of a unit in its range drops it',
    async (t) => {
      const store = await fresh(t);
      for (const events of history) await store.commit(batch({ events }));
      // Lengths that are and are not a multiple of three numbers (the base64 padding).
      const body = (n: number, seed: number) =>
        Float64Array.from({ length: n }, (_, i) => seed * 1000 + i + 0.25);
      const early = {
        key: 'early',
        lo: T0,
        hi: T0 + 60 * MIN,
        units: [
          { equipmentId: A, fp: 'f1', body: body(40, 1) },
          { equipmentId: B, fp: 'f3', body: body(40, 3) },
        ],
      };
      const late = {
        key: 'late',
        lo: T0 + 60 * MIN,
        hi: T0 + 120 * MIN,
        units: [{ equipmentId: A, fp: 'f2', body: body(7, 2) }],
      };
      assert.equal(await store.writeKpiCache(store.kpiCacheToken(), [early, late]), 3);
      const read = async () =>
        (await store.readKpiCache(['late', 'never', 'early'])).map((row) =>
          row === undefined
            ? null
            : {
                key: row.key,
                lo: row.lo,
                hi: row.hi,
                units: row.units.map((u, i) => [
                  u,
                  row.fps[i],
                  [...row.body.subarray(row.offsets[i], row.offsets[i]! + row.width)],
                ]),
              },
        );
      const plain = (row: typeof early) => ({
        ...row,
        units: row.units.map((u) => [u.equipmentId, u.fp, [...u.body]]),
      });
      assert.deepEqual(await read(), [plain(late), null, plain(early)]);
      // A count at 00:30 of B's first hour drops B from the early row only; one after every
      // row's range drops nothing.
      await store.commit(
        batch({ events: [good(B, T0 + 30 * MIN + 5, 1), good(A, T0 + 200 * MIN, 1)] }),
      );
      assert.deepEqual(await read(), [
        plain(late),
        null,
        plain({ ...early, units: [early.units[0]!] }),
      ]);
      // A write whose token is older than a delta in its range leaves that unit out.
      const old = store.kpiCacheToken();
      await store.commit(batch({ events: [good(A, T0 + 70 * MIN, 1)] }));
      assert.equal(
        await store.writeKpiCache(old, [
          { ...late, units: [{ equipmentId: A, fp: 'stale', body: body(7, 9) }] },
          {
            ...early,
            units: [
              { equipmentId: A, fp: 'fresh', body: body(40, 4) },
              { equipmentId: B, fp: 'fresh', body: body(40, 5) },
            ],
          },
        ]),
        2,
      );
      const after = await read();
      assert.deepEqual(after[0]!.units, [], 'the late row lost its only unit');
      assert.deepEqual(
        after[2]!.units.map((u) => [u[0], u[1]]),
        [
          [A, 'fresh'],
          [B, 'fresh'],
        ],
      );
      // A rebuild clears the cache.
      await store.rebuildKpi();
      assert.deepEqual(await read(), [null, null, null]);
      store.releaseKpiCache(store.kpiCacheToken());
    },
  );
}
