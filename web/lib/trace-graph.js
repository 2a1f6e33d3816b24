/**
 * The genealogy of a lot drawn as a graph (the Lots page, web/views/lot-page.js): its lots as
 * nodes coloured by status, the links between them as arrows in the direction material flows.
 *
 * The graph library is Cytoscape.js 3, its ES module build served by the hub from node_modules
 * (`/vendor/cytoscape/dist/`, see src/server/web.ts) and imported on the first draw. It draws on
 * canvas and sets its elements' styles through the CSSOM, which the page's CSP allows; the one
 * <style> element it would add is kept out (keepCytoscapeStyleOut). Without the library, draw()
 * rejects saying why, and the page says so beside its tables.
 */
import { h } from './dom.js';

/**
 * The graph's colour of each status (LotView.status, src/model/lot.ts LOT_STATUSES): the canvas
 * takes colours as values, so they are here, the same as the `.status-<status>` badges of
 * style.css.
 */
const STATUS_COLOR = {
  available: '#1f8a4c',
  'on-hold': '#c62828',
  consumed: '#8a8f99',
  shipped: '#2a4d8f',
  scrapped: '#3d4350',
};
const UNKNOWN_COLOR = '#444444';
const DEFAULTS = {
  /** Cytoscape.js's ES module build (no imports of its own). */
  graphModule: '/vendor/cytoscape/dist/cytoscape.esm.min.mjs',
  /** Space around the graph when it is fitted to its box, in CSS pixels. */
  graphPaddingPx: 24,
};

let graphLibrary = null;
/** Cytoscape.js, imported once (same origin: the CSP allows it); rejects if the hub lacks it. */
function cytoscapeJs() {
  if (graphLibrary === null) {
    graphLibrary = import(DEFAULTS.graphModule).then(
      (m) => m.default,
      (err) => {
        graphLibrary = null; // asked again at the next refresh
        throw new Error(
          `the hub does not serve ${DEFAULTS.graphModule} (cytoscape not installed?): ${err.message}`,
        );
      },
    );
  }
  return graphLibrary;
}

/**
 * Cytoscape's renderer adds a <style> element (`.__________cytoscape_container { position:
 * relative }`) to the head unless an element of its id is there. The page's CSP (style-src
 * 'self') refuses inline style, so that element would only be a violation report: a placeholder
 * of that id keeps it out, and style.css has the rule.
 */
function keepCytoscapeStyleOut() {
  const id = '__________cytoscape_stylesheet';
  if (document.getElementById(id) === null) {
    document.head.append(h('meta', { id, name: 'cytoscape-style', content: 'in style.css' }));
  }
}

/** The graph's look: nodes coloured by status (on hold: red octagons), the lot shown ringed. */
const GRAPH_STYLE = [
  {
    selector: 'node',
    style: {
      shape: 'round-rectangle',
      'background-color': (n) => STATUS_COLOR[n.data('status')] ?? UNKNOWN_COLOR,
      label: 'data(label)',
      'text-wrap': 'wrap',
      'text-valign': 'center',
      'text-halign': 'center',
      color: '#ffffff',
      'font-family': 'system-ui, sans-serif',
      'font-size': 11,
      width: (n) => n.data('width'),
      height: 36,
    },
  },
  { selector: 'node[status = "on-hold"]', style: { shape: 'octagon', 'font-weight': 'bold' } },
  {
    selector: 'node[?current]',
    style: {
      'border-width': 3,
      'border-color': '#1d2330',
      'underlay-color': '#f2b705',
      'underlay-padding': 6,
      'underlay-opacity': 0.8,
      'font-weight': 'bold',
    },
  },
  {
    selector: 'edge',
    style: {
      width: 2,
      'curve-style': 'bezier',
      // Darker than a consumed lot's grey, so the two are told apart.
      'line-color': '#5b6475',
      'target-arrow-color': '#5b6475',
      'target-arrow-shape': 'triangle',
      label: 'data(label)',
      'font-family': 'system-ui, sans-serif',
      'font-size': 10,
      color: '#1d2330',
      'text-rotation': 'autorotate',
      'text-background-color': '#ffffff',
      'text-background-opacity': 1,
      'text-background-padding': 2,
    },
  },
];

/** A node's label, and a width that holds its longer line. */
function nodeData(node, current) {
  const label = `${node.id}\n${node.material}`;
  const longest = Math.max(...label.split('\n').map((l) => l.length));
  return {
    id: `lot:${node.id}`,
    lot: node.id,
    label,
    status: node.status,
    current: node.id === current,
    width: Math.max(90, 7 * longest + 20),
  };
}

/**
 * The trace drawn in `box`: made at the first draw, its elements replaced when the genealogy
 * shown changed (and laid out again), else only their data (a status, a hold) updated.
 * Clicking a lot calls `open(lot number)`. `box.dataset.nodes/edges` say what the graph holds.
 */
export function traceGraph(box, open) {
  let cy = null;
  let shapeShown = null;
  /** Whether the elements shown have positions (a box without a size, hidden, has none). */
  let laidOut = false;
  const hasSize = () => box.clientWidth > 0 && box.clientHeight > 0;

  /**
   * Material flows from the inputs (the lots of the trace made from none of its lots)
   * rightwards; the genealogy has no cycles (MW_ERR_LOT_CYCLE), so `acyclic` holds and every
   * link points one level further right at least. Laid out in a hidden box, the graph would
   * be squeezed into nothing: it waits until the box is shown (the resize event).
   */
  function layOut() {
    laidOut = hasSize();
    if (!laidOut) return;
    // Cytoscape learns of a box shown again only a moment later (its ResizeObserver is
    // debounced): it takes the size now.
    cy.resize();
    cy.layout({
      name: 'breadthfirst',
      directed: true,
      roots: cy.nodes().roots(),
      acyclic: true,
      direction: 'rightward',
      spacingFactor: 1.1,
      padding: DEFAULTS.graphPaddingPx,
      animate: false,
    }).run();
  }

  async function draw(trace, current) {
    const cytoscape = await cytoscapeJs();
    const nodeIds = new Set(trace.nodes.map((n) => n.id));
    // A link to a lot beyond a truncated trace has no node to end at: it is left out.
    const edges = trace.edges.filter((e) => nodeIds.has(e.from) && nodeIds.has(e.to));
    if (cy === null) {
      keepCytoscapeStyleOut();
      cy = cytoscape({
        container: box,
        style: GRAPH_STYLE,
        boxSelectionEnabled: false,
        autounselectify: true,
        minZoom: 0.2,
        maxZoom: 3,
      });
      cy.on('tap', 'node', (ev) => open(ev.target.data('lot')));
      cy.on('mouseover', 'node', () => box.classList.add('pointing'));
      cy.on('mouseout', 'node', () => box.classList.remove('pointing'));
      // Resized with the window, or shown: lay out what waits for a box with a size, else fit
      // the graph to its box (never to a hidden one).
      cy.on('resize', () => {
        if (!hasSize()) return;
        if (laidOut) cy.fit(undefined, DEFAULTS.graphPaddingPx);
        else layOut();
      });
    }
    const shape = JSON.stringify([
      current,
      [...nodeIds].sort(),
      edges.map((e) => [e.from, e.to, e.quantity, e.uom]),
    ]);
    if (shape === shapeShown) {
      for (const n of trace.nodes) cy.getElementById(`lot:${n.id}`).data(nodeData(n, current));
      if (!laidOut) layOut();
    } else {
      shapeShown = shape;
      cy.batch(() => {
        cy.elements().remove();
        cy.add([
          ...trace.nodes.map((n) => ({ group: 'nodes', data: nodeData(n, current) })),
          ...edges.map((e, i) => ({
            group: 'edges',
            data: {
              id: `link:${i}`,
              source: `lot:${e.from}`,
              target: `lot:${e.to}`,
              label: `${e.quantity} ${e.uom}`,
            },
          })),
        ]);
      });
      layOut();
    }
    box.dataset.nodes = String(cy.nodes().length);
    box.dataset.edges = String(cy.edges().length);
    box.dataset.lot = current;
  }

  function clear() {
    shapeShown = null;
    laidOut = false;
    cy?.elements().remove();
    delete box.dataset.nodes;
    delete box.dataset.edges;
    delete box.dataset.lot;
  }

  return { draw, clear };
}
