/**
 * The OEE page (issue #11) in a real browser (Debian's chromium through playwright-core) against
 * a real hub with a site shift calendar, fed states and counts over MQTT like a PLC: the picker
 * lists the lines and their units; A × P × Q = OEE, the members' ratios, the six big losses and
 * the trend are what GET /api/v1/kpi/oee answers for the query the page made; the downtime Pareto
 * puts the reason with the most downtime first; the CSV link downloads the same query as CSV; a
 * ratio the hub cannot compute shows as "—" with its reason. Choosing another range or grouping
 * updates the charts in place. Without chart.js (not installed) the numbers and tables still show.
 *
 * With MILLWRIGHT_SCREENSHOTS=1 it also writes docs/images/oee.png (and only then).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, logInThroughForm } from '../helpers/browser.ts';
import {
  adminHeaders,
  call,
  startTestHub,
  testConfig,
  TEST_ADMIN,
  type TestHub,
} from '../helpers/hub.ts';
import { chromiumSkip, waitFor } from '../helpers/services.ts';

const skip = chromiumSkip();
const SCREENSHOT =
  process.env.MILLWRIGHT_SCREENSHOTS === '1'
    ? fileURLToPath(new URL('../../docs/images/oee.png', import.meta.url))
    : null;

const LINE = 'acme/plant1/packaging/line1';
const LINE2 = 'acme/plant1/packaging/line2';
const WRAPPER = `${LINE2}/wrapper`;

const YAML = `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    reasons:
      - { code: JAM, name: Bottle jam, category: mechanical, plcCodes: ['17'] }
      - { code: ELEC, name: Electrical fault, category: electrical, plcCodes: ['23'] }
    calendar:
      name: 3-shift
      shifts:
        - name: Early
          start: '06:00'
          end: '14:00'
          breaks: [{ name: Lunch, start: '10:00', end: '10:30' }]
        - { name: Late, start: '14:00', end: '22:00' }
        - { name: Night, start: '22:00', end: '06:00' }
    areas:
      - id: packaging
        lines:
          - id: line1
            units:
              - { id: filler, idealCycleTime: 500ms }
              - { id: capper, idealCycleTime: 500ms }
              - { id: labeller, idealCycleTime: 500ms }
          - id: line2
            units: [{ id: wrapper }]
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    topic: 'plc/{line}/{unit}/state'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: state
    payload: { valuePath: s, reasonPath: r, timestampPath: ts }
  - connection: plc
    topic: 'plc/{line}/{unit}/good'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: counter.good
    counterMode: increment
    payload: { valuePath: n, timestampPath: ts }
  - connection: plc
    topic: 'plc/{line}/{unit}/scrap'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: counter.scrap
    counterMode: increment
    payload: { valuePath: n, timestampPath: ts }
`;

/** The day fed: whole minutes from 23 h 50 min ago until now, inside the last 24 hours. */
const DAY_MIN = 24 * 60 - 10;
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - DAY_MIN * 60_000;
const minute = (m: number) => T0 + m * 60_000;

/**
 * What each unit did, minute by minute: [minute, state, PLC reason code]. JAM (17) stops line1
 * 41 min in all, ELEC (23) 5 min; the labeller stops 3 min without a code, the capper idles
 * 30 min and the filler changes over 20 min: JAM has the most downtime of line1.
 */
const STATES: Record<string, [number, string, string | null][]> = {
  'line1/filler': [
    [0, 'running', null],
    [120, 'down', '17'],
    [135, 'running', null],
    [400, 'changeover', null],
    [420, 'running', null],
    [700, 'down', '23'],
    [705, 'running', null],
    [1000, 'down', '17'],
    [1012, 'running', null],
  ],
  'line1/capper': [
    [0, 'running', null],
    [300, 'down', '17'],
    [308, 'running', null],
    [800, 'idle', null],
    [830, 'running', null],
  ],
  'line1/labeller': [
    [0, 'running', null],
    [900, 'down', null],
    [903, 'running', null],
    [1200, 'down', '17'],
    [1206, 'running', null],
  ],
  'line2/wrapper': [
    [0, 'running', null],
    [500, 'down', '23'],
    [506, 'running', null],
  ],
};
/** Pieces counted every 10 minutes, by every unit: good and scrap. */
const COUNT_EVERY_MIN = 10;
const COUNTS = Math.floor(DAY_MIN / COUNT_EVERY_MIN);
const GOOD = 900;
const SCRAP = 12;

/** A ratio as the page writes it. */
const pct = (r: number | null) => (r === null ? '—' : `${(r * 100).toFixed(1)}%`);
/** Minutes with one decimal, percent with one decimal: the charts' values. */
const chartMinutes = (ms: number | null) => (ms === null ? null : Math.round(ms / 6000) / 10);
const chartPct = (r: number | null) => (r === null ? null : Math.round(r * 1000) / 10);

const KPIS = ['availability', 'performance', 'quality', 'oee'] as const;
const LOSSES = [
  'breakdownsMs',
  'setupMs',
  'otherStopsMs',
  'smallStopsMs',
  'reducedSpeedMs',
  'rejectsMs',
] as const;

/** The totals the test reads (`outsidePlannedTime`: what the hub adds to the contract). */
interface Totals {
  goodQuantity: number;
  outsidePlannedTime?: { goodQuantity: number };
}
type Kpis = Record<(typeof KPIS)[number], number | null>;
interface Group {
  key: string;
  shift: { name: string; day: string } | null;
  totals: Totals;
  kpis: Kpis;
  losses: Record<(typeof LOSSES)[number], number | null>;
  members: { id: string; name: string; totals: Totals; kpis: Kpis }[];
}
interface OeeAnswer {
  equipment: string;
  groupBy: string;
  calendar: { site: string; timeZone: string; name: string };
  units: string[];
  summary: Group;
  groups: Group[];
}
interface DowntimeAnswer {
  totalMs: number;
  rows: { key: string; name: string; ms: number; cumulativeShare: number }[];
}

/** What the page shows, read in one go (a refresh between two reads could mix two answers). */
interface Shown {
  csv: string;
  title: string;
  calendar: string;
  kpis: Record<string, { text: string; title: string }>;
  members: { id: string; cells: string[]; titles: string[] }[];
  pareto: { key: string; cells: string[] }[];
  charts: Record<string, { id: string; labels: string[]; data: (number | null)[][] } | null>;
}

interface ChartStatic {
  getChart(
    c: HTMLCanvasElement,
  ):
    { id: string; data: { labels: string[]; datasets: { data: (number | null)[] }[] } } | undefined;
}

function readPage(page: Page): Promise<Shown> {
  // No named functions inside: tsx would wrap them in a helper (__name) the page does not have.
  return page.evaluate(() => {
    const chartJs = (window as unknown as { Chart?: ChartStatic }).Chart;
    return {
      csv: document.getElementById('oee-csv')!.getAttribute('href') ?? '',
      title: document.getElementById('oee-title')!.textContent ?? '',
      calendar: document.getElementById('oee-calendar')!.textContent ?? '',
      kpis: Object.fromEntries(
        [...document.querySelectorAll<HTMLElement>('#oee-summary .kpi')].map((t) => {
          const v = t.querySelector<HTMLElement>('.value')!;
          return [t.dataset.kpi!, { text: v.textContent ?? '', title: v.title }];
        }),
      ),
      members: [...document.querySelectorAll<HTMLElement>('#oee-member-rows tr')].map((tr) => ({
        id: tr.dataset.member!,
        cells: [...tr.children].map((td) => td.textContent ?? ''),
        titles: [...tr.children].map((td) => (td as HTMLElement).title),
      })),
      pareto: [...document.querySelectorAll<HTMLElement>('#oee-pareto-rows tr')].map((tr) => ({
        key: tr.dataset.reason!,
        cells: [...tr.children].map((td) => td.textContent ?? ''),
      })),
      charts: Object.fromEntries(
        ['losses', 'trend', 'pareto'].map((name) => {
          const c = chartJs?.getChart(
            document.getElementById(`oee-${name}-chart`) as HTMLCanvasElement,
          );
          return [
            name,
            c === undefined
              ? null
              : { id: c.id, labels: c.data.labels, data: c.data.datasets.map((d) => d.data) },
          ];
        }),
      ),
    };
  });
}

/** The page keeps to its Content-Security-Policy and throws nothing. */
function faultsOf(page: Page): string[] {
  const faults: string[] = [];
  page.on('pageerror', (err) => faults.push(err.message));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) faults.push(m.text());
  });
  return faults;
}

describe('the OEE page in Chromium', { skip }, () => {
  let hub: TestHub;
  let browser: Browser;
  let device: MqttClient;
  let admin: { authorization: string };

  /** The API's answer to the query behind a CSV link of the page (without format=csv). */
  async function apiFor<T>(href: string, route: string): Promise<T> {
    const url = new URL(href, hub.url!);
    assert.equal(url.pathname, route);
    assert.equal(url.searchParams.get('format'), 'csv');
    url.searchParams.delete('format');
    const res = await call(hub, 'GET', `${url.pathname}${url.search}`, { headers: admin });
    assert.equal(res.status, 200, res.text);
    return res.body as T;
  }

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    admin = await adminHeaders(hub);
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
    // Each unit's readings in time order (a device's own order), the units side by side.
    await Promise.all(
      Object.entries(STATES).map(async ([unit, steps]) => {
        const send = (meaning: string, body: Record<string, unknown>) =>
          device.publishAsync(`plc/${unit}/${meaning}`, JSON.stringify(body), { qos: 1 });
        for (const [m, s, r] of steps) await send('state', { s, r, ts: minute(m) });
        for (let k = 1; k <= COUNTS; k++) {
          await send('good', { n: GOOD, ts: minute(k * COUNT_EVERY_MIN) });
          await send('scrap', { n: SCRAP, ts: minute(k * COUNT_EVERY_MIN) });
        }
      }),
    );
    // Every reading is in the journal before a page asks: all the pieces counted, in planned
    // time or out of it (a break), and the stops of the JAM reason.
    const counted = COUNTS * GOOD;
    await waitFor(
      async () => {
        const q = `equipment=${encodeURIComponent(LINE)}`;
        const [oee, stops] = await Promise.all([
          call(hub, 'GET', `/api/v1/kpi/oee?${q}`, { headers: admin }),
          call(hub, 'GET', `/api/v1/kpi/downtime?${q}`, { headers: admin }),
        ]);
        const members = (oee.body as OeeAnswer | null)?.summary?.members ?? [];
        const good = (t: Totals) => t.goodQuantity + (t.outsidePlannedTime?.goodQuantity ?? 0);
        return (
          members.length === 3 &&
          members.every((m) => good(m.totals) === counted) &&
          (stops.body as DowntimeAnswer | null)?.rows?.some((r) => r.key === 'JAM')
        );
      },
      { what: 'the line’s counts and stops in the KPI API' },
    );
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await device?.endAsync();
    await hub?.dispose();
  });

  it('shows A × P × Q = OEE, the losses, the trend and the Pareto as the API computes them', async () => {
    // A browser in another zone than the site's: the page states the site's calendar and zone.
    const context = await browser.newContext({
      timezoneId: 'America/Sao_Paulo',
      locale: 'en-GB',
      viewport: { width: 1360, height: 900 },
      acceptDownloads: true,
    });
    const page = await context.newPage();
    const faults = faultsOf(page);
    try {
      await page.goto(`${hub.url!}/#oee`);
      await logInThroughForm(page, TEST_ADMIN.username, TEST_ADMIN.password, '#oee-page');
      assert.equal(await page.locator('#nav a[aria-current=page]').innerText(), 'OEE');
      await page.waitForFunction(
        () => Number(document.getElementById('oee-page')!.dataset.refreshes) >= 1,
      );

      // The picker: every line, then its units; the first line is shown by default.
      const options = await page
        .locator('#oee-equipment option')
        .evaluateAll((os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent]));
      assert.deepEqual(options, [
        [LINE, 'line1 (whole line)'],
        [`${LINE}/filler`, 'filler'],
        [`${LINE}/capper`, 'capper'],
        [`${LINE}/labeller`, 'labeller'],
        [LINE2, 'line2 (whole line)'],
        [WRAPPER, 'wrapper'],
      ]);
      assert.equal(await page.locator('#oee-equipment').inputValue(), LINE);

      // The numbers are the API's for the very query the page made (its CSV link's).
      const shown = await readPage(page);
      const csvUrl = new URL(shown.csv, hub.url!);
      assert.equal(csvUrl.searchParams.get('equipment'), LINE);
      assert.equal(csvUrl.searchParams.get('groupBy'), 'shift');
      const from = Date.parse(csvUrl.searchParams.get('from')!);
      const to = Date.parse(csvUrl.searchParams.get('to')!);
      assert.equal(to - from, 24 * 3_600_000, 'the last 24 hours by default');
      assert.equal(to % 60_000, 0, 'whole minutes');
      const api = await apiFor<OeeAnswer>(shown.csv, '/api/v1/kpi/oee');
      assert.notEqual(api.summary.kpis.oee, null, 'a line of units with ideal cycle times');
      for (const k of KPIS) assert.equal(shown.kpis[k]!.text, pct(api.summary.kpis[k]), k);
      assert.match(shown.title, /line1/);
      assert.match(shown.calendar, /Calendar “3-shift” of acme\/plant1, in Europe\/Berlin/);
      assert.deepEqual(api.calendar, {
        site: 'acme/plant1',
        timeZone: 'Europe/Berlin',
        name: '3-shift',
      });

      // The units summed: each with its own ratios, in the API's order.
      assert.deepEqual(
        shown.members.map((m) => [m.id, ...m.cells.slice(0, 5)]),
        api.summary.members.map((m) => [m.id, m.name, ...KPIS.map((k) => pct(m.kpis[k]))]),
      );
      assert.deepEqual(
        shown.members.map((m) => m.id),
        [`${LINE}/filler`, `${LINE}/capper`, `${LINE}/labeller`],
      );

      // The six big losses in minutes, and the trend per shift: the API's numbers, charted.
      assert.deepEqual(shown.charts.losses?.data, [
        LOSSES.map((l) => chartMinutes(api.summary.losses[l])),
      ]);
      assert.ok(api.groups.length >= 1);
      assert.equal(shown.charts.trend?.labels.length, api.groups.length);
      assert.deepEqual(
        shown.charts.trend?.data,
        KPIS.map((k) => api.groups.map((g) => chartPct(g.kpis[k]))),
      );
      assert.ok(
        shown.charts.trend!.labels.every((l, i) => l.endsWith(api.groups[i]!.shift!.name)),
        'a shift’s name on the axis',
      );

      // The Pareto: the reason with the most downtime first, then the API's order.
      const dtHref = await page.locator('#oee-pareto-csv').getAttribute('href');
      const downtime = await apiFor<DowntimeAnswer>(dtHref!, '/api/v1/kpi/downtime');
      assert.equal(
        new URL(dtHref!, hub.url!).searchParams.get('from'),
        csvUrl.searchParams.get('from'),
      );
      const most = [...downtime.rows].sort((a, b) => b.ms - a.ms)[0]!;
      assert.equal(most.key, 'JAM');
      assert.deepEqual(
        shown.pareto.map((r) => r.key),
        downtime.rows.map((r) => r.key),
      );
      assert.deepEqual(
        shown.pareto.map((r, i) => r.cells[0]!.startsWith(downtime.rows[i]!.name)),
        downtime.rows.map(() => true),
        'each reason by its name',
      );
      assert.equal(shown.pareto[0]!.key, 'JAM');
      assert.match(shown.pareto[0]!.cells[0]!, /^Bottle jam \(JAM\)/);
      assert.equal(shown.charts.pareto?.labels[0], 'Bottle jam');
      assert.deepEqual(shown.charts.pareto?.data, [
        downtime.rows.map((r) => chartMinutes(r.ms)),
        downtime.rows.map((r) => chartPct(r.cumulativeShare)),
      ]);
      assert.equal(shown.charts.pareto?.data[1]?.at(-1), 100);

      // The CSV link downloads the same query as text/csv.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#oee-csv')]);
      assert.match(download.suggestedFilename(), /\.csv$/);
      const file = readFileSync(await download.path());
      assert.match(file.toString('utf8').split(/\r?\n/)[0]!, /^group,from,to/);
      const asCsv = await context.request.get(new URL(shown.csv, hub.url!).href);
      assert.equal(asCsv.status(), 200);
      assert.match(asCsv.headers()['content-type'] ?? '', /^text\/csv/);

      if (SCREENSHOT !== null) {
        mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }

      // Another range and grouping: the same charts, their data updated (not made again).
      const ids = Object.fromEntries(
        Object.entries(shown.charts).map(([name, c]) => [name, c?.id]),
      );
      await page.selectOption('#oee-range', '7d');
      await page.selectOption('#oee-group', 'day');
      await page.waitForFunction(() => {
        const u = new URLSearchParams(
          document.getElementById('oee-csv')!.getAttribute('href')!.split('?')[1],
        );
        return (
          u.get('groupBy') === 'day' &&
          Date.parse(u.get('to')!) - Date.parse(u.get('from')!) === 7 * 86_400_000
        );
      });
      const byDay = await readPage(page);
      const apiByDay = await apiFor<OeeAnswer>(byDay.csv, '/api/v1/kpi/oee');
      assert.equal(apiByDay.groupBy, 'day');
      assert.deepEqual(
        byDay.charts.trend?.labels,
        apiByDay.groups.map((g) => g.key),
      );
      for (const k of KPIS) assert.equal(byDay.kpis[k]!.text, pct(apiByDay.summary.kpis[k]), k);
      assert.deepEqual(
        Object.fromEntries(Object.entries(byDay.charts).map(([name, c]) => [name, c?.id])),
        ids,
      );
      assert.match(await page.locator('#oee-trend figcaption').innerText(), /^Trend by day/);

      // A unit without an ideal cycle time: performance and OEE "—", the reason on hover.
      await page.selectOption('#oee-equipment', WRAPPER);
      assert.equal(new URL(page.url()).hash, `#oee=${encodeURIComponent(WRAPPER)}`);
      await page.locator('#oee-id', { hasText: WRAPPER }).waitFor();
      const wrapper = await readPage(page);
      const apiWrapper = await apiFor<OeeAnswer>(wrapper.csv, '/api/v1/kpi/oee');
      assert.equal(apiWrapper.summary.kpis.performance, null);
      for (const k of KPIS) assert.equal(wrapper.kpis[k]!.text, pct(apiWrapper.summary.kpis[k]), k);
      assert.equal(wrapper.kpis.performance!.text, '—');
      assert.match(wrapper.kpis.performance!.title, /no ideal cycle time/);
      assert.match(wrapper.kpis.oee!.title, /Performance unknown: no ideal cycle time/);
      assert.equal(wrapper.kpis.availability!.title, '');
      assert.deepEqual(wrapper.members[0]?.cells.slice(0, 5), [
        'wrapper',
        pct(apiWrapper.summary.kpis.availability),
        '—',
        pct(apiWrapper.summary.kpis.quality),
        '—',
      ]);
      assert.match(wrapper.members[0]!.titles[2]!, /no ideal cycle time/);

      // The link reloads to the same unit.
      await page.reload();
      await page.locator('#oee-id', { hasText: WRAPPER }).waitFor();
      assert.equal(await page.locator('#oee-equipment').inputValue(), WRAPPER);
      assert.deepEqual(faults, []);
    } finally {
      await context.close();
    }
  });
  it('still shows the numbers and says why when the hub does not serve chart.js', async () => {
    const context = await browser.newContext({ timezoneId: 'Europe/Berlin', locale: 'en-GB' });
    const page = await context.newPage();
    const faults = faultsOf(page);
    // A hub whose chart.js is not installed answers 404 for it (src/server/web.ts warns).
    await page.route(/\/vendor\/chart\.js\//, (route) => route.fulfill({ status: 404 }));
    try {
      await page.goto(`${hub.url!}/#oee=${encodeURIComponent(LINE)}`);
      await logInThroughForm(page, TEST_ADMIN.username, TEST_ADMIN.password, '#oee-page');
      await page
        .locator('#oee-chart-note', { hasText: /^The charts cannot be shown: .*chart\.js/ })
        .waitFor();
      const shown = await readPage(page);
      assert.deepEqual(shown.charts, { losses: null, trend: null, pareto: null });
      const api = await apiFor<OeeAnswer>(shown.csv, '/api/v1/kpi/oee');
      for (const k of KPIS) assert.equal(shown.kpis[k]!.text, pct(api.summary.kpis[k]), k);
      assert.equal(shown.members.length, 3);
      assert.equal(shown.pareto[0]?.key, 'JAM');
      assert.deepEqual(faults, []);
    } finally {
      await context.close();
    }
  });
});
