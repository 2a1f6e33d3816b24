/**
 * The orders page (`#orders`; `#order=<order id>` opens one order's panel, so it can be linked):
 * - the orders (GET /api/v1/orders), filtered by status: status, material, good against the
 *   planned quantity, scrap, planned start and priority;
 * - one order (GET /api/v1/orders/{id}): its operations with their equipment, status, counts and
 *   times, and the actions its status allows (POST /api/v1/orders/{id}/{action}, with a reason
 *   for the audit trail);
 * - the outbox (GET /api/v1/outbox): pending, delivered and dead messages per enterprise target,
 *   and the dead letters with their last error, each to replay or discard with a reason.
 *
 * A hub without these routes (404 MW_ERR_API_NOT_FOUND) gets a line saying so, not a broken page.
 * Forms are built once and rows updated in place, so a half-typed reason survives the refresh.
 */
import { get, inSession, orderPath, post, problem, query, session } from '../lib/api.js';
import { fill, forget, h, setText, syncRows } from '../lib/dom.js';
import { at, localZone } from '../lib/format.js';

/** OrderView.status, in lifecycle order (src/model/order.ts ORDER_STATUSES). */
const STATUSES = ['released', 'dispatched', 'running', 'held', 'completed', 'closed', 'cancelled'];
/** The actions an order may allow, in lifecycle order, with their button text. */
const ACTIONS = [
  ['dispatch', 'Dispatch'],
  ['start', 'Start'],
  ['hold', 'Hold'],
  ['resume', 'Resume'],
  ['complete', 'Complete'],
  ['close', 'Close'],
  ['cancel', 'Cancel'],
];
const DEFAULTS = {
  /** Orders asked for per request; "Show more" asks for one page more. */
  pageSize: 50,
  /** Dead letters listed (the counts per target cover them all). */
  deadLetters: 100,
  refreshMs: 2000,
};

/** The code the hub answers for a route it does not have (src/errors.ts). */
const NO_ROUTE = 'MW_ERR_API_NOT_FOUND';

/**
 * What a refused answer says: `{ missing: true }` when the hub has no such route (this hub has
 * no orders API yet), else the hub's message.
 */
async function refusal(res) {
  const body = await res.json().catch(() => null);
  const error = body?.error;
  return {
    missing: res.status === 404 && (error === undefined || error?.code === NO_ROUTE),
    message: error?.message ?? `${res.status} ${res.statusText}`,
  };
}

/** Decimal text as a number for a bar's length (the text itself is shown as the hub sent it). */
const amount = (text) => {
  const n = Number(text);
  return Number.isFinite(n) ? n : 0;
};

/** A time to the minute, in this browser's zone. */
const minute = (ms) => (ms === null || ms === undefined ? '' : at(ms).slice(0, 16));

const statusBadge = (status) => h('span', { class: `status status-${status}` }, status);

/** Good against planned: a bar and the numbers. */
function progress(good, quantity, uom) {
  const planned = amount(quantity);
  const share = planned > 0 ? Math.min(1, amount(good) / planned) : 0;
  const bar = h('span', { class: 'bar' });
  // Through the CSSOM: the page's CSP (style-src 'self') refuses style="" attributes, not this.
  bar.style.width = `${(share * 100).toFixed(1)}%`;
  return h(
    'div',
    { class: 'progress' },
    h(
      'div',
      {
        class: 'track',
        role: 'progressbar',
        'aria-valuemin': 0,
        'aria-valuemax': planned,
        'aria-valuenow': amount(good),
        'aria-label': 'good against planned',
      },
      bar,
    ),
    h('span', { class: 'figures' }, `${good} / ${quantity} ${uom}`),
  );
}

/** A reason form for one of a dead letter's buttons: Replay or Discard. */
function reasonForm(action, onSubmit, onCancel) {
  const form = h(
    'form',
    { class: 'reason-form', 'data-action': action },
    h('input', {
      name: 'reason',
      placeholder: `why ${action}?`,
      'aria-label': `reason to ${action}`,
      autocomplete: 'off',
      maxlength: 2000,
      required: true,
    }),
    h('button', { type: 'submit' }, action === 'replay' ? 'Replay' : 'Discard'),
    h('button', { type: 'button', class: 'cancel' }, 'Cancel'),
    h('span', { class: 'err', role: 'alert' }),
  );
  form.querySelector('.cancel').addEventListener('click', onCancel);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button[type=submit]');
    const err = form.querySelector('.err');
    button.disabled = true;
    err.textContent = '';
    try {
      const refused = await onSubmit(form.elements.reason.value.trim());
      if (refused !== null) err.textContent = refused;
    } catch (e) {
      err.textContent = `cannot reach the hub: ${e}`;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export function ordersView(app) {
  /** The status filter ('' for all), how many orders to list, the order whose panel is open. */
  let status = '';
  let wanted = DEFAULTS.pageSize;
  let selected = null;
  /** Dead letters replayed or discarded here, left out until the hub's list agrees. */
  const settledHere = new Set();

  // --- the order's panel ---
  const orderTitle = h('h2', { id: 'order-title' });
  const orderBadge = h('span', { id: 'order-badge' });
  const orderClose = h('button', { id: 'order-close', type: 'button' }, 'Close');
  const orderError = h('p', { id: 'order-error', class: 'err', role: 'alert' });
  const orderFacts = h('dl', { id: 'order-facts', class: 'facts' });
  const operationRows = h('tbody', { id: 'operation-rows' });
  const actionButtons = h('span', { class: 'buttons' });
  const actionOperation = h('select', { name: 'operation', 'aria-label': 'operation' });
  const actionNote = h('span', { class: 'note' });
  const actionError = h('span', { class: 'err', role: 'alert' });
  const actions = h(
    'form',
    { id: 'order-actions', class: 'actions' },
    h('input', {
      name: 'reason',
      placeholder: 'reason (kept in the audit trail)',
      'aria-label': 'reason',
      autocomplete: 'off',
      maxlength: 2000,
    }),
    h('label', { class: 'operation' }, 'for ', actionOperation),
    actionButtons,
    actionNote,
    actionError,
  );
  const orderBody = h(
    'div',
    { id: 'order-body' },
    orderFacts,
    h('h3', {}, 'Operations'),
    h(
      'table',
      { id: 'operations' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            'Operation',
            'Equipment',
            'Counted at',
            'Status',
            'Good',
            'Scrap',
            'Started',
            'Completed',
          ].map((t) => h('th', {}, t)),
        ),
      ),
      operationRows,
    ),
    h('h3', {}, 'Actions'),
    actions,
  );
  const panel = h(
    'section',
    { id: 'order-panel', class: 'panel', hidden: true, 'aria-labelledby': 'order-title' },
    h('header', {}, orderTitle, orderBadge, orderClose),
    orderError,
    orderBody,
  );
  orderClose.addEventListener('click', () => {
    location.hash = 'orders';
  });

  function fact(term, text) {
    return text === null || text === undefined || text === ''
      ? null
      : [h('dt', {}, term), h('dd', {}, text)];
  }

  function renderOrder(order) {
    panel.hidden = false;
    orderBody.hidden = false;
    setText(orderError, '');
    setText(orderTitle, `Order ${order.id}`);
    fill(orderBadge, order.status, () => statusBadge(order.status));
    const planned =
      order.plannedStart === null && order.plannedEnd === null
        ? null
        : `${minute(order.plannedStart) || '?'} – ${minute(order.plannedEnd) || '?'}`;
    fill(orderFacts, JSON.stringify(order), () =>
      [
        fact('Material', `${order.material}${order.description ? ` · ${order.description}` : ''}`),
        [
          h('dt', {}, 'Good'),
          h('dd', {}, progress(order.produced.good, order.quantity, order.uom)),
        ],
        fact('Scrap', `${order.produced.scrap} ${order.uom}`),
        fact('Lot', order.lot),
        fact('Planned', planned),
        fact('Priority', String(order.priority)),
        fact('Updated', `${at(order.updatedAt)} (version ${order.version})`),
        fact('Times', `in ${localZone().id}, this browser’s time zone`),
      ]
        .filter((x) => x !== null)
        .flat(),
    );
    syncRows(
      operationRows,
      order.operations,
      (op) => op.id,
      (op) =>
        h(
          'tr',
          { 'data-operation': op.id },
          h('td'),
          h('td', {}, h('code')),
          h('td', {}, h('code')),
          h('td'),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td'),
          h('td'),
        ),
      (tr, op) => {
        const td = tr.children;
        setText(td[0], op.id);
        setText(td[1].firstChild, op.equipment);
        setText(td[2].firstChild, op.countingUnit);
        fill(td[3], op.status, () => statusBadge(op.status));
        setText(td[4], op.good);
        setText(td[5], op.scrap);
        setText(td[6], op.startedAt === null ? '' : at(op.startedAt));
        setText(td[7], op.completedAt === null ? '' : at(op.completedAt));
      },
    );
    // The buttons follow the status; the reason typed stays.
    const mayAct = session.permissions.has('orders.manage');
    const allowed = mayAct ? ACTIONS.filter(([a]) => order.allowedActions.includes(a)) : [];
    fill(actionButtons, JSON.stringify(allowed), () =>
      allowed.map(([a, label]) =>
        h('button', { type: 'submit', name: 'action', value: a, 'data-action': a }, label),
      ),
    );
    setText(
      actionNote,
      !mayAct
        ? 'acting on an order needs the permission orders.manage'
        : allowed.length === 0
          ? `no action is allowed on a ${order.status} order`
          : '',
    );
    actions.querySelector('input[name=reason]').hidden = allowed.length === 0;
    const ops = order.operations.map((op) => op.id);
    fill(actionOperation, JSON.stringify(ops), () => [
      h('option', { value: '' }, 'the next operation (start) / all (complete)'),
      ops.map((id) => h('option', { value: id }, `operation ${id}`)),
    ]);
    actionOperation.parentElement.hidden = allowed.length === 0 || ops.length < 2;
  }

  actions.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const action = ev.submitter?.dataset.action;
    const orderId = selected;
    if (action === undefined || orderId === null) return;
    const reason = actions.elements.reason.value.trim();
    const operation = actionOperation.parentElement.hidden ? '' : actionOperation.value;
    const buttons = [...actionButtons.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    setText(actionError, '');
    try {
      const res = await post(`${orderPath(orderId)}/${action}`, {
        ...(reason === '' ? {} : { reason }),
        ...(operation === '' ? {} : { operation }),
      });
      if (res.status === 401) return app.loggedOut('');
      if (!res.ok) {
        setText(actionError, await problem(res));
        return;
      }
      const order = await res.json();
      actions.elements.reason.value = '';
      if (orderId === selected) renderOrder(order);
      app.refresh();
    } catch (e) {
      setText(actionError, `cannot reach the hub: ${e}`);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  });

  // --- the orders list ---
  const statusFilter = h(
    'select',
    { id: 'order-filter', 'aria-label': 'status' },
    h('option', { value: '' }, 'all statuses'),
    STATUSES.map((s) => h('option', { value: s }, s)),
  );
  const ordersNote = h('p', { id: 'orders-note', class: 'note' });
  const orderRows = h('tbody', { id: 'order-rows' });
  const ordersTable = h(
    'table',
    { id: 'orders' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Order', 'Status', 'Material', 'Good / planned', 'Scrap', 'Planned start', 'Priority'].map(
          (t) => h('th', {}, t),
        ),
      ),
    ),
    orderRows,
  );
  const more = h('button', { id: 'orders-more', type: 'button', hidden: true }, 'Show more');
  statusFilter.addEventListener('change', () => {
    status = statusFilter.value;
    wanted = DEFAULTS.pageSize;
    app.refresh();
  });
  more.addEventListener('click', () => {
    wanted += DEFAULTS.pageSize;
    app.refresh();
  });
  function openOrder(tr) {
    if (tr !== null) location.hash = `order=${encodeURIComponent(tr.dataset.order)}`;
  }
  orderRows.addEventListener('click', (ev) => openOrder(ev.target.closest('tr[data-order]')));
  orderRows.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      openOrder(ev.target.closest('tr[data-order]'));
    }
  });

  function renderOrders(items, hasMore) {
    setText(
      ordersNote,
      items.length === 0
        ? status === ''
          ? 'no orders yet'
          : `no ${status} orders`
        : `Times in ${localZone().id}, this browser’s time zone.`,
    );
    ordersTable.hidden = items.length === 0;
    more.hidden = !hasMore;
    syncRows(
      orderRows,
      items,
      (o) => o.id,
      (o) =>
        h(
          'tr',
          { 'data-order': o.id, tabindex: 0 },
          h('td', {}, h('strong')),
          h('td'),
          h('td'),
          h('td'),
          h('td', { class: 'num' }),
          h('td'),
          h('td', { class: 'num' }),
        ),
      (tr, o) => {
        const td = tr.children;
        setText(td[0].firstChild, o.id);
        fill(td[1], o.status, () => statusBadge(o.status));
        setText(td[2], o.material);
        fill(td[3], JSON.stringify([o.produced.good, o.quantity, o.uom]), () =>
          progress(o.produced.good, o.quantity, o.uom),
        );
        setText(td[4], o.produced.scrap);
        setText(td[5], minute(o.plannedStart));
        setText(td[6], String(o.priority));
        tr.classList.toggle('selected', o.id === selected);
      },
    );
  }

  /** The orders in a status ('' for all), page after page until `wanted` (the hub's cursor). */
  async function loadOrders(inStatus) {
    const items = [];
    let cursor = null;
    do {
      const res = inSession(
        await get(`/api/v1/orders${query({ status: inStatus, limit: DEFAULTS.pageSize, cursor })}`),
      );
      if (!res.ok) return { refused: await refusal(res) };
      const page = await res.json();
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null && items.length < wanted);
    return { items, more: cursor !== null };
  }

  // --- the outbox ---
  const outboxNote = h('p', { id: 'outbox-note', class: 'note' });
  const countRows = h('tbody', { id: 'outbox-count-rows' });
  const countsTable = h(
    'table',
    { id: 'outbox-counts' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Target', 'Pending', 'Delivered', 'Dead', 'Discarded'].map((t) => h('th', {}, t)),
      ),
    ),
    countRows,
  );
  const deadNote = h('p', { id: 'dead-note', class: 'note' });
  const deadRows = h('tbody', { id: 'dead-rows' });
  const deadTable = h(
    'table',
    { id: 'dead-letters' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Message', 'Target', 'Type', 'Order', 'Attempts', 'Last error', 'Created', ''].map((t) =>
          h('th', {}, t),
        ),
      ),
    ),
    deadRows,
  );
  const outbox = h(
    'section',
    { id: 'outbox' },
    h('h2', {}, 'Outbox ', h('small', {}, 'messages to the enterprise systems, per target')),
    outboxNote,
    countsTable,
    h(
      'h3',
      {},
      'Dead letters ',
      h('small', {}, 'delivery gave up: replay or discard, with a reason'),
    ),
    deadNote,
    deadTable,
  );

  /** The Replay and Discard buttons of a dead letter, or the reason form of one of them. */
  function deadActions(cell, id) {
    if (!session.permissions.has('outbox.manage')) {
      cell.replaceChildren(
        h('span', { class: 'note' }, 'replaying needs the permission outbox.manage'),
      );
      return;
    }
    const buttons = h(
      'span',
      { class: 'buttons' },
      h('button', { type: 'button', 'data-action': 'replay' }, 'Replay'),
      h('button', { type: 'button', 'data-action': 'discard' }, 'Discard'),
    );
    buttons.addEventListener('click', (ev) => {
      const action = ev.target.closest('button')?.dataset.action;
      if (action === undefined) return;
      const form = reasonForm(
        action,
        async (reason) => {
          const res = await post(`/api/v1/outbox/${id}/${action}`, { reason });
          if (res.status === 401) {
            app.loggedOut('');
            return null;
          }
          if (!res.ok) return problem(res);
          settledHere.add(id);
          cell.closest('tr')?.remove();
          app.refresh();
          return null;
        },
        () => cell.replaceChildren(buttons),
      );
      cell.replaceChildren(form);
      form.elements.reason.focus();
    });
    cell.replaceChildren(buttons);
  }

  function renderOutbox(answer) {
    setText(outboxNote, '');
    const targets = Object.entries(answer.counts ?? {}).sort((a, b) => a[0].localeCompare(b[0]));
    countsTable.hidden = targets.length === 0;
    if (targets.length === 0) setText(outboxNote, 'no enterprise target has had a message yet');
    syncRows(
      countRows,
      targets,
      ([target]) => target,
      ([target]) =>
        h(
          'tr',
          { 'data-target': target },
          h('td'),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
          h('td', { class: 'num' }),
        ),
      (tr, [target, c]) => {
        const td = tr.children;
        setText(td[0], target);
        setText(td[1], String(c.pending));
        setText(td[2], String(c.delivered));
        setText(td[3], String(c.dead));
        setText(td[4], String(c.discarded ?? 0));
        tr.classList.toggle('has-dead', c.dead > 0);
      },
    );
    const listed = answer.items.map((m) => m.id);
    for (const id of settledHere) if (!listed.includes(id)) settledHere.delete(id);
    const dead = answer.items.filter((m) => !settledHere.has(m.id));
    const totalDead = targets.reduce((n, [, c]) => n + c.dead, 0);
    deadTable.hidden = dead.length === 0;
    setText(
      deadNote,
      dead.length === 0
        ? 'none'
        : answer.nextCursor === null
          ? ''
          : `the first ${dead.length} of ${totalDead} are listed`,
    );
    syncRows(
      deadRows,
      dead,
      (m) => m.id,
      (m) => {
        const tr = h(
          'tr',
          { 'data-message': m.id },
          h('td', { class: 'num' }),
          h('td'),
          h('td'),
          h('td'),
          h('td', { class: 'num' }),
          h('td', { class: 'last-error' }),
          h('td'),
          h('td', { class: 'dead-actions' }),
        );
        deadActions(tr.lastChild, m.id);
        return tr;
      },
      (tr, m) => {
        const td = tr.children;
        setText(td[0], String(m.id));
        setText(td[1], m.target);
        setText(td[2], m.type);
        setText(td[3], m.orderId ?? '');
        setText(td[4], String(m.attempts));
        setText(td[5], m.lastError ?? '');
        setText(td[6], minute(m.createdAt));
      },
    );
  }

  const element = h(
    'section',
    { id: 'orders-page', class: 'page', 'data-refreshes': '0' },
    panel,
    h(
      'section',
      { id: 'order-list' },
      h('h2', {}, 'Orders '),
      h('label', {}, 'status ', statusFilter),
      ordersNote,
      ordersTable,
      more,
    ),
    outbox,
  );

  return {
    name: 'orders',
    title: 'Orders',
    href: '#orders',
    element,
    refreshMs: DEFAULTS.refreshMs,
    owns: (hash) => hash === '#orders' || hash.startsWith('#order='),
    route(hash) {
      const next = orderFromHash(hash);
      if (next === selected) return false;
      selected = next;
      operationRows.replaceChildren();
      actions.reset();
      setText(actionError, '');
      panel.hidden = true;
      for (const tr of orderRows.querySelectorAll('tr[data-order]')) {
        tr.classList.toggle('selected', tr.dataset.order === selected);
      }
      return true;
    },
    reset() {
      settledHere.clear();
      deadRows.replaceChildren();
    },
    async refresh() {
      const orderId = selected;
      const filter = status;
      const [list, box, one] = await Promise.all([
        loadOrders(filter),
        session.permissions.has('outbox.read')
          ? get(`/api/v1/outbox${query({ status: 'dead', limit: DEFAULTS.deadLetters })}`).then(
              inSession,
            )
          : null,
        orderId === null ? null : get(orderPath(orderId)).then(inSession),
      ]);
      if (list.refused !== undefined) {
        ordersTable.hidden = true;
        more.hidden = true;
        setText(
          ordersNote,
          list.refused.missing
            ? 'Orders are not available on this hub (it has no GET /api/v1/orders).'
            : `Orders cannot be shown: ${list.refused.message}`,
        );
      } else if (filter === status) renderOrders(list.items, list.more);

      if (box === null) {
        countsTable.hidden = true;
        deadTable.hidden = true;
        setText(deadNote, '');
        setText(outboxNote, 'Seeing the outbox needs the permission outbox.read.');
      } else if (box.ok) renderOutbox(await box.json());
      else {
        const refused = await refusal(box);
        countsTable.hidden = true;
        deadTable.hidden = true;
        setText(deadNote, '');
        setText(
          outboxNote,
          refused.missing
            ? 'The outbox is not available on this hub (it has no GET /api/v1/outbox).'
            : `The outbox cannot be shown: ${refused.message}`,
        );
      }

      if (orderId !== null && orderId === selected) {
        if (one.ok) renderOrder(await one.json());
        else {
          const refused = await refusal(one);
          panel.hidden = false;
          orderBody.hidden = true;
          setText(orderTitle, `Order ${orderId}`);
          orderBadge.replaceChildren();
          forget(orderBadge);
          setText(
            orderError,
            refused.missing && list.refused?.missing
              ? 'Orders are not available on this hub.'
              : refused.message,
          );
        }
      }
      element.dataset.refreshes = String(Number(element.dataset.refreshes ?? 0) + 1);
    },
  };
}

function orderFromHash(hash) {
  const m = /^#order=(.+)$/.exec(hash);
  if (m === null) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}
