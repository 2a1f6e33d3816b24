/**
 * A minimal live view served at `/`: the work units of the hierarchy with their state, reason
 * and counters, refreshed every second from `/api/v1/equipment`. The full UI (web/) comes later;
 * this page has no build step so `npx millwright demo` shows something at once.
 *
 * It logs in with POST /api/v1/auth/login, which sets the HttpOnly session cookie; the page
 * itself never holds the session secret.
 */
export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Millwright</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  #meta { color: #5b6475; margin-bottom: 1rem; }
  table { border-collapse: collapse; min-width: 48rem; }
  th, td { text-align: left; padding: .35rem .7rem; border-bottom: 1px solid #e3e6ec; }
  th { font-weight: 600; background: #f5f6f8; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { display: inline-block; min-width: 6.5rem; padding: .1rem .5rem; border-radius: .3rem; color: #fff; font-weight: 600; }
  .running { background: #1f8a4c; } .idle { background: #8a8f99; } .down { background: #c62828; }
  .changeover { background: #b26a00; } .planned-stop { background: #5468c4; } .starved, .blocked { background: #8e44ad; }
  .unknown { background: #444; }
  .line td { background: #fafbfc; font-weight: 600; }
  .line small { color: #8a8f99; font-weight: 400; margin-left: .5rem; }
  form { display: grid; gap: .5rem; max-width: 20rem; margin: 1rem 0; }
  input, button { font: inherit; padding: .35rem .5rem; }
  #error { color: #c62828; white-space: pre-wrap; }
  #who button { margin-left: .5rem; }
  [hidden] { display: none !important; }
</style>
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
<script>
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const $ = (id) => document.getElementById(id);
let timer = null;
function showLogin(message) {
  $('login').hidden = false; $('view').hidden = true; $('who').hidden = true;
  $('error').textContent = message ?? '';
  if (timer !== null) { clearInterval(timer); timer = null; }
}
async function problem(res) {
  try { const b = await res.json(); return b.error ? b.error.message : res.statusText; } catch { return res.statusText; }
}
async function refresh() {
  try {
    const [eqRes, health] = await Promise.all([fetch('/api/v1/equipment'), fetch('/api/v1/health').then((r) => r.json())]);
    $('meta').textContent = 'store ' + health.store.kind + ' · ' + health.status + ' · ' +
      health.ingest.committedSamples + ' samples committed · updated ' + new Date().toLocaleTimeString();
    if (eqRes.status === 401 || eqRes.status === 503 || eqRes.status === 403) return showLogin(eqRes.status === 401 ? '' : await problem(eqRes));
    const eq = await eqRes.json();
    const rows = [];
    for (const e of eq.items) {
      if (e.level === 'workCenter') rows.push('<tr class="line"><td colspan="7">' + esc(e.name) + ' <small>' + esc(e.id) + '</small></td></tr>');
      if (e.level !== 'workUnit') continue;
      const s = e.status, c = e.counters;
      rows.push('<tr data-unit="' + esc(e.id) + '"><td>' + esc(e.name) + '</td><td><span class="state ' + esc(s.state) + '">' + esc(s.state) +
        '</span></td><td>' + esc(s.reasonCode ?? '') + '</td><td>' + esc(s.since ? new Date(s.since).toLocaleTimeString() : '') +
        '</td><td class="num">' + c.good.total + '</td><td class="num">' + c.scrap.total + '</td><td class="num">' + c.total.total + '</td></tr>');
    }
    $('units').innerHTML = rows.join('');
    $('view').hidden = false; $('login').hidden = true;
  } catch (err) {
    $('meta').textContent = 'cannot reach the hub: ' + err;
  }
}
async function start() {
  const me = await fetch('/api/v1/auth/me');
  if (me.ok) {
    const m = await me.json();
    $('user').textContent = 'logged in as ' + m.username; $('who').hidden = false; $('error').textContent = '';
  }
  await refresh();
  if (timer === null) timer = setInterval(refresh, 1000);
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
  showLogin('logged out');
});
start();
</script>
</body>
</html>
`;
