/**
 * One work unit's panel, opened from the units table (`#unit=<equipment id>`, so it can be
 * linked and reloaded):
 * - Bindings (GET /api/v1/bindings?equipment=…): why the unit is in its state, in the words of
 *   `millwright explain UNIT` — each binding's inputs with their last reading, the value derived
 *   and the last reading refused.
 * - Stops (GET /api/v1/equipment/{id}/downtimes), times in the site's time zone; an unclassified
 *   stop can be given a reason and a comment (POST …/downtimes/{seq}/reason) by a user with
 *   `production.record`. Rows are updated in place, so a half-typed comment survives the refresh.
 */
import { get, inSession, post, problem, session, unitPath } from '../lib/api.js';
import { fill, h, setText, syncRows } from '../lib/dom.js';
import { at, duration, localZone, value, zoneOf } from '../lib/format.js';

/** How far back the stops list reaches: the choices, in ms (the middle one is the default). */
const STOP_WINDOWS = [
  { ms: 8 * 3_600_000, label: 'last 8 hours' },
  { ms: 24 * 3_600_000, label: 'last 24 hours', selected: true },
  { ms: 7 * 24 * 3_600_000, label: 'last 7 days' },
];

/**
 * The panel. `app.refresh()` asks for a refresh now, `app.loggedOut(message)` shows the login
 * form (a form's POST answered 401).
 */
export function unitPanel(app) {
  /** The unit whose panel is open, or null. */
  let selected = null;
  /** The time zone the panel shows times in: the site's, else this browser's. */
  let zone = localZone();
  /** Stops classified from this page (by seq), shown so until a list from the hub agrees. */
  const classifiedHere = new Map();
  /** Each unit's site reason tree (GET …/reasons, read once per unit). */
  const reasonTrees = new Map();

  const title = h('h2', { id: 'panel-title' });
  const idCode = h('code', { id: 'panel-id' });
  const state = h('span', { id: 'panel-state', class: 'state' });
  const reason = h('span', { id: 'panel-reason' });
  const since = h('span', { id: 'panel-since' });
  const close = h('button', { id: 'panel-close', type: 'button' }, 'Close');
  const tz = h('p', { id: 'panel-tz', class: 'note' });
  const materials = h('p', { id: 'panel-materials' });
  const error = h('p', { id: 'panel-error', class: 'err', role: 'alert' });
  const bindingsNote = h('p', { id: 'bindings-note', class: 'note' });
  const bindingRows = h('tbody', { id: 'binding-rows' });
  const bindings = h(
    'table',
    { id: 'bindings' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Binding'),
        h('th', {}, 'Last reading of each input'),
        h('th', {}, 'Derived'),
        h('th', {}, 'Last reading refused'),
      ),
    ),
    bindingRows,
  );
  const stopsWindow = h(
    'select',
    { id: 'stops-window' },
    STOP_WINDOWS.map((w) => h('option', { value: w.ms, selected: w.selected }, w.label)),
  );
  const stopsNote = h('p', { id: 'stops-note', class: 'note' });
  const stopRows = h('tbody', { id: 'stop-rows' });
  const stops = h(
    'table',
    { id: 'stops' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        [
          'Start',
          'Duration',
          'State',
          'PLC code',
          'Reason',
          'Micro-stop',
          'Comment / classified by',
        ].map((t) => h('th', {}, t)),
      ),
    ),
    stopRows,
  );
  const reasonCodes = h('datalist', { id: 'reason-codes' });
  const body = h(
    'div',
    { id: 'panel-body' },
    h(
      'h3',
      {},
      'Bindings ',
      h(
        'small',
        {},
        'why the unit is in its state (as ',
        h('code', {}, 'millwright explain'),
        ' prints it)',
      ),
    ),
    bindingsNote,
    bindings,
    h('h3', {}, 'Stops ', h('label', {}, h('small', {}, 'shown:'), ' ', stopsWindow)),
    stopsNote,
    stops,
    reasonCodes,
  );
  const element = h(
    'section',
    {
      id: 'panel',
      class: 'panel',
      hidden: true,
      'aria-labelledby': 'panel-title',
      'data-refreshes': '0',
    },
    h('header', {}, title, idCode, state, reason, since, close),
    tz,
    materials,
    error,
    body,
  );
  close.addEventListener('click', () => {
    location.hash = '';
  });
  stopsWindow.addEventListener('change', () => app.refresh());

  function renderHeader(unit) {
    setText(title, unit.name);
    setText(idCode, unit.id);
    setText(state, unit.status.state);
    state.className = `state ${unit.status.state}`;
    setText(reason, unit.status.reasonCode === null ? '' : `(${unit.status.reasonCode})`);
    setText(since, unit.status.since ? `since ${at(unit.status.since, zone.id)}` : '');
    setText(
      tz,
      zone.site
        ? `Times in ${zone.id}, the site’s time zone.`
        : `Times in ${zone.id}, this browser’s time zone (the site has none).`,
    );
    // Material used since the hub first saw each source, in the material's unit (exact decimals).
    const used = (unit.materials ?? []).map(
      (m) => m.material + ' ' + m.total + (m.uom === null ? '' : ' ' + m.uom),
    );
    setText(materials, used.length === 0 ? '' : `Material used: ${used.join(' · ')}`);
  }

  function renderBindings(answer) {
    const rows = answer.items.flatMap((b) => b.units.map((u) => ({ b, u })));
    setText(
      bindingsNote,
      rows.length === 0 ? 'no binding has read anything for this unit yet' : '',
    );
    bindings.hidden = rows.length === 0;
    syncRows(
      bindingRows,
      rows,
      (r) => r.b.index,
      () => h('tr', {}, h('td'), h('td'), h('td'), h('td')),
      (tr, { b, u }) => {
        const td = tr.children;
        const source =
          b.topic ??
          Object.entries(b.inputs ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(', ');
        fill(
          td[0],
          JSON.stringify([b.index, b.meaning, b.connection, source, b.expression]),
          () => [
            h(
              'div',
              {},
              h('strong', {}, `bindings[${b.index}] ${b.meaning}`),
              ` from ${b.connection}: `,
              h('code', {}, source),
            ),
            b.expression === null ? null : h('div', {}, 'expression ', h('code', {}, b.expression)),
          ],
        );
        fill(td[1], JSON.stringify([u.inputs, zone.id]), () =>
          h(
            'ul',
            { class: 'inputs' },
            Object.entries(u.inputs).map(([name, i]) =>
              h(
                'li',
                { 'data-input': name },
                h('span', { class: 'mono' }, name),
                ' ',
                h('strong', { class: 'value mono' }, value(i.value)),
                ' ',
                h(
                  'span',
                  { class: `quality-${i.quality}` },
                  i.quality + (i.status === null ? '' : ` (${i.status})`),
                ),
                ` at ${i.at === null ? '?' : at(i.at, zone.id)} `,
                h('code', {}, `[${i.tag}]`),
              ),
            ),
          ),
        );
        fill(td[2], JSON.stringify([u.output, u.outputAt, zone.id]), () => [
          h('strong', { class: 'output mono' }, `→ ${value(u.output)}`),
          u.outputAt === null ? null : ` at ${at(u.outputAt, zone.id)}`,
        ]);
        td[3].classList.toggle('refused', u.error !== null);
        setText(td[3], u.error ?? '—');
      },
    );
  }

  function reasonCell(s) {
    if (s.reason === null) return h('span', { class: 'unclassified' }, 'unclassified');
    const r = s.reason;
    return [
      h('span', { class: 'reason-name' }, r.name),
      ' ',
      h('code', {}, `(${r.code})`),
      ` · ${r.category}${r.planned ? ' · planned' : ''}`,
      h('div', { class: 'note' }, s.reasonSource === 'plc' ? 'from the PLC code' : 'assigned'),
    ];
  }

  function classifyForm(seq) {
    const form = h(
      'form',
      { class: 'classify', 'data-seq': seq },
      h('input', {
        name: 'reason',
        list: 'reason-codes',
        placeholder: 'reason code',
        'aria-label': 'reason code',
        autocomplete: 'off',
        required: true,
      }),
      h('input', {
        name: 'comment',
        placeholder: 'what happened',
        'aria-label': 'comment',
        maxlength: 2000,
        required: true,
      }),
      h('button', { type: 'submit' }, 'Classify'),
      h('span', { class: 'err', role: 'alert' }),
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const unitId = selected;
      const button = form.querySelector('button');
      const err = form.querySelector('.err');
      button.disabled = true;
      err.textContent = '';
      try {
        const res = await post(`${unitPath(unitId)}/downtimes/${seq}/reason`, {
          reason: form.elements.reason.value.trim(),
          comment: form.elements.comment.value,
        });
        if (res.status === 401) return app.loggedOut('');
        if (!res.ok) {
          err.textContent = await problem(res);
          return;
        }
        const stop = await res.json();
        const tr = form.closest('tr');
        if (unitId === selected) classifiedHere.set(stop.seq, stop);
        if (tr !== null && unitId === selected) updateStop(tr, stop);
        app.refresh();
      } catch (e) {
        err.textContent = `cannot reach the hub: ${e}`;
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  function updateStop(tr, s) {
    const td = tr.children;
    tr.dataset.classified = s.reason === null ? 'no' : 'yes';
    setText(td[0], at(s.start, zone.id));
    setText(td[1], duration(s.durationMs) + (s.end === null ? ' (ongoing)' : ''));
    const badge = td[2].firstChild;
    setText(badge, s.state);
    badge.className = `state ${s.state}`;
    setText(td[3], s.plcReasonCode ?? '—');
    fill(td[4], JSON.stringify([s.reason, s.reasonSource]), () => reasonCell(s));
    fill(td[5], String(s.microStop), () =>
      s.microStop ? h('span', { class: 'micro' }, 'micro-stop') : null,
    );
    // The form is built once and left alone while the stop stays unclassified.
    const canClassify = s.reason === null && session.permissions.has('production.record');
    const key = canClassify
      ? 'form'
      : JSON.stringify([s.reason === null, s.comment, s.classifiedBy, s.classifiedAt, zone.id]);
    fill(td[6], key, () => {
      if (canClassify) return classifyForm(s.seq);
      if (s.reason === null) {
        return h(
          'span',
          { class: 'note' },
          'giving it a reason needs the permission production.record',
        );
      }
      if (s.comment === null) return null;
      return [
        h('div', { class: 'comment' }, s.comment),
        h(
          'div',
          { class: 'note' },
          `by ${s.classifiedBy}${s.classifiedAt === null ? '' : ` at ${at(s.classifiedAt, zone.id)}`}`,
        ),
      ];
    });
  }

  function renderStops(listed) {
    // A list asked for before a classification was answered does not undo it on the page.
    const shown = listed.map((s) => {
      const mine = classifiedHere.get(s.seq);
      if (mine === undefined) return s;
      if (s.reason === null) return { ...mine, durationMs: s.durationMs, end: s.end };
      classifiedHere.delete(s.seq);
      return s;
    });
    const newestFirst = [...shown].reverse();
    setText(stopsNote, shown.length === 0 ? 'no stops in this time' : '');
    stops.hidden = shown.length === 0;
    syncRows(
      stopRows,
      newestFirst,
      (s) => s.seq,
      (s) =>
        h(
          'tr',
          { 'data-seq': s.seq },
          h('td'),
          h('td', { class: 'num' }),
          h('td', {}, h('span', { class: 'state' })),
          h('td'),
          h('td'),
          h('td'),
          h('td'),
        ),
      updateStop,
    );
    // Reason codes to pick from: the site's reason tree.
    const tree = reasonTrees.get(selected) ?? [];
    const codes = new Map();
    for (const r of tree)
      codes.set(r.code, `${r.name} · ${r.category}${r.planned ? ' · planned' : ''}`);
    const list = [...codes].sort((a, b) => a[0].localeCompare(b[0]));
    fill(reasonCodes, JSON.stringify(list), () =>
      list.map(([code, label]) => h('option', { value: code }, label)),
    );
  }

  async function loadReasons(unitId) {
    if (reasonTrees.has(unitId)) return;
    const res = await get(`${unitPath(unitId)}/reasons`);
    if (res.ok) reasonTrees.set(unitId, (await res.json()).items);
  }

  /** Forget the rows shown (another unit, or a new session). */
  function clear() {
    bindingRows.replaceChildren();
    stopRows.replaceChildren();
    classifiedHere.clear();
  }

  return {
    element,
    get selected() {
      return selected;
    },
    /** Open the panel of a unit (null: close it); true when that changed what is shown. */
    select(unitId) {
      if (unitId === selected) return false;
      selected = unitId;
      clear();
      setText(error, '');
      if (selected === null) {
        element.hidden = true;
        element.dataset.refreshes = '0';
      }
      return true;
    },
    /** A new session: rows are built again for the new user's permissions. */
    reset: clear,
    /** Start the panel's requests for a unit (null for none): [bindings, stops] answers. */
    fetch(unitId) {
      if (unitId === null) return Promise.resolve(null);
      const from = new Date(Date.now() - Number(stopsWindow.value)).toISOString();
      return Promise.all([
        session.permissions.has('equipment.read')
          ? get(`/api/v1/bindings?equipment=${encodeURIComponent(unitId)}`)
          : null,
        get(`${unitPath(unitId)}/downtimes?from=${encodeURIComponent(from)}`),
      ]);
    },
    /** Show the unit from the equipment list and the answers fetch() got. */
    async render(unitId, items, [bindingsRes, stopsRes]) {
      inSession(bindingsRes);
      inSession(stopsRes);
      const unit = items.find((e) => e.id === unitId);
      element.hidden = false;
      if (unit === undefined || unit.level !== 'workUnit') {
        setText(title, unitId);
        setText(idCode, '');
        body.hidden = true;
        setText(error, `${unitId} is not a work unit of this hub`);
        return;
      }
      body.hidden = false;
      await loadReasons(unitId);
      zone = zoneOf(unit.timeZone);
      renderHeader(unit);
      const errors = [];
      if (bindingsRes === null) {
        setText(bindingsNote, 'Reading the bindings needs the permission equipment.read.');
        bindings.hidden = true;
      } else if (!bindingsRes.ok) {
        setText(bindingsNote, await problem(bindingsRes));
        bindings.hidden = true;
      } else renderBindings(await bindingsRes.json());
      if (!stopsRes.ok) errors.push(await problem(stopsRes));
      else renderStops((await stopsRes.json()).items);
      setText(error, errors.join('\n'));
      element.dataset.refreshes = String(Number(element.dataset.refreshes) + 1);
    },
  };
}
