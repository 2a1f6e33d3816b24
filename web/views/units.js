/**
 * The units page (`#units`, the default; `#unit=<equipment id>` opens a unit's panel): the work
 * units of the hierarchy under their lines, with state, reason and counters from
 * GET /api/v1/equipment, and today's output per line and material per site from
 * GET /api/v1/production/summary (each site's own day, in its time zone).
 */
import { get, inSession, LoggedOut, problem } from '../lib/api.js';
import { fill, h, setText, syncRows } from '../lib/dom.js';
import { at, zoneOf } from '../lib/format.js';
import { unitPanel } from './unit.js';

/** The day's totals read the journal: every this many refreshes is often enough. */
const TODAY_EVERY = 10;

export function unitsView(app) {
  const panel = unitPanel(app);
  let refreshes = 0;

  const unitRows = h('tbody', { id: 'units' });
  const table = h(
    'table',
    { id: 'view' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Unit', 'State', 'Reason', 'Since', 'Good', 'Scrap', 'Total'].map((t) => h('th', {}, t)),
      ),
    ),
    unitRows,
  );
  const todayRows = h('tbody', { id: 'today-rows' });
  const todayMaterials = h('div', { id: 'today-materials' });
  const today = h(
    'section',
    { id: 'today', hidden: true },
    h(
      'h2',
      {},
      'Today ',
      h('small', {}, 'each site’s own day, in its time zone (GET /api/v1/production/summary)'),
    ),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Site', 'Line', 'Output of', 'Good', 'Scrap', 'Total'].map((t) => h('th', {}, t)),
        ),
      ),
      todayRows,
    ),
    todayMaterials,
  );
  const element = h('section', { id: 'units-page', class: 'page' }, table, today, panel.element);

  function renderUnits(items) {
    const rows = items.filter((e) => e.level === 'workCenter' || e.level === 'workUnit');
    syncRows(
      unitRows,
      rows,
      (e) => `${e.level}:${e.id}`,
      (e) => {
        if (e.level === 'workCenter') {
          return h('tr', { class: 'line' }, h('td', { colspan: 7 }, h('span'), ' ', h('small')));
        }
        return h(
          'tr',
          { 'data-unit': e.id, tabindex: 0 },
          h('td'),
          h('td', {}, h('span', { class: 'state' })),
          h('td'),
          h('td'),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
        );
      },
      (tr, e) => {
        if (e.level === 'workCenter') {
          setText(tr.querySelector('span'), e.name);
          setText(tr.querySelector('small'), e.id);
          return;
        }
        const s = e.status;
        const c = e.counters;
        const td = tr.children;
        setText(td[0], e.name);
        const badge = td[1].firstChild;
        setText(badge, s.state);
        badge.className = `state ${s.state}`;
        setText(td[2], s.reasonCode ?? '');
        // The time of day in the unit's site zone; the date and the zone on hover.
        const z = zoneOf(e.timeZone);
        setText(td[3], s.since ? at(s.since, z.id).slice(11) : '');
        td[3].title = s.since ? `${at(s.since, z.id)} (${z.id})` : '';
        setText(td[4], String(c.good.total));
        setText(td[5], String(c.scrap.total));
        setText(td[6], String(c.total.total));
        tr.classList.toggle('selected', e.id === panel.selected);
      },
    );
  }

  /** Output per line and material used per site, over each site's local day. */
  function renderToday(sites) {
    const lines = sites.flatMap((site) => site.lines.map((line) => ({ site, line })));
    syncRows(
      todayRows,
      lines,
      (x) => x.line.id,
      () =>
        h(
          'tr',
          {},
          h('td'),
          h('td'),
          h('td'),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
        ),
      (tr, { site, line }) => {
        const td = tr.children;
        setText(td[0], `${site.name} (${site.day}, ${site.timeZone})`);
        setText(td[1], line.name);
        setText(td[2], line.outputUnitId.split('/').at(-1));
        setText(td[3], String(line.counts.good));
        setText(td[4], String(line.counts.scrap));
        setText(td[5], String(line.counts.total));
      },
    );
    const used = sites
      .filter((s) => s.consumption.length > 0)
      .map(
        (s) =>
          `${s.name}: ${s.consumption.map((c) => `${c.material} ${c.quantity} ${c.uom}`).join(' · ')}`,
      );
    fill(todayMaterials, JSON.stringify(used), () =>
      used.map((u) => h('p', {}, `Material used, ${u}`)),
    );
    today.hidden = lines.length === 0;
  }

  function openUnit(tr) {
    if (tr !== null) location.hash = `unit=${encodeURIComponent(tr.dataset.unit)}`;
  }
  unitRows.addEventListener('click', (ev) => openUnit(ev.target.closest('tr[data-unit]')));
  unitRows.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      openUnit(ev.target.closest('tr[data-unit]'));
    }
  });

  return {
    name: 'units',
    title: 'Units',
    href: '#units',
    element,
    /** Refreshed every second while it shows. */
    refreshMs: 1000,
    owns: (hash) => hash === '' || hash === '#' || hash === '#units' || hash.startsWith('#unit='),
    /** Show the panel the hash names (none for `#units`); true when that changed. */
    route(hash) {
      const changed = panel.select(unitFromHash(hash));
      if (changed) {
        for (const tr of unitRows.querySelectorAll('tr[data-unit]')) {
          tr.classList.toggle('selected', tr.dataset.unit === panel.selected);
        }
      }
      return changed;
    },
    reset() {
      refreshes = 0;
      panel.reset();
    },
    async refresh() {
      const unitId = panel.selected;
      const [eqRes, panelAnswers] = await Promise.all([
        get('/api/v1/equipment'),
        panel.fetch(unitId),
      ]);
      // Not logged in: the form, keeping what it says (a refused login's reason stays readable).
      if (eqRes.status === 401) throw new LoggedOut(undefined);
      if (eqRes.status === 503 || eqRes.status === 403) throw new LoggedOut(await problem(eqRes));
      const eq = await eqRes.json();
      renderUnits(eq.items);
      if (refreshes++ % TODAY_EVERY === 0) {
        const answer = inSession(await get('/api/v1/production/summary'));
        if (answer.ok) renderToday((await answer.json()).sites);
      }
      if (unitId !== null && unitId === panel.selected)
        await panel.render(unitId, eq.items, panelAnswers);
    },
  };
}

function unitFromHash(hash) {
  const m = /^#unit=(.+)$/.exec(hash);
  if (m === null) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}
