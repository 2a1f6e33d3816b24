/**
 * The KPI cache through the real KpiService on a real SQLite store (issue #11, bench/kpi): a
 * report over closed shifts writes each unit's totals per shift to the store, the next report
 * reads them instead of the buckets and gives the same answer, and whatever changes a cached
 * total (a late event, a reason a person gives, a stop still going on) makes it computed again.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import type { OeeReport } from '../../src/core/kpi/service.ts';
import type { KpiSumQuery } from '../../src/store/index.ts';
import { tempDir } from '../helpers/hub.ts';
import {
  at,
  counts,
  kpiWorld,
  MIN,
  timeline,
  type Count,
  type KpiWorld,
  type Step,
} from '../helpers/kpi.ts';

const tmp = tempDir('mw-kpi-cache-');
after(() => tmp.remove());

const YAML = `
enterprise: { id: acme }
runtime: { microStopMax: 2m }
sites:
  - id: s
    timeZone: UTC
    reasons:
      - { code: CLEAN, name: Cleaning, category: hygiene, planned: true }
    calendar:
      shifts:
        - { name: Early, start: "06:00", end: "14:00", breaks: [{ name: Break, start: "10:00", end: "10:30" }] }
        - { name: Late, start: "14:00", end: "22:00", breaks: [{ name: Break, start: "18:00", end: "18:30" }] }
    areas: [{ id: a, lines: [{ id: l, units: [{ id: u1, idealCycleTime: 1s }, { id: u2, idealCycleTime: 2s }] }] }]
`;
const LINE = 'acme/s/a/l';
const U1 = `${LINE}/u1`;
const U2 = `${LINE}/u2`;
const DAY = { day: '2026-05-04', offset: 'Z' };

/** Commit both units' timelines and counts of 2026-05-04 (UTC); their last steps are now. */
async function history(
  w: KpiWorld,
  steps: Record<typeof U1 | typeof U2, readonly Step[]>,
  pieces: Record<typeof U1 | typeof U2, readonly Count[]>,
): Promise<ReturnType<typeof timeline>> {
  const one = timeline(U1, steps[U1], 2 * MIN, DAY);
  const two = timeline(U2, steps[U2], 2 * MIN, DAY);
  await w.commit(
    [...one.events, ...two.events, ...counts(U1, pieces[U1], DAY), ...counts(U2, pieces[U2], DAY)],
    new Map([
      [U1, one.status],
      [U2, two.status],
    ]),
  );
  return one;
}

test('closed shifts come from the KPI cache; late events, reasons and open stops are computed again', async (t) => {
  const w = await kpiWorld(t, tmp.dir, YAML, at('2026-05-05T03:00Z'));
  // u1 idles from 22:00 (after both shifts); u2 has been down since 21:00, still is.
  const one = await history(
    w,
    {
      [U1]: [
        ['06:00', 'running'],
        ['08:00', 'down'],
        ['08:20', 'running'],
        ['22:00', 'idle'],
      ],
      [U2]: [
        ['06:00', 'running'],
        ['21:00', 'down'],
      ],
    },
    {
      [U1]: [
        ['09:00', 1000],
        ['15:00', 2000, 10],
      ],
      [U2]: [['12:00', 500]],
    },
  );
  // Which units the store sums buckets for (a spy on the real store, not a stand-in).
  const summed: string[][] = [];
  const sumKpi = w.store.sumKpi.bind(w.store);
  w.store.sumKpi = (q: KpiSumQuery) => {
    summed.push([...q.equipmentIds].sort());
    return sumKpi(q);
  };
  const report = () => w.oee(LINE, at('06:00', DAY), at('22:00', DAY), 'shift');
  const good = (r: OeeReport, shift: number, unit: string) =>
    r.groups[shift]!.members.find((m) => m.id === unit)!.totals.goodQuantity;

  const first = await report();
  assert.deepEqual(summed, [[U1, U2]]);
  assert.equal(good(first, 0, U1), 1000);
  assert.equal(good(first, 1, U1), 2000);
  // Rows for u1's two shifts and u2's early one; u2's late shift holds its open stop.
  const rows = () => {
    const db = new Database(w.store.location, { readonly: true });
    try {
      return db.prepare('SELECT equipment_id AS unit, lo FROM kpi_cache_units ORDER BY 1, 2').all();
    } finally {
      db.close();
    }
  };
  // The early shift's range reaches back to 22:00 the day before: the gap before it is read
  // for stops going on at 06:00 (service.ts stopsGoingOn).
  assert.deepEqual(rows(), [
    { unit: U1, lo: at('2026-05-03T22:00Z') },
    { unit: U1, lo: at('14:00', DAY) },
    { unit: U2, lo: at('2026-05-03T22:00Z') },
  ]);

  summed.length = 0;
  const second = await report();
  assert.deepEqual(second, first);
  assert.deepEqual(summed, [[U2]], 'only the shift with the stop going on is summed again');

  // A count that comes late, for 09:30 of the early shift: only u1's early shift is stale.
  await w.commit(counts(U1, [['09:30', 40]], DAY), new Map([[U1, one.status]]));
  summed.length = 0;
  const third = await report();
  assert.deepEqual(summed, [[U1, U2]]);
  assert.equal(good(third, 0, U1), 1040);
  assert.equal(third.groups[0]!.totals.goodQuantity, first.groups[0]!.totals.goodQuantity + 40);
  assert.deepEqual(third.groups[1], first.groups[1]);

  // A person says u1's 08:00 stop was cleaning (planned): its early shift changes, from cache
  // no more, and planned downtime grows by the stop's 20 minutes.
  const [stop] = await w.downtime.list(w.admin, U1, {
    from: at('08:00', DAY),
    to: at('08:01', DAY),
  });
  assert.ok(stop);
  await w.downtime.assign(w.admin, U1, stop.seq, 'CLEAN', 'wiped the filler');
  summed.length = 0;
  const fourth = await report();
  assert.deepEqual(summed, [[U1, U2]]);
  const early = (r: OeeReport) => r.groups[0]!.members.find((m) => m.id === U1)!.totals;
  assert.equal(early(fourth).plannedDownTimeMs, early(third).plannedDownTimeMs + 20 * MIN);

  // Nothing else changed: the fifth report reads every closed shift from the cache again.
  summed.length = 0;
  assert.deepEqual(await report(), fourth);
  assert.deepEqual(summed, [[U2]]);
});

test('a report lists the equipment one level below, every unit or nobody, and sums the same', async (t) => {
  const w = await kpiWorld(t, tmp.dir, YAML, at('2026-05-05T03:00Z'));
  await history(
    w,
    {
      [U1]: [
        ['06:00', 'running'],
        ['22:00', 'idle'],
      ],
      [U2]: [
        ['06:00', 'running'],
        ['12:00', 'down'],
        ['12:30', 'running'],
        ['22:00', 'idle'],
      ],
    },
    { [U1]: [['09:00', 100]], [U2]: [['15:00', 7]] },
  );
  const ask = (equipment: string, members?: 'children' | 'units' | 'none') =>
    w.kpi.oee(w.admin, {
      equipment,
      from: at('06:00', DAY),
      to: at('22:00', DAY),
      groupBy: 'shift',
      ...(members === undefined ? {} : { members }),
    });
  const ids = (r: OeeReport) => [
    r.summary.members.map((m) => m.id),
    ...r.groups.map((g) => g.members.map((m) => m.id)),
  ];
  const byDefault = await ask('acme/s');
  assert.deepEqual(ids(byDefault), [['acme/s/a'], ['acme/s/a'], ['acme/s/a']]);
  const units = await ask('acme/s', 'units');
  assert.deepEqual(ids(units), [
    [U1, U2],
    [U1, U2],
    [U1, U2],
  ]);
  const none = await ask('acme/s', 'none');
  assert.deepEqual(ids(none), [[], [], []]);
  // The same sums whoever is listed, and a member's totals are its units' sums.
  for (const r of [units, none]) {
    assert.deepEqual(r.summary.totals, byDefault.summary.totals);
    assert.deepEqual(
      r.groups.map((g) => g.totals),
      byDefault.groups.map((g) => g.totals),
    );
  }
  assert.equal(byDefault.groups[0]!.members[0]!.totals.goodQuantity, 100);
  assert.equal(units.groups[1]!.members[1]!.totals.goodQuantity, 7);
  assert.equal(units.groups[0]!.members[1]!.totals.unplannedStopMs, 30 * MIN);
  // A line's children are its units: the members of the report before this option.
  assert.deepEqual(ids(await ask(LINE)), [
    [U1, U2],
    [U1, U2],
    [U1, U2],
  ]);
});
