/**
 * An order end to end over REST JSON (issue #10): imported through the identity mapping
 * (ERP codes → the hub's), idempotent on its number, run on a line whose counts come over
 * MQTT, and its transaction points delivered to a recording HTTP server standing in for the
 * ERP: started, confirmations (partial on hold, final), goods issue, goods receipt, completed,
 * closed — in order, each with its Idempotency-Key, quantities equal to the counted pieces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { adminHeaders, call, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';
import { peer, type Peer } from './erp-peers.ts';

const LINE = 'acme/plant1/packaging/line1';

function yaml(erpUrl: string): string {
  return `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler }, { id: capper }, { id: casepacker }]
            outputUnit: casepacker
materials:
  - { id: PET-28G, uom: KGM, conversions: ['1 H87 = 0.028 KGM'] }
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    topic: 'line1/{unit}/good'
    equipment: ${LINE}/{unit}
    meaning: counter.good
    counterMode: increment
    payload: { valuePath: n }
  - connection: plc
    topic: 'line1/{unit}/scrap'
    equipment: ${LINE}/{unit}
    meaning: counter.scrap
    counterMode: increment
    payload: { valuePath: n }
  - connection: plc
    topic: 'line1/{unit}/preforms'
    equipment: ${LINE}/{unit}
    meaning: consumption
    material: PET-28G
    uom: H87
    counterMode: increment
    payload: { valuePath: n }
orders: { system: sap }
targets:
  - id: sap
    type: webhook
    url: ${erpUrl}/confirmations
    secret: a-shared-secret-of-the-erp
    system: sap
    retry: { initialDelay: 50ms, maxDelay: 200ms }
`;
}

interface Delivered {
  id: string;
  type: string;
  orderId: string;
  data: Record<string, unknown>;
}

describe('an order over REST JSON, run on the line, confirmed to the ERP', () => {
  let erp: Peer;
  let hub: TestHub;
  let device: MqttClient;
  let admin: { authorization: string };
  const delivered = (): Delivered[] => erp.requests.map((r) => JSON.parse(r.body.toString()));
  const send = async (topic: string, n: number): Promise<void> => {
    await device.publishAsync(topic, JSON.stringify({ n }), { qos: 1 });
  };
  const act = async (action: string, body: Record<string, unknown> = {}) => {
    const res = await call(hub, 'POST', `/api/v1/orders/4711/${action}`, { headers: admin, body });
    assert.equal(res.status, 200, res.text);
    return res.body;
  };

  before(async () => {
    erp = await peer((_req, res) => res.writeHead(200).end('{}'));
    hub = await startTestHub(testConfig(yaml(erp.url)));
    admin = await adminHeaders(hub);
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
    // The ERP's codes, mapped both ways.
    for (const [kind, entries] of [
      [
        'material',
        [
          { ours: 'FG-1L', theirs: '000000000000401100' },
          { ours: 'PET-28G', theirs: 'RM-PET' },
        ],
      ],
      [
        'equipment',
        [
          { ours: LINE, theirs: 'WC-FILL-01' },
          { ours: `${LINE}/casepacker`, theirs: 'WC-PACK' },
        ],
      ],
      [
        'uom',
        [
          { ours: 'H87', theirs: 'ST' },
          { ours: 'KGM', theirs: 'KG' },
        ],
      ],
    ] as const) {
      const res = await call(hub, 'PUT', `/api/v1/mappings/sap/${kind}`, {
        headers: admin,
        body: { entries, reason: 'ERP master data' },
      });
      assert.ok(res.status < 300, res.text);
    }
  });

  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
    await erp?.close();
  });

  const order = {
    externalId: '4711',
    material: '000000000000401100',
    quantity: '100',
    uom: 'ST',
    operations: [{ id: '0010', equipment: 'WC-FILL-01' }],
    plannedStart: '2026-12-02T06:00:00Z',
    priority: 2,
  };

  it('imports an order in the ERP’s codes, and a resend changes nothing', async () => {
    const first = await call(hub, 'POST', '/api/v1/orders', { headers: admin, body: order });
    assert.equal(first.status, 201, first.text);
    assert.deepEqual(first.body.orders, [{ id: '4711', outcome: 'created' }]);
    const again = await call(hub, 'POST', '/api/v1/orders', { headers: admin, body: order });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.orders, [{ id: '4711', outcome: 'unchanged' }]);
    const view = (await call(hub, 'GET', '/api/v1/orders/4711', { headers: admin })).body;
    assert.equal(view.status, 'released');
    assert.equal(view.material, 'FG-1L');
    assert.equal(view.uom, 'H87');
    assert.deepEqual(
      view.operations.map((o: { equipment: string; countingUnit: string }) => [
        o.equipment,
        o.countingUnit,
      ]),
      [[LINE, `${LINE}/casepacker`]],
    );
    assert.deepEqual(view.allowedActions, ['dispatch', 'cancel']);
    const trail = await call(hub, 'GET', '/api/v1/audit?entity=order&id=4711', { headers: admin });
    assert.equal(trail.body.items.length, 1, 'one audit row: the create (the resend wrote none)');
  });

  it('refuses an unmapped code naming the table, and quarantines the request', async () => {
    const bad = { ...order, externalId: '4712', material: 'NOT-MAPPED' };
    const res = await call(hub, 'POST', '/api/v1/orders', { headers: admin, body: bad });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'MW_ERR_ORDER_INVALID');
    assert.match(res.body.error.message, /orders\[0\]\.material: .*"NOT-MAPPED".*sap\/material/);
    assert.equal((await call(hub, 'GET', '/api/v1/orders/4712', { headers: admin })).status, 404);
    const q = await call(hub, 'GET', '/api/v1/quarantine?connection=rest', { headers: admin });
    assert.equal(q.body.items[0]?.code, 'MW_ERR_ORDER_INVALID');
  });

  it('runs: counts while running are the order’s, not those while held or before', async () => {
    await send('line1/casepacker/good', 7); // before the start: not the order's
    await waitFor(async () => hub.runtime.get(`${LINE}/casepacker`)?.counters.good.total === 7);
    await act('dispatch');
    let view = await act('start', { reason: 'shift A' });
    assert.equal(view.status, 'running');
    await send('line1/casepacker/good', 30);
    await send('line1/filler/scrap', 2);
    await send('line1/filler/preforms', 100);
    await waitFor(
      async () =>
        (await call(hub, 'GET', '/api/v1/orders/4711', { headers: admin })).body.produced.good ===
        '30',
      { what: 'good 30' },
    );
    view = await act('hold', { reason: 'jam' });
    assert.equal(view.status, 'held');
    await send('line1/casepacker/good', 5); // while held: not the order's
    await waitFor(async () => hub.runtime.get(`${LINE}/casepacker`)?.counters.good.total === 42);
    await act('resume');
    await send('line1/casepacker/good', 20);
    await waitFor(async () => hub.runtime.get(`${LINE}/casepacker`)?.counters.good.total === 62);
    view = await act('complete');
    assert.equal(view.status, 'completed');
    assert.equal(view.produced.good, '50');
    assert.equal(view.produced.scrap, '2');
    await act('close');
  });

  it('delivers every transaction point once, in order, in the ERP’s codes, signed', async () => {
    await waitFor(() => delivered().some((m) => m.type === 'order.closed'), {
      what: 'order.closed delivered',
    });
    const types = delivered().map((m) => m.type);
    assert.deepEqual(types, [
      'order.started',
      'operation.confirmed',
      'operation.confirmed',
      'goods.issue',
      'goods.receipt',
      'order.completed',
      'order.closed',
    ]);
    const [started, partial, final, issue, receipt, completed] = delivered();
    assert.equal(started!.data.equipment, 'WC-FILL-01');
    assert.deepEqual(
      [partial!.data.yield, partial!.data.scrap, partial!.data.final],
      ['30', '2', false],
    );
    assert.deepEqual([final!.data.yield, final!.data.scrap, final!.data.final], ['20', '0', true]);
    assert.equal(
      Number(partial!.data.yield) + Number(final!.data.yield),
      50,
      'confirmed = counted',
    );
    assert.deepEqual(
      [issue!.data.material, issue!.data.quantity, issue!.data.uom],
      ['RM-PET', '2.8', 'KG'],
    );
    assert.deepEqual(
      [receipt!.data.material, receipt!.data.quantity, receipt!.data.uom, receipt!.data.lot],
      ['000000000000401100', '50', 'ST', '4711'],
    );
    assert.equal(completed!.data.produced, '50');
    const keys = erp.requests.map((r) => r.headers['idempotency-key']);
    assert.equal(new Set(keys).size, keys.length, 'one key per message');
    assert.ok(
      erp.requests.every((r) => String(r.headers['x-millwright-signature']).startsWith('sha256=')),
    );
    const outbox = await call(hub, 'GET', '/api/v1/outbox?target=sap', { headers: admin });
    assert.deepEqual(outbox.body.counts.sap, { pending: 0, delivered: 7, dead: 0, discarded: 0 });
    const metrics = await call(hub, 'GET', '/metrics', { headers: admin });
    assert.match(metrics.text, /^millwright_outbox_delivered_total\{target="sap"\} 7$/m);
    assert.match(
      metrics.text,
      /^millwright_outbox_messages\{target="sap",status="delivered"\} 7$/m,
    );
    assert.match(metrics.text, /^millwright_inbound_refused_total\{inbound="rest"\} 1$/m);
  });

  it('refuses an action the lifecycle does not allow', async () => {
    const res = await call(hub, 'POST', '/api/v1/orders/4711/start', { headers: admin, body: {} });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'MW_ERR_ORDER_TRANSITION');
  });
});
