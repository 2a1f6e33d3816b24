/**
 * One lot's page of the Lots page (`#lots/<lot number, encoded>`, issue #12, docs/quality.md;
 * shown by lots.js): the lot (GET /api/v1/lots/{id}) with its fields and properties; its quality
 * holds and the forms that place and release them (lot-holds.js); its inspections with their
 * results against the limits (lot-inspections.js); its genealogy both ways
 * (GET …/trace, as a graph) drawn with Cytoscape.js (web/lib/trace-graph.js) and listed in two
 * tables (the lots and the links between them) for those who do not see the drawing; the recall
 * (GET …/recall): the finished lots made from it and the orders that made them. Without the
 * graph library the tables still show, with a line saying why the drawing does not.
 *
 * A hub without these routes (404 MW_ERR_API_NOT_FOUND) gets a line saying so, not a broken page.
 * Elements are built once and rows updated in place, so what is typed in a form survives the
 * refresh.
 */
import { get, inSession, lotPath, query, refusal } from '../lib/api.js';
import { fill, forget, h, setText, syncRows } from '../lib/dom.js';
import { at, localZone } from '../lib/format.js';
import { traceGraph } from '../lib/trace-graph.js';
import { lotHolds } from './lot-holds.js';
import { lotInspections } from './lot-inspections.js';
import { lotHash, lotLink, minute, plural, STATUSES, statusBadge } from './lot-parts.js';

const DEFAULTS = {
  /** Levels the trace follows each way (the API's depth). */
  traceDepth: 20,
};

/** Where a trace node lies from the lot shown: its level as words. */
function levelText(level) {
  if (level === 0) return 'this lot';
  return level < 0 ? `${-level} back` : `${level} forward`;
}

/**
 * One lot's page: `element` is its section; `select(lot number)` chooses the lot shown (null:
 * none) and forgets what the page showed, `refresh()` reads and shows it, `clear()` forgets
 * what it showed (a new session comes next).
 */
export function lotPage(app) {
  /** The lot shown, null for none. */
  let shown = null;

  const inspections = lotInspections();
  const lotTitle = h('h2', { id: 'lot-title' });
  const lotBadge = h('span', { id: 'lot-badge' });
  const lotError = h('p', { id: 'lot-error', class: 'err', role: 'alert' });
  const lotFacts = h('dl', { id: 'lot-facts', class: 'facts' });
  const lotProperties = h('dl', { id: 'lot-properties', class: 'facts' });
  const propertiesNote = h('p', { id: 'properties-note', class: 'note' });
  const holds = lotHolds(app, () => shown);

  const traceNote = h('p', { id: 'trace-note', class: 'note' });
  const graphNote = h('p', { id: 'graph-note', class: 'note' });
  const graphBox = h('div', {
    id: 'trace-graph',
    class: 'graph-box',
    role: 'img',
    'aria-label': 'the genealogy of the lot as a graph; the tables below list the same',
  });
  const graph = traceGraph(graphBox, (id) => {
    location.hash = lotHash(id);
  });
  const legend = h(
    'figcaption',
    { class: 'legend' },
    STATUSES.map((s) => h('span', {}, h('span', { class: `swatch status-${s}` }), s)),
    h('span', {}, h('span', { class: 'swatch current' }), 'the lot shown'),
    h('span', { class: 'note' }, 'material flows left to right; click a lot to open it'),
  );
  const traceFigure = h('figure', { id: 'trace' }, graphBox, legend);
  const nodeRows = h('tbody', { id: 'trace-node-rows' });
  const nodesTable = h(
    'table',
    { id: 'trace-nodes' },
    h('caption', {}, 'Lots in the genealogy'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Lot', 'Material', 'Quantity', 'Status', 'Holds', 'Level', 'Order'].map((t) =>
          h('th', {}, t),
        ),
      ),
    ),
    nodeRows,
  );
  const edgeRows = h('tbody', { id: 'trace-edge-rows' });
  const edgesTable = h(
    'table',
    { id: 'trace-edges' },
    h('caption', {}, 'Links: material from one lot into another'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['From', 'To', 'Quantity', 'Kind', 'Order', 'Operation', 'Equipment', 'At'].map((t) =>
          h('th', {}, t),
        ),
      ),
    ),
    edgeRows,
  );

  const recallNote = h('p', { id: 'recall-note', class: 'note' });
  const recallLots = h('ul', { id: 'recall-lots', class: 'recall' });
  const recallOrders = h('ul', { id: 'recall-orders', class: 'recall' });
  const recallBody = h(
    'div',
    { id: 'recall-body' },
    h('h4', {}, 'Finished lots'),
    recallLots,
    h('h4', {}, 'Orders that made them'),
    recallOrders,
  );

  const lotBody = h(
    'div',
    { id: 'lot-body' },
    lotFacts,
    h('h3', {}, 'Properties'),
    propertiesNote,
    lotProperties,
    h('h3', {}, 'Quality holds'),
    holds.parts,
    h('h3', {}, 'Inspections'),
    inspections.parts,
    h(
      'h3',
      {},
      'Genealogy ',
      h('small', {}, `where from and where used, up to ${DEFAULTS.traceDepth} levels each way`),
    ),
    traceNote,
    graphNote,
    traceFigure,
    nodesTable,
    edgesTable,
    h(
      'h3',
      {},
      'Recall ',
      h('small', {}, 'the finished lots made from this one, and the orders that made them'),
    ),
    recallNote,
    recallBody,
  );
  const lotSection = h(
    'section',
    { id: 'lot-panel', class: 'panel', hidden: true, 'aria-labelledby': 'lot-title' },
    h('header', {}, lotTitle, lotBadge, h('a', { id: 'lot-back', href: '#lots' }, 'All lots')),
    lotError,
    lotBody,
  );

  function fact(term, text) {
    return text === null || text === undefined || text === ''
      ? null
      : [h('dt', {}, term), h('dd', {}, text)];
  }

  function renderLot(lot) {
    lotBody.hidden = false;
    setText(lotError, '');
    setText(lotTitle, `Lot ${lot.id}`);
    fill(lotBadge, lot.status, () => statusBadge(lot.status));
    fill(lotFacts, JSON.stringify(lot), () =>
      [
        fact('Material', `${lot.material}${lot.materialName ? ` · ${lot.materialName}` : ''}`),
        fact('Quantity', `${lot.quantity} ${lot.uom} left of ${lot.initialQuantity} ${lot.uom}`),
        fact('Origin', lot.origin),
        lot.parent === null || lot.parent === undefined
          ? null
          : [h('dt', {}, 'Split from'), h('dd', {}, lotLink(lot.parent))],
        lot.order === null || lot.order === undefined
          ? null
          : [
              h('dt', {}, 'Order'),
              h(
                'dd',
                {},
                h('a', { href: `#order=${encodeURIComponent(lot.order)}` }, lot.order),
                lot.operation ? ` · operation ${lot.operation}` : '',
              ),
            ],
        fact('Location', lot.location),
        fact('Source', lot.source),
        fact('Made or received', at(lot.at)),
        fact('Updated', `${at(lot.updatedAt)} (version ${lot.version})`),
        fact('Times', `in ${localZone().id}, this browser’s time zone`),
      ]
        .filter((x) => x !== null)
        .flat(),
    );
    const props = Object.entries(lot.properties ?? {}).sort((a, b) => a[0].localeCompare(b[0]));
    setText(propertiesNote, props.length === 0 ? 'none' : '');
    lotProperties.hidden = props.length === 0;
    fill(lotProperties, JSON.stringify(props), () =>
      props.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    );
    holds.render(lot);
  }

  async function renderTrace(trace, lotId) {
    const nodes = [...trace.nodes].sort((a, b) => a.level - b.level || a.id.localeCompare(b.id));
    setText(
      traceNote,
      `${plural(nodes.length, 'lot')} and ${plural(trace.edges.length, 'link')}` +
        (trace.truncated ? ` — the trace stops at ${trace.depth} levels; there is more` : ''),
    );
    syncRows(
      nodeRows,
      nodes,
      (n) => n.id,
      (n) =>
        h(
          'tr',
          { 'data-lot': n.id },
          h('td', {}, lotLink(n.id)),
          h('td'),
          h('td', { class: 'num' }),
          h('td'),
          h('td', { class: 'num' }),
          h('td'),
          h('td'),
        ),
      (tr, n) => {
        const td = tr.children;
        setText(td[1], n.material);
        setText(td[2], `${n.quantity} ${n.uom}`);
        fill(td[3], n.status, () => statusBadge(n.status));
        setText(td[4], String(n.holds));
        setText(td[5], levelText(n.level));
        setText(td[6], n.order ?? '');
        tr.classList.toggle('current', n.id === lotId);
      },
    );
    // Links have no id: one is keyed by what it moved, and how many such came before it.
    const seen = new Map();
    const links = trace.edges.map((e) => {
      const what = JSON.stringify([e.from, e.to, e.at, e.quantity, e.uom]);
      seen.set(what, (seen.get(what) ?? 0) + 1);
      return { ...e, key: `${what}#${seen.get(what)}` };
    });
    syncRows(
      edgeRows,
      links,
      (e) => e.key,
      (e) =>
        h(
          'tr',
          { 'data-from': e.from, 'data-to': e.to },
          h('td', {}, lotLink(e.from)),
          h('td', {}, lotLink(e.to)),
          h('td', { class: 'num' }),
          h('td'),
          h('td'),
          h('td'),
          h('td', {}, h('code')),
          h('td'),
        ),
      (tr, e) => {
        const td = tr.children;
        setText(td[2], `${e.quantity} ${e.uom}`);
        setText(td[3], e.kind);
        setText(td[4], e.order ?? '');
        setText(td[5], e.operation ?? '');
        setText(td[6].firstChild, e.equipment ?? '');
        setText(td[7], minute(e.at));
      },
    );
    nodesTable.hidden = false;
    edgesTable.hidden = trace.edges.length === 0;
    try {
      await graph.draw(trace, lotId);
      traceFigure.hidden = false;
      setText(graphNote, '');
    } catch (err) {
      traceFigure.hidden = true;
      setText(graphNote, `The graph cannot be drawn: ${err.message}. The tables list it all.`);
    }
  }

  function renderRecall(recall) {
    setText(
      recallNote,
      recall.finished.length === 0
        ? 'no finished lot is made from this one'
        : `${plural(recall.finished.length, 'finished lot')} by ` +
            `${plural(recall.orders.length, 'order')}; ${plural(recall.lots, 'lot')} in all ` +
            'are made from this one' +
            (recall.truncated ? ' (the trace was cut short: there may be more)' : ''),
    );
    recallBody.hidden = recall.finished.length === 0;
    fill(recallLots, JSON.stringify(recall.finished), () =>
      recall.finished.map((n) =>
        h(
          'li',
          { 'data-lot': n.id },
          lotLink(n.id),
          ` · ${n.material} · ${n.quantity} ${n.uom} `,
          statusBadge(n.status),
          n.order ? ` · order ${n.order}` : '',
        ),
      ),
    );
    fill(recallOrders, JSON.stringify(recall.orders), () =>
      recall.orders.length === 0
        ? h('li', { class: 'note' }, 'none (made without an order)')
        : recall.orders.map((o) =>
            h('li', { 'data-order': o }, h('a', { href: `#order=${encodeURIComponent(o)}` }, o)),
          ),
    );
  }

  /** Forget what the lot shown showed (another lot, or a new session, comes next). */
  function clearLot() {
    holds.clear();
    inspections.clear();
    nodeRows.replaceChildren();
    edgeRows.replaceChildren();
    for (const el of [lotFacts, lotProperties, lotBadge, recallLots, recallOrders]) {
      el.replaceChildren();
      forget(el);
    }
    for (const el of [lotError, traceNote, graphNote, recallNote]) setText(el, '');
    graph.clear();
    lotBody.hidden = true;
  }

  async function refreshLot(lotId) {
    const path = lotPath(lotId);
    const [one, trace, recall, inspected] = await Promise.all([
      get(path).then(inSession),
      get(
        `${path}/trace${query({ direction: 'both', depth: DEFAULTS.traceDepth, shape: 'graph' })}`,
      ).then(inSession),
      get(`${path}/recall`).then(inSession),
      get(`${path}/inspections`).then(inSession),
    ]);
    if (lotId !== shown) return;
    lotSection.hidden = false;
    if (!one.ok) {
      const refused = await refusal(one);
      if (lotId !== shown) return;
      lotBody.hidden = true;
      setText(lotTitle, `Lot ${lotId}`);
      lotBadge.replaceChildren();
      forget(lotBadge);
      setText(lotError, refused.missing ? 'Lots are not available on this hub.' : refused.message);
      return;
    }
    const [lot, traced, recalled, inspectionList] = await Promise.all([
      one.json(),
      trace.ok ? trace.json() : refusal(trace),
      recall.ok ? recall.json() : refusal(recall),
      inspected.ok ? inspected.json() : { inspections: [] },
    ]);
    if (lotId !== shown) return;
    renderLot(lot);
    inspections.render(inspectionList.inspections);
    if (trace.ok) await renderTrace(traced, lotId);
    else {
      traceFigure.hidden = true;
      nodesTable.hidden = true;
      edgesTable.hidden = true;
      setText(graphNote, '');
      setText(traceNote, `The genealogy cannot be shown: ${traced.message}`);
    }
    if (recall.ok) renderRecall(recalled);
    else {
      recallBody.hidden = true;
      setText(recallNote, `The recall cannot be shown: ${recalled.message}`);
    }
  }

  return {
    element: lotSection,
    select(lotId) {
      shown = lotId;
      clearLot();
      lotSection.hidden = true;
    },
    clear: clearLot,
    refresh: () => refreshLot(shown),
  };
}
