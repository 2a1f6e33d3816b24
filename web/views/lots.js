/**
 * The Lots page (issue #12, docs/quality.md), a page of web/app.js's contract:
 * - `#lots`: the material lots (GET /api/v1/lots), filtered by material and status: status,
 *   material, what is left of the initial quantity, origin, order; a lot number typed in the
 *   search box narrows the lots listed, and Enter opens the lot of that number (or the one
 *   lot listed that has it in its number). The API has no search: the lots are listed in
 *   lot-number order, a page at a time, and the box narrows the pages loaded;
 * - `#lots/<lot number, encoded>`: one lot, its holds, genealogy and recall (lot-page.js).
 *
 * A hub without these routes (404 MW_ERR_API_NOT_FOUND) gets a line saying so, not a broken page.
 * The list is built once and its rows updated in place.
 */
import { get, inSession, query, refusal } from '../lib/api.js';
import { fill, h, setText, syncRows } from '../lib/dom.js';
import { lotPage } from './lot-page.js';
import {
  lotFromHash,
  lotHash,
  lotLink,
  minute,
  plural,
  STATUSES,
  statusBadge,
} from './lot-parts.js';

const DEFAULTS = {
  /** Lots asked for per request; "Show more" asks for one page more. */
  pageSize: 50,
  refreshMs: 5000,
};

export function lotsView(app) {
  /** The filters ('' for all), how many lots to list, the lot shown (null: the list). */
  let material = '';
  let status = '';
  let wanted = DEFAULTS.pageSize;
  let selected = null;
  /** Materials seen in the lists, offered in the material filter. */
  const materials = new Set();
  /** One lot's page, shown instead of the list when the hash names a lot. */
  const lot = lotPage(app);

  // --- the lots list ---
  const search = h('input', {
    id: 'lot-search',
    type: 'search',
    name: 'lot',
    placeholder: 'lot number',
    'aria-label': 'lot number',
    autocomplete: 'off',
  });
  const searchForm = h(
    'form',
    { id: 'lot-search-form', class: 'lot-search' },
    search,
    h('button', { type: 'submit' }, 'Open'),
  );
  const materialList = h('datalist', { id: 'lot-materials' });
  const materialFilter = h('input', {
    id: 'lot-material',
    list: 'lot-materials',
    placeholder: 'all materials',
    'aria-label': 'material',
    autocomplete: 'off',
  });
  const statusFilter = h(
    'select',
    { id: 'lot-status', 'aria-label': 'status' },
    h('option', { value: '' }, 'all statuses'),
    STATUSES.map((s) => h('option', { value: s }, s)),
  );
  const lotsNote = h('p', { id: 'lots-note', class: 'note' });
  const lotRows = h('tbody', { id: 'lot-rows' });
  const lotsTable = h(
    'table',
    { id: 'lots' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Lot', 'Status', 'Material', 'Quantity', 'Initial', 'Origin', 'Order', 'Updated'].map(
          (t) => h('th', {}, t),
        ),
      ),
    ),
    lotRows,
  );
  const more = h('button', { id: 'lots-more', type: 'button', hidden: true }, 'Show more');
  const listSection = h(
    'section',
    { id: 'lot-list' },
    h('h2', {}, 'Lots '),
    h(
      'div',
      { class: 'lot-filters' },
      searchForm,
      h('label', {}, 'material ', materialFilter),
      h('label', {}, 'status ', statusFilter),
    ),
    materialList,
    lotsNote,
    lotsTable,
    more,
  );
  /** The lots the list shows, kept to narrow them by the search box between refreshes. */
  let listed = [];

  // Enter opens the lot of the number typed, or the one lot listed that has it in its number.
  searchForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = search.value.trim();
    if (text === '') return;
    const like = listed.filter((l) => l.id.toLowerCase().includes(text.toLowerCase()));
    const id = listed.some((l) => l.id === text) || like.length !== 1 ? text : like[0].id;
    // The search went to a lot: back at the list, all the lots show again.
    search.value = '';
    narrow();
    location.hash = lotHash(id);
  });
  search.addEventListener('input', () => narrow());
  materialFilter.addEventListener('change', () => {
    material = materialFilter.value.trim();
    wanted = DEFAULTS.pageSize;
    app.refresh();
  });
  statusFilter.addEventListener('change', () => {
    status = statusFilter.value;
    wanted = DEFAULTS.pageSize;
    app.refresh();
  });
  more.addEventListener('click', () => {
    wanted += DEFAULTS.pageSize;
    app.refresh();
  });
  lotRows.addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-lot]');
    if (tr !== null && ev.target.closest('a') === null) location.hash = lotHash(tr.dataset.lot);
  });

  /** Hide the listed lots whose number does not contain what the search box holds. */
  function narrow() {
    const text = search.value.trim().toLowerCase();
    let shown = 0;
    for (const tr of lotRows.children) {
      tr.hidden = text !== '' && !tr.dataset.lot.toLowerCase().includes(text);
      if (!tr.hidden) shown += 1;
    }
    const filters = [material, status].filter((f) => f !== '').join(', ');
    setText(
      lotsNote,
      listed.length === 0
        ? filters === ''
          ? 'no lots yet'
          : `no lots (${filters})`
        : text === ''
          ? ''
          : shown === 0
            ? `none of the ${plural(listed.length, 'lot')} listed has “${text}” in its number; Enter opens the lot of that number`
            : `${shown} of the ${plural(listed.length, 'lot')} listed`,
    );
    lotsTable.hidden = listed.length === 0;
  }

  function renderLots(items, hasMore) {
    listed = items;
    more.hidden = !hasMore;
    if (material === '' && status === '') {
      for (const l of items) materials.add(l.material);
    }
    const known = [...materials].sort();
    fill(materialList, JSON.stringify(known), () => known.map((m) => h('option', { value: m })));
    syncRows(
      lotRows,
      items,
      (l) => l.id,
      (l) =>
        h(
          'tr',
          { 'data-lot': l.id },
          h('td', {}, h('strong', {}, lotLink(l.id))),
          h('td'),
          h('td'),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td'),
          h('td'),
          h('td'),
        ),
      (tr, l) => {
        const td = tr.children;
        fill(td[1], l.status, () => statusBadge(l.status));
        setText(td[2], l.material);
        td[2].title = l.materialName ?? '';
        setText(td[3], `${l.quantity} ${l.uom}`);
        setText(td[4], `${l.initialQuantity} ${l.uom}`);
        setText(td[5], l.origin);
        setText(td[6], l.order ?? '');
        setText(td[7], minute(l.updatedAt));
      },
    );
    narrow();
  }

  /** The lots of a material and status ('' for all), page after page until `wanted`. */
  async function loadLots(ofMaterial, inStatus) {
    const items = [];
    let after = null;
    do {
      const res = inSession(
        await get(
          `/api/v1/lots${query({ material: ofMaterial, status: inStatus, limit: DEFAULTS.pageSize, after })}`,
        ),
      );
      if (!res.ok) return { refused: await refusal(res) };
      const page = await res.json();
      items.push(...page.lots);
      after = page.next;
    } while (after !== null && items.length < wanted);
    return { items, more: after !== null };
  }

  async function refreshList() {
    const filters = [material, status];
    const list = await loadLots(material, status);
    if (selected !== null || filters[0] !== material || filters[1] !== status) return;
    if (list.refused !== undefined) {
      listed = [];
      lotsTable.hidden = true;
      more.hidden = true;
      setText(
        lotsNote,
        list.refused.missing
          ? 'Lots are not available on this hub (it has no GET /api/v1/lots).'
          : `Lots cannot be shown: ${list.refused.message}`,
      );
    } else renderLots(list.items, list.more);
  }

  const element = h(
    'section',
    { id: 'lots-page', class: 'page', 'data-refreshes': '0' },
    lot.element,
    listSection,
  );

  return {
    name: 'lots',
    title: 'Lots',
    href: '#lots',
    element,
    refreshMs: DEFAULTS.refreshMs,
    owns: (hash) => hash === '#lots' || hash.startsWith('#lots/'),
    route(hash) {
      const next = lotFromHash(hash);
      if (next === selected) return false;
      selected = next;
      lot.select(selected);
      listSection.hidden = selected !== null;
      return true;
    },
    reset() {
      lot.clear();
      lotRows.replaceChildren();
      listed = [];
    },
    async refresh() {
      if (selected === null) await refreshList();
      else await lot.refresh();
      element.dataset.refreshes = String(Number(element.dataset.refreshes ?? 0) + 1);
    },
  };
}
