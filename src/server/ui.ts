/**
 * A minimal live view served at `/`: the work units of the hierarchy with their state, reason
 * and counters, refreshed every second from `/api/v1/equipment`. The full UI (web/) comes later;
 * this page has no build step so `npx millwright demo` shows something at once.
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
</style>
</head>
<body>
<h1>Millwright</h1>
<div id="meta">loading…</div>
<table>
  <thead><tr><th>Unit</th><th>State</th><th>Reason</th><th>Since</th><th>Good</th><th>Scrap</th><th>Total</th></tr></thead>
  <tbody id="units"></tbody>
</table>
<script>
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
async function refresh() {
  try {
    const [eq, health] = await Promise.all([fetch('/api/v1/equipment').then((r) => r.json()), fetch('/api/v1/health').then((r) => r.json())]);
    const rows = [];
    for (const e of eq.items) {
      if (e.level === 'workCenter') rows.push('<tr class="line"><td colspan="7">' + esc(e.name) + ' <small>' + esc(e.id) + '</small></td></tr>');
      if (e.level !== 'workUnit') continue;
      const s = e.status, c = e.counters;
      rows.push('<tr data-unit="' + esc(e.id) + '"><td>' + esc(e.name) + '</td><td><span class="state ' + esc(s.state) + '">' + esc(s.state) +
        '</span></td><td>' + esc(s.reasonCode ?? '') + '</td><td>' + esc(s.since ? new Date(s.since).toLocaleTimeString() : '') +
        '</td><td class="num">' + c.good.total + '</td><td class="num">' + c.scrap.total + '</td><td class="num">' + c.total.total + '</td></tr>');
    }
    document.getElementById('units').innerHTML = rows.join('');
    document.getElementById('meta').textContent = 'store ' + health.store.kind + ' · ' + health.status + ' · ' +
      health.ingest.committedSamples + ' samples committed · updated ' + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById('meta').textContent = 'cannot reach the hub: ' + err;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
