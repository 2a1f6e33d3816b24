/**
 * The worked example of docs/kpi.md ("Worked example"), fed as events through the real
 * KpiService and OrderService on a real SQLite store: every figure the page computes by hand
 * is what the service answers, so the page and the code cannot drift apart.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { downtimePareto } from '../../src/core/kpi/pareto.ts';
import { tempDir } from '../helpers/hub.ts';
import { at, importOrder, kpiWorld, MIN, orderService, type Step } from '../helpers/kpi.ts';

const tmp = tempDir('mw-kpi-docs-');
after(() => tmp.remove());

const FILLER = 'acme/plant1/packaging/line1/filler';
const DAY = { day: '2026-11-26', offset: '+01:00' }; // Thursday, CET

const YAML = `
enterprise: { id: acme }
materials:
  - { id: WATER-05L, uom: H87, idealCycleTime: 1.5s }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    calendar:
      name: 3-shift
      shifts:
        - { name: Early, start: '06:00', end: '14:00', days: [1, 2, 3, 4, 5], breaks: [{ name: Break, start: '10:00', end: '10:30' }] }
        - { name: Late, start: '14:00', end: '22:00', days: [1, 2, 3, 4, 5], breaks: [{ name: Break, start: '18:00', end: '18:30' }] }
        - { name: Night, start: '22:00', end: '06:00', days: [7, 1, 2, 3, 4], breaks: [{ name: Meal, start: '02:00', end: '02:30' }] }
    reasons:
      - { code: JAM, name: Bottle jam, planned: false, category: mechanical, plcCodes: ['17'] }
      - { code: MOTOR, name: Drive motor fault, planned: false, category: electrical, plcCodes: ['23'] }
      - { code: CHANGEOVER, name: Product changeover, planned: true, category: setup, plcCodes: ['40'] }
      - { code: UPSTREAM, name: Starved by upstream, planned: false, category: line, plcCodes: ['upstream-stopped'] }
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler, idealCycleTime: 1.2s, microStopMax: 2m }]
`;

/** Eight micro-stops of 30 s (JAM) in a running period starting at `hh`:`mm`, 10 min apart. */
function runningWithMicroStops(hh: number, mm: number): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < 8; i++) {
    const t = hh * 60 + mm + 5 + i * 10;
    const hm = `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
    steps.push([`${hm}:00`, 'down', '17'], [`${hm}:30`, 'running']);
  }
  return steps;
}

test('the worked example of docs/kpi.md is what the service computes', async (t) => {
  const doc = readFileSync(new URL('../../docs/kpi.md', import.meta.url), 'utf8');
  assert.match(doc, /\*\*OEE\*\* = 0\.9186 × 0\.9304 × 0\.9796 = \*\*0\.8372\*\*/);
  const w = await kpiWorld(t, tmp.dir, YAML, at('05:50', DAY));
  const orders = orderService(w);
  await importOrder(orders, {
    externalId: 'O-7',
    material: 'WATER-05L',
    quantity: '14000',
    equipment: FILLER,
  });
  await orders.act(w.admin, 'O-7', 'dispatch');
  w.clock.now = at('06:00', DAY);
  await orders.act(w.admin, 'O-7', 'start');
  // The table of the page: local times of 2026-11-26.
  await w.history(
    FILLER,
    [
      ['06:00', 'changeover', '40'],
      ['06:20', 'running'],
      ...runningWithMicroStops(6, 20),
      ['08:00', 'down', '17'],
      ['08:15', 'running'],
      ...runningWithMicroStops(8, 15),
      ['10:00', 'idle'],
      ['10:30', 'running'],
      ...runningWithMicroStops(10, 30),
      ['12:00', 'starved', 'upstream-stopped'],
      ['12:10', 'running'],
      ['13:00', 'down', '23'],
      ['13:10', 'running'],
      ['14:00', 'idle'],
    ],
    [
      ['07:00', 7200, 100],
      ['11:00', 7200, 200],
    ],
    DAY,
  );
  w.clock.now = at('14:00', DAY);
  await orders.act(w.admin, 'O-7', 'complete');
  w.clock.now = at('20:00', DAY);

  const report = await w.oee(FILLER, at('06:00', DAY), at('14:00', DAY), 'shift');
  assert.equal(report.groups.length, 1);
  const g = report.groups[0]!;
  assert.equal(g.key, '2026-11-26/Early');
  const { stateMs, unplannedStateMs, outsidePlannedTime, ...totals } = g.totals;
  void unplannedStateMs;
  // The page's JSON of the group (steps 1–13), field by field.
  assert.deepEqual(totals, {
    calendarTimeMs: 480 * MIN,
    plannedOperationTimeMs: 450 * MIN,
    plannedDownTimeMs: 20 * MIN,
    plannedBusyTimeMs: 430 * MIN,
    actualProductionTimeMs: 395 * MIN,
    runningMs: 383 * MIN,
    microStopMs: 12 * MIN,
    microStops: 24,
    unplannedStopMs: 35 * MIN,
    changeoverMs: 20 * MIN,
    changeovers: 1,
    failures: 2,
    failureDownTimeMs: 25 * MIN,
    idealProductionTimeMs: 14_700 * 1500,
    piecesWithoutIdealTime: 0,
    producedQuantity: 14_700,
    goodQuantity: 14_400,
    scrapQuantity: 300,
  });
  assert.deepEqual(stateMs, {
    running: 383 * MIN,
    idle: 0,
    down: 37 * MIN,
    'planned-stop': 0,
    changeover: 20 * MIN,
    starved: 10 * MIN,
    blocked: 0,
    unknown: 0,
    'no-data': 0,
  });
  assert.deepEqual(outsidePlannedTime, {
    runningMs: 0,
    producedQuantity: 0,
    goodQuantity: 0,
    scrapQuantity: 0,
  });
  const r4 = (x: number | null) => (x === null ? null : Math.round(x * 10_000) / 10_000);
  assert.deepEqual(
    Object.fromEntries(Object.entries(g.kpis).map(([k, v]) => [k, k.endsWith('Ms') ? v : r4(v)])),
    {
      availability: 0.9186,
      performance: 0.9304,
      quality: 0.9796,
      oee: 0.8372,
      teep: 0.75,
      yield: 0.9796,
      firstPassYield: 0.9796,
      scrapRatio: 0.0204,
      mtbfMs: 11_850_000,
      mttrMs: 750_000,
    },
  );
  assert.deepEqual(g.losses, {
    breakdownsMs: 25 * MIN,
    setupMs: 0,
    otherStopsMs: 10 * MIN,
    smallStopsMs: 12 * MIN,
    reducedSpeedMs: 15.5 * MIN,
    rejectsMs: 7.5 * MIN,
  });
  // Step 10: over the whole day (once it is over) TEEP is 21,600 s / 86,400 s.
  w.clock.now = at('2026-11-27T06:00+01:00');
  const day = await w.oee(FILLER, at('00:00', DAY), at('23:59', DAY) + MIN, 'day');
  assert.equal(r4(day.groups[0]!.kpis.teep), 0.25);
  // The Pareto of the page: JAM 27 min (25 stops, 24 of them micro), CHANGEOVER 20, UPSTREAM
  // 10, MOTOR 10; 67 min in 28 stops.
  const pareto = await downtimePareto(
    w.kpi,
    w.downtime,
    w.admin,
    { equipment: FILLER, from: at('06:00', DAY), to: at('14:00', DAY), by: 'reason' },
    w.clock.now,
  );
  assert.deepEqual(
    [pareto.totalMs, pareto.stops, pareto.rows.map((r) => [r.key, r.ms, r.stops, r.microStops])],
    [
      67 * MIN,
      28,
      [
        ['JAM', 27 * MIN, 25, 24],
        ['CHANGEOVER', 20 * MIN, 1, 0],
        ['MOTOR', 10 * MIN, 1, 0],
        ['UPSTREAM', 10 * MIN, 1, 0],
      ],
    ],
  );
});
