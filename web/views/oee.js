/**
 * The OEE page (`#oee`; `#oee=<equipment id>` shows one line or unit, so it can be linked), over
 * a range chosen here (last 24 hours, last 7 days, this week in the site's time zone), grouped
 * by shift (the default) or by day, from GET /api/v1/kpi/oee and GET /api/v1/kpi/downtime:
 * - availability × performance × quality = OEE over the whole range, as numbers and bars;
 * - the six big losses, in minutes; the trend of OEE, A, P and Q per group;
 * - the downtime Pareto: minutes per reason, and their cumulative share on a second axis;
 * - the units summed, each with its A, P, Q and OEE; a CSV link to the same query;
 * - the site's shift calendar the groups come from, by name and time zone.
 * A ratio the hub cannot compute (null: nothing planned, no ideal cycle time …) shows as "—",
 * with its reason in a few words under it and in full on hover.
 *
 * The charts are Chart.js 4, its UMD build served by the hub from node_modules
 * (`/vendor/chart.js/dist/`, see src/server/web.ts) and loaded on the first visit to this page.
 * Each chart is made once; a refresh updates its data. Without the library the numbers and
 * tables still show, with a line saying why the charts do not.
 */
import { get, inSession, problem, query } from '../lib/api.js';
import { fill, h, setText, syncRows } from '../lib/dom.js';
import { at, duration, zoneOf } from '../lib/format.js';

const DEFAULTS = {
  refreshMs: 10_000,
  /** Chart.js's UMD build (a classic script: it defines window.Chart). */
  chartScript: '/vendor/chart.js/dist/chart.umd.min.js',
};

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** The ranges to choose from; the first is the default. */
const RANGES = [
  { id: '24h', label: 'last 24 hours' },
  { id: '7d', label: 'last 7 days' },
  { id: 'week', label: 'this week' },
];
/** How the trend groups the range (the API's groupBy); the first is the default. */
const GROUPINGS = [
  { id: 'shift', label: 'by shift' },
  { id: 'day', label: 'by day' },
];
/** The ratios shown, in the order of the formula A × P × Q = OEE. */
const KPIS = [
  { key: 'availability', label: 'Availability', color: '#2a4d8f' },
  { key: 'performance', label: 'Performance', color: '#b26a00' },
  { key: 'quality', label: 'Quality', color: '#137a7f' },
  { key: 'oee', label: 'OEE', color: '#1f8a4c' },
];
/** The six big losses (Losses of the API), each charged to the ratio it lowers. */
const LOSSES = [
  { key: 'breakdownsMs', label: 'Breakdowns', kpi: 'availability' },
  { key: 'setupMs', label: 'Setup and changeover', kpi: 'availability' },
  { key: 'otherStopsMs', label: 'Idle, starved, blocked, no data', kpi: 'availability' },
  { key: 'smallStopsMs', label: 'Small stops', kpi: 'performance' },
  { key: 'reducedSpeedMs', label: 'Reduced speed', kpi: 'performance' },
  { key: 'rejectsMs', label: 'Rejects', kpi: 'quality' },
];
const COLOR = Object.fromEntries(KPIS.map((k) => [k.key, k.color]));
const PARETO_COLOR = { bar: '#c62828', line: '#1d2330' };

/** The code the hub answers for a route it does not have (src/errors.ts). */
const NO_ROUTE = 'MW_ERR_API_NOT_FOUND';

/** What a refused answer says: `{ missing }` when the hub has no such route, and its message. */
async function refusal(res) {
  const body = await res.json().catch(() => null);
  const error = body?.error;
  return {
    missing: res.status === 404 && (error === undefined || error?.code === NO_ROUTE),
    message: error?.message ?? `${res.status} ${res.statusText}`,
  };
}

/** A ratio as a percentage with one decimal, "—" for null. */
const percent = (r) => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)}%`);

/** A ratio as a chart value: percent, one decimal (null stays a gap). */
const chartPercent = (r) => (r === null || r === undefined ? null : Math.round(r * 1000) / 10);

/** Milliseconds as chart minutes, one decimal (null stays null). */
const minutes = (ms) => (ms === null || ms === undefined ? null : Math.round(ms / 6000) / 10);

/** Why a ratio is not a plain percentage: a few words to show, and the whole reason on hover. */
const REASONS = {
  planned: {
    short: 'nothing planned',
    long: 'nothing was planned in this time (no planned production time in the shift calendar)',
  },
  ran: { short: 'did not run', long: 'the equipment did not run in this time' },
  ideal: {
    short: 'no ideal cycle time',
    long: 'no ideal cycle time is configured (idealCycleTime of the unit or of the material)',
  },
  produced: { short: 'nothing produced', long: 'nothing was produced in this time' },
  over: {
    short: 'above ideal speed',
    long: 'above 100%: the ideal cycle time is set slower than the equipment runs (check idealCycleTime)',
  },
};

/**
 * Why a ratio is null, from the totals of its group (or above 1: performance with an ideal cycle
 * time set too slow); null for a plain ratio.
 */
function whyOf(key, kpis, totals) {
  const r = kpis[key];
  if (r !== null && r !== undefined) return r > 1 ? REASONS.over : null;
  switch (key) {
    case 'availability':
      return REASONS.planned;
    case 'performance':
      if (totals.plannedBusyTimeMs === 0) return REASONS.planned;
      // Pieces whose ideal cycle time is unknown make performance unknown (the hub counts them).
      if (totals.piecesWithoutIdealTime > 0) {
        return {
          short: REASONS.ideal.short,
          long: `${REASONS.ideal.long}, for ${totals.piecesWithoutIdealTime} of the ${totals.producedQuantity} pieces`,
        };
      }
      return totals.actualProductionTimeMs === 0 ? REASONS.ran : REASONS.ideal;
    case 'quality':
      return totals.plannedBusyTimeMs === 0 ? REASONS.planned : REASONS.produced;
    default: {
      const unknown = KPIS.slice(0, 3).filter((k) => kpis[k.key] === null);
      if (unknown.length === 0) return { short: 'unknown', long: 'not computed by the hub' };
      return {
        short: `${unknown[0].label.toLowerCase()} unknown`,
        long: unknown
          .map((k) => `${k.label} unknown: ${whyOf(k.key, kpis, totals).long}`)
          .join('; '),
      };
    }
  }
}

/**
 * A ratio in a cell or a tile: its text, its reason on hover when null (or above 100%), and the
 * reason in a few words in `note` (a tile's), if given.
 */
function showRatio(el, key, kpis, totals, note) {
  const r = kpis[key];
  setText(el, percent(r));
  const why = whyOf(key, kpis, totals);
  const long = why?.long ?? '';
  if (el.title !== long) el.title = long;
  el.classList.toggle('null', r === null || r === undefined);
  if (note !== undefined) setText(note, why?.short ?? '');
}

// --- time: the ranges, in the site's time zone ---

/** An instant's wall-clock date and time in a zone. */
function wallClock(ms, zoneId) {
  const f = new Intl.DateTimeFormat('en-GB', {
    timeZone: zoneId,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]));
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

/** The instant of local midnight of a day (given as a UTC date) in a zone. */
function localMidnight(day, zoneId) {
  const wall = day.getTime();
  let t = wall;
  // Twice: the zone's offset at the first guess may differ from the one at midnight (DST).
  for (let i = 0; i < 2; i++) t += wall - wallClock(t, zoneId);
  return t;
}

/** The range `{ from, to }` (ISO text, whole minutes, as the API floors them) of a choice. */
function rangeOf(choice, zoneId, now) {
  const to = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  let from;
  if (choice === '7d') from = to - 7 * 24 * HOUR_MS;
  else if (choice === 'week') {
    // From Monday 00:00 in the site's zone (ISO 8601 weeks start on Monday).
    const today = new Date(wallClock(now, zoneId));
    const sinceMonday = (today.getUTCDay() + 6) % 7;
    const monday = new Date(
      Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - sinceMonday),
    );
    from = Math.min(localMidnight(monday, zoneId), to - MINUTE_MS);
  } else from = to - 24 * HOUR_MS;
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

// --- Chart.js ---

let chartLibrary = null;
/** Chart.js, loaded once (a classic script, same origin: the CSP allows it); rejects if absent. */
function chartJs() {
  if (window.Chart !== undefined) return Promise.resolve(window.Chart);
  if (chartLibrary === null) {
    chartLibrary = new Promise((resolve, reject) => {
      const script = h('script', { src: DEFAULTS.chartScript });
      script.addEventListener('load', () =>
        window.Chart === undefined
          ? reject(new Error(`${DEFAULTS.chartScript} did not define Chart`))
          : resolve(window.Chart),
      );
      script.addEventListener('error', () => {
        script.remove();
        chartLibrary = null; // asked again at the next refresh
        reject(
          new Error(`the hub does not serve ${DEFAULTS.chartScript} (chart.js not installed)`),
        );
      });
      document.head.append(script);
    });
  }
  return chartLibrary;
}

/** The page's look for every chart: no animation (a live view redraws every few seconds). */
function baseOptions() {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
  };
}

const percentTicks = { callback: (v) => `${v}%` };

const chartConfigs = {
  losses: () => ({
    type: 'bar',
    data: {
      labels: LOSSES.map((l) => l.label),
      datasets: [
        {
          label: 'minutes',
          data: [],
          backgroundColor: LOSSES.map((l) => COLOR[l.kpi]),
        },
      ],
    },
    options: {
      ...baseOptions(),
      indexAxis: 'y',
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (c) => `${c.parsed.x} min` } },
      },
      scales: { x: { beginAtZero: true, title: { display: true, text: 'minutes' } } },
    },
  }),
  trend: () => ({
    type: 'line',
    data: {
      labels: [],
      datasets: KPIS.map((k) => ({
        label: k.label,
        data: [],
        borderColor: k.color,
        backgroundColor: k.color,
        borderWidth: k.key === 'oee' ? 3 : 1.5,
        pointRadius: k.key === 'oee' ? 3 : 2,
        tension: 0,
      })),
    },
    options: {
      ...baseOptions(),
      interaction: { mode: 'index', intersect: false },
      plugins: {
        ...baseOptions().plugins,
        tooltip: { callbacks: { label: (c) => `${c.dataset.label} ${c.parsed.y ?? '—'}%` } },
      },
      scales: { y: { beginAtZero: true, suggestedMax: 100, ticks: percentTicks } },
    },
  }),
  pareto: () => ({
    type: 'bar',
    data: {
      labels: [],
      datasets: [
        {
          type: 'bar',
          label: 'downtime (minutes)',
          data: [],
          backgroundColor: PARETO_COLOR.bar,
          yAxisID: 'y',
          order: 2,
        },
        {
          type: 'line',
          label: 'cumulative share',
          data: [],
          borderColor: PARETO_COLOR.line,
          backgroundColor: PARETO_COLOR.line,
          pointRadius: 3,
          // The last point sits on 100%, the axis's top: drawn whole, not cut by the chart area.
          clip: 6,
          yAxisID: 'y1',
          order: 1,
        },
      ],
    },
    options: {
      ...baseOptions(),
      plugins: {
        // The bars first, as the datasets are listed (the line is drawn on top: order 1).
        legend: {
          ...baseOptions().plugins.legend,
          labels: { boxWidth: 12, sort: (a, b) => a.datasetIndex - b.datasetIndex },
        },
        tooltip: {
          callbacks: {
            label: (c) =>
              c.dataset.yAxisID === 'y1'
                ? `cumulative ${c.parsed.y}%`
                : `${c.parsed.y} min of downtime`,
          },
        },
      },
      scales: {
        y: { beginAtZero: true, title: { display: true, text: 'minutes' } },
        y1: {
          position: 'right',
          min: 0,
          max: 100,
          ticks: percentTicks,
          grid: { drawOnChartArea: false },
        },
      },
    },
  }),
};

const chartShown = new WeakMap();
/** Give a chart new labels and data (one array per dataset); redrawn only when they changed. */
function setChartData(chart, labels, data) {
  const key = JSON.stringify([labels, data]);
  if (chartShown.get(chart) === key) return;
  chartShown.set(chart, key);
  chart.data.labels = labels;
  data.forEach((d, i) => {
    chart.data.datasets[i].data = d;
  });
  chart.update('none');
}

/** A group's label on the trend's axis: shift and day, or the API's key. */
function axisLabel(g) {
  if (g.shift !== null && g.shift !== undefined) return `${g.shift.day.slice(5)} ${g.shift.name}`;
  return g.key;
}

function equipmentFromHash(hash) {
  const m = /^#oee=(.+)$/.exec(hash);
  if (m === null) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

export function oeeView(app) {
  /** The equipment the hash names (null: the first line). */
  let selected = null;
  /** The equipment shown: the one selected, or the first line. */
  let shown = null;
  /** Chart.js charts by name, made at the first render that has the library. */
  const charts = {};

  // --- the choices ---
  const picker = h('select', { id: 'oee-equipment', 'aria-label': 'line or unit' });
  const rangeChoice = h(
    'select',
    { id: 'oee-range', 'aria-label': 'range' },
    RANGES.map((r) => h('option', { value: r.id }, r.label)),
  );
  const groupChoice = h(
    'select',
    { id: 'oee-group', 'aria-label': 'group by' },
    GROUPINGS.map((g) => h('option', { value: g.id }, g.label)),
  );
  const csv = h('a', { id: 'oee-csv', class: 'csv', href: '#oee', hidden: true }, 'CSV');
  picker.addEventListener('change', () => {
    location.hash = `oee=${encodeURIComponent(picker.value)}`;
  });
  rangeChoice.addEventListener('change', () => app.refresh());
  groupChoice.addEventListener('change', () => app.refresh());

  // --- what is shown ---
  const title = h('h2', { id: 'oee-title' }, 'OEE');
  const idCode = h('code', { id: 'oee-id' });
  const calendar = h('p', { id: 'oee-calendar', class: 'note' });
  const note = h('p', { id: 'oee-note', class: 'note' });
  const error = h('p', { id: 'oee-error', class: 'err', role: 'alert' });
  const tiles = KPIS.map((k) => {
    const value = h('span', { class: 'value' });
    const why = h('span', { class: 'why' });
    const bar = h('span', { class: 'bar' });
    const tile = h(
      'div',
      { class: `kpi kpi-${k.key}`, 'data-kpi': k.key },
      h('span', { class: 'label' }, k.label),
      value,
      why,
      h('div', { class: 'track', role: 'meter', 'aria-label': k.label, 'aria-valuemin': 0 }, bar),
    );
    return { key: k.key, tile, value, why, bar, track: tile.lastChild };
  });
  const summary = h(
    'div',
    { id: 'oee-summary' },
    tiles.flatMap((t, i) => [
      i === 0 ? null : h('span', { class: 'op', 'aria-hidden': 'true' }, i === 3 ? '=' : '×'),
      t.tile,
    ]),
  );
  const facts = h('p', { id: 'oee-facts', class: 'note' });
  const chartNote = h('p', { id: 'oee-chart-note', class: 'note' });
  const canvas = {
    losses: h('canvas', { id: 'oee-losses-chart', role: 'img', 'aria-label': 'six big losses' }),
    trend: h('canvas', { id: 'oee-trend-chart', role: 'img', 'aria-label': 'trend' }),
    pareto: h('canvas', { id: 'oee-pareto-chart', role: 'img', 'aria-label': 'downtime Pareto' }),
  };
  const trendTitle = h('span', {}, 'Trend by shift');
  const lossesNote = h('p', { id: 'oee-losses-note', class: 'note' });
  const trendNote = h('p', { id: 'oee-trend-note', class: 'note' });
  const paretoNote = h('p', { id: 'oee-pareto-note', class: 'note' });
  const paretoCsv = h('a', { id: 'oee-pareto-csv', class: 'csv', href: '#oee' }, 'CSV');
  const paretoRows = h('tbody', { id: 'oee-pareto-rows' });
  const paretoTable = h(
    'table',
    { id: 'oee-pareto' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Reason', 'Category', 'Downtime', 'Stops', 'Share', 'Cumulative'].map((t) =>
          h('th', {}, t),
        ),
      ),
    ),
    paretoRows,
  );
  const memberRows = h('tbody', { id: 'oee-member-rows' });
  const members = h(
    'table',
    { id: 'oee-members' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        [
          'Unit',
          'Availability',
          'Performance',
          'Quality',
          'OEE',
          'Good',
          'Scrap',
          'Running',
          'Unplanned stops',
        ].map((t) => h('th', {}, t)),
      ),
    ),
    memberRows,
  );
  const figure = (name, heading, ...rest) =>
    h(
      'figure',
      { id: `oee-${name}` },
      h('figcaption', {}, heading),
      h('div', { class: 'chart-box' }, canvas[name]),
      rest,
    );
  const body = h(
    'div',
    { id: 'oee-body', hidden: true },
    summary,
    facts,
    chartNote,
    h(
      'div',
      { class: 'oee-charts' },
      figure(
        'trend',
        [trendTitle, ' ', h('small', {}, 'OEE, availability, performance, quality')],
        trendNote,
      ),
      figure(
        'losses',
        ['Six big losses ', h('small', {}, 'minutes, over the whole range')],
        lossesNote,
      ),
      figure(
        'pareto',
        ['Downtime Pareto ', h('small', {}, 'minutes per reason, cumulative share '), paretoCsv],
        paretoNote,
        paretoTable,
      ),
    ),
    h('h3', {}, 'Units ', h('small', {}, 'the work units summed, over the whole range')),
    members,
  );
  const element = h(
    'section',
    { id: 'oee-page', class: 'page', 'data-refreshes': '0' },
    h(
      'header',
      { class: 'oee-controls' },
      title,
      idCode,
      h('label', {}, 'equipment ', picker),
      h('label', {}, 'range ', rangeChoice),
      h('label', {}, 'groups ', groupChoice),
      csv,
    ),
    calendar,
    note,
    error,
    body,
  );

  /** The lines and their units to choose from (GET /api/v1/equipment), the one shown chosen. */
  function renderPicker(items) {
    const byId = new Map(items.map((e) => [e.id, e]));
    const lines = items.filter((e) => e.level === 'workCenter');
    // Equipment of another level (a site, an area) named by the hash: offered too, first.
    const other = byId.get(shown);
    const extra = other !== undefined && !['workCenter', 'workUnit'].includes(other.level);
    const key = JSON.stringify([
      extra ? shown : null,
      lines.map((l) => [l.id, l.name, l.childIds]),
    ]);
    fill(picker, key, () => [
      extra ? h('option', { value: other.id }, `${other.name} (${other.level})`) : null,
      lines.map((line) =>
        h(
          'optgroup',
          { label: line.id.split('/').slice(1).join(' / ') },
          h('option', { value: line.id }, `${line.name} (whole line)`),
          line.childIds
            .map((id) => byId.get(id))
            .filter((u) => u !== undefined && u.level === 'workUnit')
            .map((u) => h('option', { value: u.id }, u.name)),
        ),
      ),
    ]);
    if (shown !== null && picker.value !== shown && byId.has(shown)) picker.value = shown;
  }

  function renderSummary(group) {
    for (const t of tiles) {
      const r = group.kpis[t.key];
      showRatio(t.value, t.key, group.kpis, group.totals, t.why);
      // Through the CSSOM: the page's CSP (style-src 'self') refuses style="" attributes.
      t.bar.style.width = `${r === null ? 0 : Math.min(1, Math.max(0, r)) * 100}%`;
      t.tile.classList.toggle('over', r !== null && r > 1);
      if (r === null) t.track.removeAttribute('aria-valuenow');
      else t.track.setAttribute('aria-valuenow', String(r));
      t.track.setAttribute('aria-valuemax', String(Math.max(1, r ?? 0)));
    }
    const s = group.totals;
    setText(
      facts,
      // ISO 22400: planned busy time = planned operation time − planned downtime.
      `Planned busy time ${duration(s.plannedBusyTimeMs)} (planned operation ` +
        `${duration(s.plannedOperationTimeMs)} − planned down ${duration(s.plannedDownTimeMs)}) · ` +
        `running ${duration(s.runningMs)} · produced ${s.producedQuantity} ` +
        `(good ${s.goodQuantity}, scrap ${s.scrapQuantity}) · ${s.failures} failures, ` +
        `${s.microStops} micro-stops, ${s.changeovers} changeovers`,
    );
  }

  function renderLosses(losses) {
    const missing = LOSSES.filter((l) => losses[l.key] === null).map((l) => l.label);
    setText(
      lossesNote,
      missing.length === 0
        ? ''
        : `${missing.join(' and ')}: unknown without an ideal cycle time (idealCycleTime).`,
    );
    if (charts.losses === undefined) return;
    setChartData(
      charts.losses,
      LOSSES.map((l) => (losses[l.key] === null ? `${l.label} (—)` : l.label)),
      [LOSSES.map((l) => minutes(losses[l.key]))],
    );
  }

  function renderTrend(answer) {
    setText(trendTitle, answer.groupBy === 'day' ? 'Trend by day' : 'Trend by shift');
    setText(trendNote, answer.groups.length === 0 ? 'no shift in this range' : '');
    if (charts.trend === undefined) return;
    setChartData(
      charts.trend,
      answer.groups.map(axisLabel),
      KPIS.map((k) => answer.groups.map((g) => chartPercent(g.kpis[k.key]))),
    );
  }

  function renderPareto(downtime, zone) {
    if (downtime.refused !== undefined) {
      paretoTable.hidden = true;
      setText(
        paretoNote,
        downtime.refused.missing
          ? 'The downtime Pareto is not available on this hub (no GET /api/v1/kpi/downtime).'
          : `The downtime Pareto cannot be shown: ${downtime.refused.message}`,
      );
      if (charts.pareto !== undefined) setChartData(charts.pareto, [], [[], []]);
      return;
    }
    const rows = downtime.rows;
    paretoTable.hidden = rows.length === 0;
    setText(
      paretoNote,
      rows.length === 0
        ? 'no stops in this range'
        : `${duration(downtime.totalMs)} of downtime in ${downtime.stops} stops, ` +
            `${at(downtime.from, zone.id).slice(0, 16)} to ${at(downtime.to, zone.id).slice(0, 16)}`,
    );
    // Stops without a reason: one row per state, keyed "unclassified <state>" (the contract
    // said one "unclassified" row; both are shown as the hub names them).
    const unclassified = (r) => r.key === 'unclassified' || r.key.startsWith('unclassified ');
    const name = (r) => r.name || r.key;
    syncRows(
      paretoRows,
      rows,
      (r) => r.key,
      (r) =>
        h(
          'tr',
          { 'data-reason': r.key },
          h('td'),
          h('td'),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
        ),
      (tr, r) => {
        const td = tr.children;
        fill(td[0], JSON.stringify([r.key, r.name, r.planned]), () => [
          unclassified(r)
            ? h('span', { class: 'unclassified' }, name(r))
            : [h('span', { class: 'reason-name' }, r.name), ' ', h('code', {}, `(${r.key})`)],
          r.planned ? h('small', { class: 'note' }, ' planned') : null,
        ]);
        setText(td[1], r.category ?? '');
        setText(td[2], duration(r.ms));
        setText(td[3], String(r.stops));
        setText(td[4], percent(r.share));
        setText(td[5], percent(r.cumulativeShare));
      },
    );
    if (charts.pareto === undefined) return;
    setChartData(charts.pareto, rows.map(name), [
      rows.map((r) => minutes(r.ms)),
      rows.map((r) => chartPercent(r.cumulativeShare)),
    ]);
  }

  function renderMembers(group) {
    syncRows(
      memberRows,
      group.members,
      (m) => m.id,
      (m) =>
        h(
          'tr',
          { 'data-member': m.id },
          h('td'),
          KPIS.map((k) => h('td', { class: 'num', 'data-kpi': k.key })),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
        ),
      (tr, m) => {
        const td = tr.children;
        setText(td[0], m.name);
        td[0].title = m.id;
        KPIS.forEach((k, i) => showRatio(td[1 + i], k.key, m.kpis, m.totals));
        setText(td[5], String(m.totals.goodQuantity));
        setText(td[6], String(m.totals.scrapQuantity));
        setText(td[7], duration(m.totals.runningMs));
        setText(td[8], duration(m.totals.unplannedStopMs));
      },
    );
    members.hidden = group.members.length === 0;
  }

  /** Make the charts once, when the library has loaded and the page shows (sizes known). */
  async function ensureCharts() {
    try {
      const Chart = await chartJs();
      Chart.defaults.font.family = 'system-ui, sans-serif';
      Chart.defaults.color = '#1d2330';
      for (const name of Object.keys(chartConfigs)) {
        if (charts[name] === undefined)
          charts[name] = new Chart(canvas[name], chartConfigs[name]());
      }
      setText(chartNote, '');
    } catch (err) {
      setText(
        chartNote,
        `The charts cannot be shown: ${err.message}. The numbers and tables are complete.`,
      );
    }
  }

  /**
   * The calendars the groups come from: one for equipment of one site (`calendar`), each site's
   * for equipment above the sites (`calendar` null, `calendars` listing them).
   */
  function calendarsOf(answer) {
    if (answer.calendar !== null && answer.calendar !== undefined) return [answer.calendar];
    return answer.calendars ?? [];
  }

  function render(item, asked, answer, downtime) {
    const calendars = calendarsOf(answer);
    const zone = zoneOf(calendars.length === 1 ? calendars[0].timeZone : item.timeZone);
    body.hidden = false;
    setText(note, '');
    setText(error, '');
    setText(title, `OEE · ${item.name}`);
    setText(idCode, answer.equipment);
    const named = calendars.map((c) => `“${c.name}” of ${c.site}, in ${c.timeZone}`);
    setText(
      calendar,
      `${named.length === 1 ? 'Calendar' : 'Calendars'} ${named.join('; ') || 'none'} · ` +
        `${at(answer.from, zone.id).slice(0, 16)} to ${at(answer.to, zone.id).slice(0, 16)}` +
        (zone.site
          ? calendars.length === 1
            ? ''
            : ` (times in ${zone.id})`
          : ` (times in ${zone.id}, this browser’s zone)`) +
        ` · ${answer.units.length} unit${answer.units.length === 1 ? '' : 's'}`,
    );
    const csvQuery = query({ ...asked, format: 'csv' });
    csv.href = `/api/v1/kpi/oee${csvQuery}`;
    // The hub names the file (Content-Disposition); `download` keeps the page where it is.
    csv.setAttribute('download', '');
    paretoCsv.href = `/api/v1/kpi/downtime${query({
      equipment: asked.equipment,
      from: asked.from,
      to: asked.to,
      by: 'reason',
      format: 'csv',
    })}`;
    paretoCsv.setAttribute('download', '');
    renderSummary(answer.summary);
    renderLosses(answer.summary.losses);
    renderTrend(answer);
    renderPareto(downtime, zone);
    renderMembers(answer.summary);
  }

  /** Nothing to show: why, as a note (nothing wrong: no such API, no lines) or as an error. */
  function showRefused(message, { fault = true } = {}) {
    body.hidden = true;
    csv.hidden = true;
    setText(calendar, '');
    setText(note, fault ? '' : message);
    setText(error, fault ? message : '');
  }

  return {
    name: 'oee',
    title: 'OEE',
    href: '#oee',
    element,
    refreshMs: DEFAULTS.refreshMs,
    owns: (hash) => hash === '#oee' || hash.startsWith('#oee='),
    route(hash) {
      const next = equipmentFromHash(hash);
      if (next === selected) return false;
      selected = next;
      if (selected !== null) picker.value = selected;
      return true;
    },
    reset() {
      memberRows.replaceChildren();
      paretoRows.replaceChildren();
    },
    async refresh() {
      const eqRes = inSession(await get('/api/v1/equipment'));
      if (!eqRes.ok) {
        showRefused(`The equipment cannot be listed: ${await problem(eqRes)}`);
        return;
      }
      const items = (await eqRes.json()).items;
      const firstLine = items.find((e) => e.level === 'workCenter');
      /** What the page is asked to show now (a hash or a choice may change while it asks). */
      const choice = () =>
        [selected ?? firstLine?.id ?? null, rangeChoice.value, groupChoice.value].join('\n');
      shown = selected ?? firstLine?.id ?? null;
      renderPicker(items);
      const item = items.find((e) => e.id === shown);
      if (item === undefined) {
        showRefused(
          shown === null ? 'This hub has no lines.' : `${shown} is not equipment of this hub.`,
          { fault: shown !== null },
        );
        return;
      }
      const asking = choice();
      const zone = zoneOf(item.timeZone);
      const asked = {
        equipment: shown,
        ...rangeOf(rangeChoice.value, zone.id, Date.now()),
        groupBy: groupChoice.value,
      };
      const [oeeRes, downtimeRes] = await Promise.all([
        get(`/api/v1/kpi/oee${query(asked)}`).then(inSession),
        get(
          `/api/v1/kpi/downtime${query({ equipment: shown, from: asked.from, to: asked.to, by: 'reason' })}`,
        ).then(inSession),
        ensureCharts(),
      ]);
      if (!oeeRes.ok) {
        const refused = await refusal(oeeRes);
        showRefused(
          refused.missing
            ? 'OEE is not available on this hub (it has no GET /api/v1/kpi/oee).'
            : `OEE cannot be shown: ${refused.message}`,
          { fault: !refused.missing },
        );
        return;
      }
      const answer = await oeeRes.json();
      const downtime = downtimeRes.ok
        ? await downtimeRes.json()
        : { refused: await refusal(downtimeRes) };
      // The choice changed while the hub answered: the refresh it asked for shows the new one.
      if (asking !== choice()) return;
      csv.hidden = false;
      render(item, asked, answer, downtime);
      element.dataset.refreshes = String(Number(element.dataset.refreshes) + 1);
    },
  };
}
