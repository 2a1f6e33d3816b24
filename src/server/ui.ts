/**
 * A minimal live view served at `/`: the work units of the hierarchy with their state, reason
 * and counters, refreshed every second from `/api/v1/equipment`. The full UI (web/) comes later;
 * this page has no build step so `npx millwright demo` shows something at once.
 *
 * Clicking a unit opens its panel (`#unit=<equipment id>`, so it can be linked and reloaded):
 * - Bindings (GET /api/v1/bindings?equipment=…): why the unit is in its state, in the words of
 *   `millwright explain UNIT` — each binding's inputs with their last reading, the value derived
 *   and the last reading refused.
 * - Stops (GET /api/v1/equipment/{id}/downtimes), times in the site's time zone; an unclassified
 *   stop can be given a reason and a comment (POST …/downtimes/{seq}/reason) by a user with
 *   `production.record`. The panel refreshes with the rest; rows are updated in place, so a
 *   half-typed comment survives the refresh.
 *
 * It logs in with POST /api/v1/auth/login, which sets the HttpOnly session cookie; the page
 * itself never holds the session secret. Data is put into the page as text nodes only (no
 * innerHTML); the script is inline, which the page's own Content-Security-Policy allows.
 */
import { UI_CSS } from './ui-style.ts';

export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Millwright</title>
<style>
${UI_CSS}</style>
</head>
<body>
<h1>Millwright</h1>
<div id="meta">loading…</div>
<div id="who" hidden><span id="user"></span><button id="logout" type="button">Log out</button></div>
<div id="error"></div>
<form id="login" hidden>
  <label>User name <input id="username" name="username" autocomplete="username" required></label>
  <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
  <label id="newpw" hidden>New password <input id="newPassword" type="password" autocomplete="new-password"></label>
  <button type="submit">Log in</button>
</form>
<table id="view" hidden>
  <thead><tr><th>Unit</th><th>State</th><th>Reason</th><th>Since</th><th>Good</th><th>Scrap</th><th>Total</th></tr></thead>
  <tbody id="units"></tbody>
</table>
<section id="today" hidden>
  <h2>Today <small>each site's own day, in its time zone (GET /api/v1/production/summary)</small></h2>
  <table>
    <thead><tr><th>Site</th><th>Line</th><th>Output of</th><th>Good</th><th>Scrap</th><th>Total</th></tr></thead>
    <tbody id="today-rows"></tbody>
  </table>
  <div id="today-materials"></div>
</section>
<section id="panel" hidden aria-labelledby="panel-title" data-refreshes="0">
  <header>
    <h2 id="panel-title"></h2><code id="panel-id"></code>
    <span id="panel-state" class="state"></span><span id="panel-reason"></span><span id="panel-since"></span>
    <button id="panel-close" type="button">Close</button>
  </header>
  <p id="panel-tz" class="note"></p>
  <p id="panel-materials"></p>
  <p id="panel-error" class="err" role="alert"></p>
  <div id="panel-body">
    <h3>Bindings <small>why the unit is in its state (as <code>millwright explain</code> prints it)</small></h3>
    <p id="bindings-note" class="note"></p>
    <table id="bindings">
      <thead><tr><th>Binding</th><th>Last reading of each input</th><th>Derived</th><th>Last reading refused</th></tr></thead>
      <tbody id="binding-rows"></tbody>
    </table>
    <h3>Stops <label><small>shown:</small> <select id="stops-window">
      <option value="28800000">last 8 hours</option>
      <option value="86400000" selected>last 24 hours</option>
      <option value="604800000">last 7 days</option>
    </select></label></h3>
    <p id="stops-note" class="note"></p>
    <table id="stops">
      <thead><tr><th>Start</th><th>Duration</th><th>State</th><th>PLC code</th><th>Reason</th><th>Micro-stop</th><th>Comment / classified by</th></tr></thead>
      <tbody id="stop-rows"></tbody>
    </table>
    <datalist id="reason-codes"></datalist>
  </div>
</section>
<script>
const $ = (id) => document.getElementById(id);
let timer = null;
/** Permissions of the logged-in user (GET /api/v1/auth/me). */
let permissions = new Set();
/** The unit whose panel is open (from the URL hash), or null. */
let selected = null;
/** The time zone the panel shows times in: the site's, else this browser's. */
let zone = { id: Intl.DateTimeFormat().resolvedOptions().timeZone, site: false };
/** Stops classified from this page (by seq), shown so until a list from the hub agrees. */
const classifiedHere = new Map();

/** An element with attributes and children; strings become text nodes, never markup. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'object' ? c : String(c));
  return el;
}
const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
/** Rebuild an element's children only when what they show changed. */
const shown = new WeakMap();
function fill(el, key, build) {
  if (shown.get(el) === key) return;
  shown.set(el, key);
  el.replaceChildren(...[build()].flat().filter((c) => c !== null && c !== undefined));
}
/**
 * Make tbody's rows those of items, in order, keyed: a row that stays is updated in place and
 * not moved, so a click or a half-typed input in it survives the refresh.
 */
function syncRows(tbody, items, keyOf, create, update) {
  const wanted = new Set(items.map((i) => String(keyOf(i))));
  const rows = new Map();
  for (const tr of [...tbody.children]) {
    if (wanted.has(tr.dataset.key)) rows.set(tr.dataset.key, tr); else tr.remove();
  }
  items.forEach((item, i) => {
    const key = String(keyOf(item));
    let tr = rows.get(key);
    if (tr === undefined) { tr = create(item); tr.dataset.key = key; }
    update(tr, item);
    const here = tbody.children[i];
    if (here !== tr) tbody.insertBefore(tr, here ?? null);
  });
}

const formats = new Map();
/** An ISO time as YYYY-MM-DD HH:MM:SS in a time zone (the panel's unless given). */
function at(iso, zoneId = zone.id) {
  if (iso === null || iso === undefined) return '';
  let f = formats.get(zoneId);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: zoneId, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formats.set(zoneId, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return p.year + '-' + p.month + '-' + p.day + ' ' + p.hour + ':' + p.minute + ':' + p.second;
}
const zones = new Map();
/** The site's zone when it has one this browser knows, else the browser's own. */
function zoneOf(timeZone) {
  let z = zones.get(timeZone ?? '');
  if (z === undefined) {
    z = { id: Intl.DateTimeFormat().resolvedOptions().timeZone, site: false };
    if (timeZone) {
      try { new Intl.DateTimeFormat('en-GB', { timeZone }); z = { id: timeZone, site: true }; } catch { /* unknown to this browser */ }
    }
    zones.set(timeZone ?? '', z);
  }
  return z;
}
function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + String(s % 60).padStart(2, '0') + ' s';
  return Math.floor(m / 60) + ' h ' + String(m % 60).padStart(2, '0') + ' min';
}
/** A tag value as \`millwright explain\` prints it: strings quoted. */
const value = (v) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** The login form; the refresh stops until a login. A message replaces the one shown, if given. */
function showLogin(message) {
  $('login').hidden = false; $('view').hidden = true; $('who').hidden = true; $('panel').hidden = true; $('today').hidden = true;
  if (message !== undefined) $('error').textContent = message;
  if (timer !== null) { clearInterval(timer); timer = null; }
}
async function problem(res) {
  try { const b = await res.json(); return b.error ? b.error.message : res.status + ' ' + res.statusText; } catch { return res.status + ' ' + res.statusText; }
}
const unitPath = (id) => '/api/v1/equipment/' + id.split('/').map(encodeURIComponent).join('/');

// --- the units table ---
function renderUnits(items) {
  const rows = items.filter((e) => e.level === 'workCenter' || e.level === 'workUnit');
  syncRows($('units'), rows, (e) => e.level + ':' + e.id, (e) => {
    if (e.level === 'workCenter') return h('tr', { class: 'line' }, h('td', { colspan: 7 }, h('span'), ' ', h('small')));
    return h('tr', { 'data-unit': e.id, tabindex: 0 }, h('td'), h('td', {}, h('span', { class: 'state' })), h('td'), h('td'),
      h('td', { class: 'num' }), h('td', { class: 'num' }), h('td', { class: 'num' }));
  }, (tr, e) => {
    if (e.level === 'workCenter') {
      setText(tr.querySelector('span'), e.name); setText(tr.querySelector('small'), e.id);
      return;
    }
    const s = e.status, c = e.counters, td = tr.children;
    setText(td[0], e.name);
    const badge = td[1].firstChild;
    setText(badge, s.state); badge.className = 'state ' + s.state;
    setText(td[2], s.reasonCode ?? '');
    // The time of day in the unit's site zone; the date and the zone on hover.
    const z = zoneOf(e.timeZone);
    setText(td[3], s.since ? at(s.since, z.id).slice(11) : '');
    td[3].title = s.since ? at(s.since, z.id) + ' (' + z.id + ')' : '';
    setText(td[4], String(c.good.total)); setText(td[5], String(c.scrap.total)); setText(td[6], String(c.total.total));
    tr.classList.toggle('selected', e.id === selected);
  });
}
/** Output per line and material used per site, over each site's local day. */
function renderToday(sites) {
  const lines = sites.flatMap((site) => site.lines.map((line) => ({ site, line })));
  syncRows($('today-rows'), lines, (x) => x.line.id, () =>
    h('tr', {}, h('td'), h('td'), h('td'), h('td', { class: 'num' }), h('td', { class: 'num' }), h('td', { class: 'num' })),
    (tr, { site, line }) => {
      const td = tr.children;
      setText(td[0], site.name + ' (' + site.day + ', ' + site.timeZone + ')');
      setText(td[1], line.name);
      setText(td[2], line.outputUnitId.split('/').at(-1));
      setText(td[3], String(line.counts.good)); setText(td[4], String(line.counts.scrap)); setText(td[5], String(line.counts.total));
    });
  const used = sites.filter((s) => s.consumption.length > 0)
    .map((s) => s.name + ': ' + s.consumption.map((c) => c.material + ' ' + c.quantity + ' ' + c.uom).join(' · '));
  fill($('today-materials'), JSON.stringify(used), () => used.map((u) => h('p', {}, 'Material used, ' + u)));
  $('today').hidden = lines.length === 0;
}
function openUnit(tr) {
  if (tr !== null) location.hash = 'unit=' + encodeURIComponent(tr.dataset.unit);
}
$('units').addEventListener('click', (ev) => openUnit(ev.target.closest('tr[data-unit]')));
$('units').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); openUnit(ev.target.closest('tr[data-unit]')); }
});

// --- the unit panel ---
function renderHeader(unit) {
  setText($('panel-title'), unit.name); setText($('panel-id'), unit.id);
  setText($('panel-state'), unit.status.state); $('panel-state').className = 'state ' + unit.status.state;
  setText($('panel-reason'), unit.status.reasonCode === null ? '' : '(' + unit.status.reasonCode + ')');
  setText($('panel-since'), unit.status.since ? 'since ' + at(unit.status.since) : '');
  setText($('panel-tz'), zone.site
    ? 'Times in ' + zone.id + ', the site’s time zone.'
    : 'Times in ' + zone.id + ', this browser’s time zone (the site has none).');
  // Material used since the hub first saw each source, in the material's unit (exact decimals).
  const used = (unit.materials ?? []).map((m) => m.material + ' ' + m.total + (m.uom === null ? '' : ' ' + m.uom));
  setText($('panel-materials'), used.length === 0 ? '' : 'Material used: ' + used.join(' · '));
}
function renderBindings(body) {
  const rows = body.items.flatMap((b) => b.units.map((u) => ({ b, u })));
  setText($('bindings-note'), rows.length === 0 ? 'no binding has read anything for this unit yet' : '');
  $('bindings').hidden = rows.length === 0;
  syncRows($('binding-rows'), rows, (r) => r.b.index, () => h('tr', {}, h('td'), h('td'), h('td'), h('td')), (tr, { b, u }) => {
    const td = tr.children;
    const source = b.topic ?? Object.entries(b.inputs ?? {}).map(([k, v]) => k + '=' + v).join(', ');
    fill(td[0], JSON.stringify([b.index, b.meaning, b.connection, source, b.expression]), () => [
      h('div', {}, h('strong', {}, 'bindings[' + b.index + '] ' + b.meaning), ' from ' + b.connection + ': ', h('code', {}, source)),
      b.expression === null ? null : h('div', {}, 'expression ', h('code', {}, b.expression)),
    ]);
    fill(td[1], JSON.stringify([u.inputs, zone.id]), () => h('ul', { class: 'inputs' }, Object.entries(u.inputs).map(([name, i]) =>
      h('li', { 'data-input': name },
        h('span', { class: 'mono' }, name), ' ', h('strong', { class: 'value mono' }, value(i.value)), ' ',
        h('span', { class: 'quality-' + i.quality }, i.quality + (i.status === null ? '' : ' (' + i.status + ')')),
        ' at ' + (i.at === null ? '?' : at(i.at)) + ' ', h('code', {}, '[' + i.tag + ']')))));
    fill(td[2], JSON.stringify([u.output, u.outputAt, zone.id]), () => [
      h('strong', { class: 'output mono' }, '→ ' + value(u.output)), u.outputAt === null ? null : ' at ' + at(u.outputAt)]);
    td[3].classList.toggle('refused', u.error !== null);
    setText(td[3], u.error ?? '—');
  });
}
function reasonCell(s) {
  if (s.reason === null) return h('span', { class: 'unclassified' }, 'unclassified');
  const r = s.reason;
  return [h('span', { class: 'reason-name' }, r.name), ' ', h('code', {}, '(' + r.code + ')'),
    ' · ' + r.category + (r.planned ? ' · planned' : ''),
    h('div', { class: 'note' }, s.reasonSource === 'plc' ? 'from the PLC code' : 'assigned')];
}
function classifyForm(seq) {
  const form = h('form', { class: 'classify', 'data-seq': seq },
    h('input', { name: 'reason', list: 'reason-codes', placeholder: 'reason code', 'aria-label': 'reason code', autocomplete: 'off', required: true }),
    h('input', { name: 'comment', placeholder: 'what happened', 'aria-label': 'comment', maxlength: 2000, required: true }),
    h('button', { type: 'submit' }, 'Classify'),
    h('span', { class: 'err', role: 'alert' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const unitId = selected, button = form.querySelector('button'), err = form.querySelector('.err');
    button.disabled = true; err.textContent = '';
    try {
      const res = await post(unitPath(unitId) + '/downtimes/' + seq + '/reason',
        { reason: form.elements.reason.value.trim(), comment: form.elements.comment.value });
      if (res.status === 401) return showLogin('');
      if (!res.ok) { err.textContent = await problem(res); return; }
      const stop = await res.json();
      const tr = form.closest('tr');
      if (unitId === selected) classifiedHere.set(stop.seq, stop);
      if (tr !== null && unitId === selected) updateStop(tr, stop);
      refresh();
    } catch (e) {
      err.textContent = 'cannot reach the hub: ' + e;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
function updateStop(tr, s) {
  const td = tr.children;
  tr.dataset.classified = s.reason === null ? 'no' : 'yes';
  setText(td[0], at(s.start));
  setText(td[1], duration(s.durationMs) + (s.end === null ? ' (ongoing)' : ''));
  const badge = td[2].firstChild;
  setText(badge, s.state); badge.className = 'state ' + s.state;
  setText(td[3], s.plcReasonCode ?? '—');
  fill(td[4], JSON.stringify([s.reason, s.reasonSource]), () => reasonCell(s));
  fill(td[5], String(s.microStop), () => (s.microStop ? h('span', { class: 'micro' }, 'micro-stop') : null));
  // The form is built once and left alone while the stop stays unclassified.
  const canClassify = s.reason === null && permissions.has('production.record');
  const key = canClassify ? 'form' : JSON.stringify([s.reason === null, s.comment, s.classifiedBy, s.classifiedAt, zone.id]);
  fill(td[6], key, () => {
    if (canClassify) return classifyForm(s.seq);
    if (s.reason === null) return h('span', { class: 'note' }, 'giving it a reason needs the permission production.record');
    if (s.comment === null) return null;
    return [h('div', { class: 'comment' }, s.comment),
      h('div', { class: 'note' }, 'by ' + s.classifiedBy + (s.classifiedAt === null ? '' : ' at ' + at(s.classifiedAt)))];
  });
}
function renderStops(listed) {
  // A list asked for before a classification was answered does not undo it on the page.
  const stops = listed.map((s) => {
    const mine = classifiedHere.get(s.seq);
    if (mine === undefined) return s;
    if (s.reason === null) return { ...mine, durationMs: s.durationMs, end: s.end };
    classifiedHere.delete(s.seq);
    return s;
  });
  const newestFirst = [...stops].reverse();
  setText($('stops-note'), stops.length === 0 ? 'no stops in this time' : '');
  $('stops').hidden = stops.length === 0;
  syncRows($('stop-rows'), newestFirst, (s) => s.seq,
    (s) => h('tr', { 'data-seq': s.seq }, h('td'), h('td', { class: 'num' }), h('td', {}, h('span', { class: 'state' })), h('td'), h('td'), h('td'), h('td')),
    updateStop);
  // Reason codes to pick from: the site's reason tree (GET …/reasons, read once per unit).
  const tree = reasonTrees.get(selected) ?? [];
  const codes = new Map();
  for (const r of tree) codes.set(r.code, r.name + ' · ' + r.category + (r.planned ? ' · planned' : ''));
  const list = [...codes].sort((a, b) => a[0].localeCompare(b[0]));
  fill($('reason-codes'), JSON.stringify(list), () => list.map(([code, label]) => h('option', { value: code }, label)));
}
const reasonTrees = new Map();
async function loadReasons(unitId) {
  if (reasonTrees.has(unitId)) return;
  const res = await fetch(unitPath(unitId) + '/reasons');
  if (res.ok) reasonTrees.set(unitId, (await res.json()).items);
}
async function renderPanel(unitId, items, bindingsRes, stopsRes) {
  const unit = items.find((e) => e.id === unitId);
  $('panel').hidden = false;
  if (unit === undefined || unit.level !== 'workUnit') {
    setText($('panel-title'), unitId); setText($('panel-id'), '');
    $('panel-body').hidden = true;
    setText($('panel-error'), unitId + ' is not a work unit of this hub');
    return;
  }
  $('panel-body').hidden = false;
  await loadReasons(unitId);
  zone = zoneOf(unit.timeZone);
  renderHeader(unit);
  const errors = [];
  if (bindingsRes === null) {
    setText($('bindings-note'), 'Reading the bindings needs the permission equipment.read.');
    $('bindings').hidden = true;
  } else if (!bindingsRes.ok) {
    setText($('bindings-note'), await problem(bindingsRes)); $('bindings').hidden = true;
  } else renderBindings(await bindingsRes.json());
  if (!stopsRes.ok) errors.push(await problem(stopsRes));
  else renderStops((await stopsRes.json()).items);
  setText($('panel-error'), errors.join('\\n'));
  $('panel').dataset.refreshes = String(Number($('panel').dataset.refreshes) + 1);
}
function unitFromHash() {
  const m = /^#unit=(.+)$/.exec(location.hash);
  if (m === null) return null;
  try { return decodeURIComponent(m[1]); } catch { return null; }
}
function onHash() {
  const next = unitFromHash();
  if (next === selected) return;
  selected = next;
  $('binding-rows').replaceChildren(); $('stop-rows').replaceChildren(); classifiedHere.clear();
  setText($('panel-error'), '');
  if (selected === null) { $('panel').hidden = true; $('panel').dataset.refreshes = '0'; }
  for (const tr of $('units').querySelectorAll('tr[data-unit]')) tr.classList.toggle('selected', tr.dataset.unit === selected);
  if (timer !== null) refresh();
}
window.addEventListener('hashchange', onHash);
$('panel-close').addEventListener('click', () => { location.hash = ''; });
$('stops-window').addEventListener('change', () => refresh());

let busy = false, again = false, refreshes = 0;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    const unitId = selected;
    const from = new Date(Date.now() - Number($('stops-window').value)).toISOString();
    const [eqRes, health, bindingsRes, stopsRes] = await Promise.all([
      fetch('/api/v1/equipment'),
      fetch('/api/v1/health').then((r) => r.json()),
      unitId === null || !permissions.has('equipment.read') ? null : fetch('/api/v1/bindings?equipment=' + encodeURIComponent(unitId)),
      unitId === null ? null : fetch(unitPath(unitId) + '/downtimes?from=' + encodeURIComponent(from)),
    ]);
    $('meta').textContent = 'store ' + health.store.kind + ' · ' + health.status + ' · ' +
      health.ingest.committedSamples + ' samples committed · updated ' + new Date().toLocaleTimeString();
    // Not logged in: the form, keeping what it says (a refused login's reason stays readable).
    if (eqRes.status === 401 || eqRes.status === 503 || eqRes.status === 403) return showLogin(eqRes.status === 401 ? undefined : await problem(eqRes));
    const eq = await eqRes.json();
    renderUnits(eq.items);
    // The day's totals read the journal: every 10 s is often enough.
    if (refreshes++ % 10 === 0) {
      const today = await fetch('/api/v1/production/summary');
      if (today.ok) renderToday((await today.json()).sites);
    }
    $('view').hidden = false; $('login').hidden = true;
    if (unitId !== null && unitId === selected) await renderPanel(unitId, eq.items, bindingsRes, stopsRes);
  } catch (err) {
    $('meta').textContent = 'cannot reach the hub: ' + err;
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}
async function start() {
  const me = await fetch('/api/v1/auth/me');
  if (me.ok) {
    const m = await me.json();
    permissions = new Set(m.permissions);
    $('user').textContent = 'logged in as ' + m.username; $('who').hidden = false; $('error').textContent = '';
  }
  selected = unitFromHash();
  refreshes = 0;
  $('binding-rows').replaceChildren(); $('stop-rows').replaceChildren(); classifiedHere.clear();
  await refresh();
  // Refresh every second while the view shows (not behind the login form).
  if (timer === null && !$('view').hidden) timer = setInterval(refresh, 1000);
}
const post = (url, body) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = $('username').value, password = $('password').value, newPassword = $('newPassword').value;
  if (!$('newpw').hidden && newPassword !== '') {
    const r = await post('/api/v1/auth/password', { username, currentPassword: password, newPassword });
    if (!r.ok) { $('error').textContent = await problem(r); return; }
    $('password').value = newPassword; $('newPassword').value = ''; $('newpw').hidden = true;
  }
  const res = await post('/api/v1/auth/login', { username, password: $('password').value });
  if (res.ok) { $('password').value = ''; return start(); }
  const b = await res.json().catch(() => ({}));
  if (b.error && b.error.code === 'MW_ERR_AUTH_PASSWORD_CHANGE_REQUIRED') $('newpw').hidden = false;
  $('error').textContent = b.error ? b.error.message : res.statusText;
});
$('logout').addEventListener('click', async () => {
  await fetch('/api/v1/auth/logout', { method: 'POST' });
  permissions = new Set();
  showLogin('logged out');
});
start();
</script>
</body>
</html>
`;
