/**
 * `millwright orders import|list` and `millwright outbox list|show|replay|discard` against a
 * real hub whose ERP refuses (400) the first messages: the dead letters are listed, replayed
 * with a reason once the ERP accepts, and the rest of the order follows.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import {
  adminHeaders,
  call,
  startTestHub,
  tempDir,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';
import { peer, type Peer } from '../enterprise/erp-peers.ts';

const LINE = 'acme/plant1/packaging/line1';

describe('millwright orders and outbox commands', () => {
  let erp: Peer;
  let hub: TestHub;
  let token: string;
  let accept = false;
  const tmp = tempDir('mw-outbox-cli-');
  const cli = (...args: string[]) =>
    runCli([...args, '--url', hub.url!], { MILLWRIGHT_TOKEN: token });

  before(async () => {
    erp = await peer((_req, res) =>
      res.writeHead(accept ? 200 : 400).end('{"error":"unknown plant"}'),
    );
    hub = await startTestHub(
      testConfig(`
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler }]
targets:
  - { id: erp, type: webhook, url: '${erp.url}/in', messages: [order.started, order.cancelled] }
`),
    );
    const admin = await adminHeaders(hub);
    const created = await call(hub, 'POST', '/api/v1/tokens', {
      headers: admin,
      body: { name: 'cli', role: 'admin' },
    });
    assert.equal(created.status, 201, created.text);
    token = created.body.token as string;
  });

  after(async () => {
    await hub?.dispose();
    await erp?.close();
    tmp.remove();
  });

  it('imports a CSV file of orders and lists them', async () => {
    const file = path.join(tmp.dir, 'orders.csv');
    writeFileSync(
      file,
      [
        'order_id,material,quantity,uom,operation,equipment',
        `A-1,FG-1L,100,H87,0010,${LINE}`,
        `A-2,FG-1L,50,H87,0010,${LINE}`,
        '',
      ].join('\r\n'),
    );
    const ran = await cli('orders', 'import', file);
    assert.equal(ran.status, 0, ran.stderr);
    assert.match(ran.stdout, /order A-1: created/);
    assert.match(ran.stdout, /2 order\(s\), 0 material\(s\), 0 lot\(s\) imported/);
    const list = await cli('orders', 'list', '--status', 'released');
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^A-1\s+released\s+FG-1L\s+0 \/ 100 H87/m);
    const bad = path.join(tmp.dir, 'bad.csv');
    writeFileSync(
      bad,
      'order_id,material,quantity,uom,operation,equipment\r\nA-3,FG,many,H87,0010,x\r\n',
    );
    const refused = await cli('orders', 'import', bad);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /422 MW_ERR_CSV_INVALID/);
  });

  it('lists dead letters, refuses a replay without a reason, replays and discards', async () => {
    for (const id of ['A-1', 'A-2']) {
      await call(hub, 'POST', `/api/v1/orders/${id}/dispatch`, {
        headers: { authorization: `Bearer ${token}` },
        body: {},
      });
      await call(hub, 'POST', `/api/v1/orders/${id}/start`, {
        headers: { authorization: `Bearer ${token}` },
        body: {},
      });
    }
    await waitFor(async () => (await hub.store.countOutbox()).erp?.dead === 2, {
      what: 'two dead letters',
    });
    const dead = await cli('outbox', 'list', '--status', 'dead');
    assert.equal(dead.status, 0, dead.stderr);
    assert.match(dead.stdout, /^erp: 0 pending, 0 delivered, 2 dead, 0 discarded$/m);
    assert.match(dead.stdout, /HTTP 400/);
    const ids = [...dead.stdout.matchAll(/^(\d+)\s+erp\s+(A-\d)\s+order\.started\s+dead/gm)].map(
      (m): [string, string] => [m[1]!, m[2]!],
    );
    assert.equal(ids.length, 2);
    const show = await cli('outbox', 'show', ids[0]![0]);
    assert.equal(show.status, 0);
    assert.equal(JSON.parse(show.stdout).payload.type, 'order.started');
    const noReason = await cli('outbox', 'replay', ids[0]![0]);
    assert.equal(noReason.status, 1);
    assert.match(noReason.stderr, /give --reason/);
    accept = true;
    const replayed = await cli(
      'outbox',
      'replay',
      ids[0]![0],
      '--reason',
      'plant code fixed in the ERP',
    );
    assert.equal(replayed.status, 0, replayed.stderr);
    assert.match(replayed.stdout, /pending again/);
    const discarded = await cli(
      'outbox',
      'discard',
      ids[1]![0],
      '--reason',
      'started by hand in the ERP',
    );
    assert.equal(discarded.status, 0, discarded.stderr);
    await waitFor(async () => (await hub.store.countOutbox()).erp?.delivered === 1, {
      what: 'the replayed message delivered',
    });
    const counts = (await hub.store.countOutbox()).erp;
    assert.deepEqual(counts, { pending: 0, delivered: 1, dead: 0, discarded: 1 });
    const trail = await hub.store.listAudit({ entityType: 'outbox', limit: 10 });
    assert.deepEqual(
      trail.map((a) => a.action),
      ['outbox.replay', 'outbox.discard'],
    );
    assert.match(trail[0]!.reason ?? '', /^plant code fixed in the ERP/);
    const again = await cli('outbox', 'replay', ids[1]![0], '--reason', 'no');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /409 MW_ERR_OUTBOX_NOT_DEAD/);
  });

  it('check-config --connect reaches each target and names the one that does not answer', async () => {
    const file = path.join(tmp.dir, 'targets.yaml');
    writeFileSync(
      file,
      `enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas: [{ id: packaging, lines: [{ id: line1, units: [{ id: filler }] }] }]
targets:
  - { id: erp, type: webhook, url: '${erp.url}/in' }
  - { id: drop, type: folder, path: '${tmp.dir}' }
  - { id: gone, type: webhook, url: 'http://127.0.0.1:1/in', timeout: 2s }
`,
    );
    const ran = await runCli(['check-config', '-c', file, '--connect']);
    assert.equal(ran.status, 1, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /target erp \(webhook\): reachable/);
    assert.match(ran.stdout, /target drop \(folder\): reachable/);
    assert.match(ran.stdout, /target gone \(webhook\): NOT reachable: .*ECONNREFUSED/);
  });
});
