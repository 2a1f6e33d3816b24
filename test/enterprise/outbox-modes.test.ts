/**
 * The dispatcher's two modes against real receivers:
 * - realtime: a receiver that keeps one order's request hanging holds up only that order —
 *   the other orders' messages are delivered meanwhile (a pool, not rounds);
 * - batch: every due message goes out as one CSV file per scheduled run, in order, and a run
 *   that fails (the folder is away) is retried with backoff until it lands.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import {
  adminHeaders,
  call,
  startTestHub,
  tempDir,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';
import { peer, type Peer } from './erp-peers.ts';

const PLANT = `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler }]
`;
const LINE = 'acme/plant1/packaging/line1';

async function order(hub: TestHub, admin: Record<string, string>, id: string, actions: string[]) {
  const created = await call(hub, 'POST', '/api/v1/orders', {
    headers: admin,
    body: {
      externalId: id,
      material: 'FG',
      quantity: '10',
      uom: 'H87',
      operations: [{ id: '0010', equipment: LINE }],
    },
  });
  assert.equal(created.status, 201, created.text);
  for (const a of actions) {
    const r = await call(hub, 'POST', `/api/v1/orders/${id}/${a}`, { headers: admin, body: {} });
    assert.equal(r.status, 200, r.text);
  }
}

describe('realtime: one hanging order does not hold up the others', () => {
  let erp: Peer;
  let hub: TestHub;
  let admin: Record<string, string>;
  const hanging: (() => void)[] = [];

  before(async () => {
    erp = await peer((req, res) => {
      if (req.headers['x-millwright-order'] === 'SLOW')
        hanging.push(() => res.writeHead(200).end());
      else res.writeHead(200).end();
    });
    hub = await startTestHub(
      testConfig(`${PLANT}
targets:
  - { id: erp, type: webhook, url: '${erp.url}/in', timeout: 60s }
`),
    );
    admin = await adminHeaders(hub);
  });

  after(async () => {
    for (const answer of hanging) answer();
    await hub?.dispose();
    await erp?.close();
  });

  it('delivers the other orders while SLOW’s first message hangs, then SLOW in order', async () => {
    await order(hub, admin, 'SLOW', ['dispatch', 'start', 'complete', 'close']);
    await waitFor(() => hanging.length === 1, { what: 'SLOW’s first request open at the ERP' });
    for (const id of ['F1', 'F2', 'F3'])
      await order(hub, admin, id, ['dispatch', 'start', 'hold', 'resume', 'complete', 'close']);
    const fast = () => erp.requests.filter((r) => r.headers['x-millwright-order'] !== 'SLOW');
    // F1..F3: started, confirmed (final), receipt, completed, closed — hold made nothing, so no partial.
    await waitFor(() => fast().length === 15, {
      what: 'every message of F1, F2, F3',
      timeoutMs: 15_000,
    });
    assert.equal(hanging.length, 1, 'SLOW’s later messages wait behind its open one');
    hanging.shift()!();
    await waitFor(
      () => {
        while (hanging.length > 0) hanging.shift()!();
        return erp.requests.filter((r) => r.headers['x-millwright-order'] === 'SLOW').length === 5;
      },
      { what: 'SLOW’s five messages' },
    );
    const slow = erp.requests
      .filter((r) => r.headers['x-millwright-order'] === 'SLOW')
      .map((r) => (JSON.parse(r.body.toString()) as { seq: number }).seq);
    assert.deepEqual(slow, [1, 2, 3, 4, 5]);
  });
});

describe('batch: one file per run, in order; a failed run is retried', () => {
  const tmp = tempDir('mw-batch-');
  const out = path.join(tmp.dir, 'erp-drop');
  let hub: TestHub;
  let admin: Record<string, string>;
  const files = () =>
    readdirSync(out)
      .filter((n) => n.endsWith('.csv'))
      .sort();
  const rows = () =>
    files().flatMap(
      (f) => parse(readFileSync(path.join(out, f)), { columns: true }) as Record<string, string>[],
    );

  before(async () => {
    mkdirSync(out);
    hub = await startTestHub(
      testConfig(`${PLANT}
targets:
  - id: bi
    type: folder
    path: ${out}
    format: csv
    mode: batch
    schedule: '*/2 * * * * *'
    retry: { initialDelay: 100ms, maxDelay: 500ms }
`),
    );
    admin = await adminHeaders(hub);
  });

  after(async () => {
    await hub?.dispose();
    tmp.remove();
  });

  it('sends what is due as one file, in the order it was written', async () => {
    for (const id of ['B1', 'B2', 'B3'])
      await order(hub, admin, id, ['dispatch', 'start', 'complete']);
    const written = (await hub.store.listOutbox({ target: 'bi', limit: 100 })).reverse();
    assert.equal(written.length, 12);
    await waitFor(async () => (await hub.store.countOutbox()).bi?.delivered === 12, {
      what: 'a run',
      timeoutMs: 10_000,
    });
    assert.ok(files().length <= 2, `12 messages in ${files().length} file(s)`);
    const ids = rows()
      .filter((r) => !r.type!.includes('/'))
      .map((r) => r.message_id);
    assert.deepEqual(
      ids,
      written.map((w) => w.messageId),
      'every message once, in outbox order',
    );
  });

  it('retries a run that failed until the folder is back', async () => {
    rmSync(out, { recursive: true });
    await order(hub, admin, 'B4', ['dispatch', 'start']);
    await waitFor(
      async () =>
        ((await hub.store.listOutbox({ target: 'bi', orderingKey: 'B4', limit: 1 }))[0]?.attempts ??
          0) >= 1,
      {
        what: 'a failed attempt',
        timeoutMs: 10_000,
      },
    );
    const failed = (await hub.store.listOutbox({ target: 'bi', orderingKey: 'B4', limit: 1 }))[0]!;
    assert.equal(failed.status, 'pending');
    assert.match(failed.lastError ?? '', /ENOENT|does the folder exist/);
    mkdirSync(out);
    await waitFor(async () => (await hub.store.countOutbox()).bi?.delivered === 13, {
      what: 'B4 delivered',
      timeoutMs: 10_000,
    });
    assert.ok(rows().some((r) => r.order_id === 'B4' && r.type === 'order.started'));
  });
});
