/**
 * Inspections through the HTTP API of a real hub (issue #12): results judged against the plan
 * (exact decimals, limits inclusive, units converted), a failed one rejecting the lot with a
 * nonconformance and a hold, LIMS results by CSV through the identity mapping (all or none),
 * goods receipts by CSV and by B2MML MaterialLot with sublots; the quality messages of it all
 * in the outbox for the target that lists them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { Decimal } from 'decimal.js';
import { withinLimits } from '../../src/model/index.ts';
import {
  adminHeaders,
  call,
  createTestUser,
  login,
  startTestHub,
  testConfig,
  type Answer,
  type TestHub,
} from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';

const YAML = `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: kitchen
        lines:
          - id: line1
            units: [{ id: mixer }]
materials:
  - { id: DOUGH, uom: KGM }
  - { id: FLOUR, uom: KGM }
quality:
  plans:
    - id: dough-release
      material: DOUGH
      sampleSize: 3
      characteristics:
        - { id: moisture, kind: numeric, uom: P1, lsl: 38, usl: 42.5, target: 40 }
        - { id: temperature, kind: numeric, uom: CEL, usl: '26.05' }
        - { id: smell, kind: attribute }
targets:
  - id: qms
    type: folder
    path: qms-out
    format: json
    messages: [lot.held, lot.released, inspection.recorded]
`;

describe('inspections, LIMS import and goods receipts', () => {
  let hub: TestHub;
  let admin: { authorization: string };
  let quality: { authorization: string };
  const post = (path: string, body: unknown, headers = quality) =>
    call(hub, 'POST', path, { headers, body });
  const postCsv = async (path: string, csv: string, headers = quality) => {
    const res = await fetch(`${hub.url}${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'text/csv' },
      body: csv,
    });
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  };
  const lot = async (id: string) =>
    (await call(hub, 'GET', `/api/v1/lots/${id}`, { headers: admin })).body;

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    admin = await adminHeaders(hub);
    await createTestUser(hub, 'quinn', ['quality'], 'quality pass phrase 42');
    quality = await login(hub.url!, 'quinn', 'quality pass phrase 42');
    for (const id of ['D-1', 'D-2', 'D-3'])
      assert.equal(
        (await post('/api/v1/lots', { id, material: 'DOUGH', quantity: 50 }, admin)).status,
        201,
      );
  });
  after(() => hub?.dispose());

  it('accepts a lot whose results are all within limits (limits inclusive, units converted)', async () => {
    const r = await post('/api/v1/inspections', {
      lot: 'D-1',
      plan: 'dough-release',
      results: [
        { characteristic: 'moisture', value: '42.5' },
        { characteristic: 'temperature', value: 299.2, uom: 'KEL' },
        { characteristic: 'smell', value: 'pass' },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.disposition, 'accepted');
    assert.equal(r.body.sampleSize, 3);
    assert.equal(r.body.results[1].value, '26.05', '299.2 K is 26.05 °C exactly');
    assert.equal((await lot('D-1')).status, 'available');
  });

  it('rejects a lot with a failed result: nonconformance, hold, messages', async () => {
    const r = await post('/api/v1/inspections', {
      lot: 'D-2',
      plan: 'dough-release',
      results: [
        { characteristic: 'moisture', value: 37.99 },
        { characteristic: 'smell', value: false },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.disposition, 'rejected');
    assert.notEqual(r.body.nonconformance, null);
    const d2 = await lot('D-2');
    assert.equal(d2.status, 'on-hold');
    assert.equal(d2.holds[0].origin, 'inspection');
    assert.match(d2.holds[0].reason, /failed: moisture, smell/);
    const ncs = (
      await call(hub, 'GET', '/api/v1/nonconformances?status=open', { headers: quality })
    ).body;
    assert.deepEqual(
      ncs.nonconformances.map((n: { lot: string; failed: string[] }) => [n.lot, n.failed]),
      [['D-2', ['moisture', 'smell']]],
    );
    const ncId = ncs.nonconformances[0].id;
    const close = (body: unknown, headers = quality) =>
      call(hub, 'POST', `/api/v1/nonconformances/${ncId}/close`, { headers, body });
    assert.equal(
      (await close({})).body.error?.code,
      'MW_ERR_API_VALIDATION',
      'a reason is required',
    );
    const closed = await close({ reason: 'reworked: remixed with fresh flour' });
    assert.equal(closed.status, 200, closed.text);
    assert.equal(closed.body.status, 'closed');
    assert.equal(closed.body.closedBy, 'user:quinn');
    assert.equal((await close({ reason: 'again' })).body.error?.code, 'MW_ERR_INSPECTION_INVALID');
    const open = (
      await call(hub, 'GET', '/api/v1/nonconformances?status=open', { headers: quality })
    ).body;
    assert.equal(open.nonconformances.length, 0);
    const trail = await hub.store.listAudit({
      entityType: 'nonconformance',
      entityId: ncId,
      limit: 5,
    });
    assert.deepEqual(
      trail.map((a) => [a.action, a.reason]),
      [
        ['create', null],
        ['close', 'reworked: remixed with fresh flour'],
      ],
    );
    const outbox = await hub.store.listOutbox({ orderingKey: 'lot:D-2', limit: 10 });
    assert.deepEqual(outbox.map((o) => o.type).reverse(), ['lot.held', 'inspection.recorded']);
    assert.deepEqual(outbox.map((o) => (o.payload as { seq: number }).seq).reverse(), [1, 2]);
  });

  it('refuses bad results naming the field, recording nothing', async () => {
    const audit = await hub.store.countAudit();
    const cases: [unknown, RegExp][] = [
      [
        { lot: 'D-3', plan: 'nope', results: [{ characteristic: 'smell', value: 'pass' }] },
        /plan: no inspection plan "nope"/,
      ],
      [
        { lot: 'D-3', plan: 'dough-release', results: [{ characteristic: 'colour', value: 1 }] },
        /results\[0\].characteristic: plan dough-release has no characteristic "colour"/,
      ],
      [
        {
          lot: 'D-3',
          plan: 'dough-release',
          results: [{ characteristic: 'moisture', value: 'wet' }],
        },
        /results\[0\].value: expected a number/,
      ],
      [
        {
          lot: 'D-3',
          plan: 'dough-release',
          results: [{ characteristic: 'smell', value: 'maybe' }],
        },
        /expected pass or fail/,
      ],
      [
        {
          lot: 'D-3',
          plan: 'dough-release',
          results: [{ characteristic: 'moisture', value: 40, uom: 'KGM' }],
        },
        /results\[0\].uom/,
      ],
    ];
    for (const [body, message] of cases) {
      const r = await post('/api/v1/inspections', body);
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'MW_ERR_INSPECTION_INVALID');
      assert.match(r.body.error.message, message);
    }
    const flour = await post('/api/v1/lots', { id: 'F-1', material: 'FLOUR', quantity: 5 }, admin);
    assert.equal(flour.status, 201);
    const wrongMaterial = await post('/api/v1/inspections', {
      lot: 'F-1',
      plan: 'dough-release',
      results: [{ characteristic: 'smell', value: 'pass' }],
    });
    assert.match(
      wrongMaterial.body.error.message,
      /inspects material DOUGH; lot F-1 is of material FLOUR/,
    );
    assert.equal(await hub.store.countAudit(), audit + 1, 'only the flour receipt');
  });

  it('imports LIMS results by CSV through the mapping, all or none', async () => {
    const map = await fetch(`${hub.url}/api/v1/mappings/lims/uom`, {
      method: 'PUT',
      headers: { ...admin, 'content-type': 'text/csv' },
      body: 'ours,theirs\nP1,pct\n',
    });
    assert.ok(map.status < 300, await map.text());
    const bad = await postCsv(
      '/api/v1/inspections/import?system=lims',
      'lot;plan;characteristic;value;uom\nD-3;dough-release;moisture;40;pct\nD-3;dough-release;smell;pass;\nD-9;dough-release;smell;pass;\n',
    );
    assert.equal(bad.status, 404, JSON.stringify(bad.body));
    assert.match(bad.body.error.message, /no material lot D-9/);
    assert.equal(
      (await call(hub, 'GET', '/api/v1/lots/D-3/inspections', { headers: quality })).body
        .inspections.length,
      0,
    );
    const good = await postCsv(
      '/api/v1/inspections/import?system=lims',
      'lot;plan;characteristic;value;uom\nD-3;dough-release;moisture;40;pct\nD-3;dough-release;smell;pass;\n',
    );
    assert.equal(good.status, 201, JSON.stringify(good.body));
    assert.equal(good.body.inspections, 1);
    assert.equal(good.body.items[0].disposition, 'accepted');
    const csvError = await postCsv(
      '/api/v1/inspections/import',
      'lot,plan,value\nD-3,dough-release,1\n',
    );
    assert.equal(csvError.body.error.code, 'MW_ERR_CSV_INVALID');
    assert.match(csvError.body.error.message, /characteristic/);
  });

  it('receives lots by CSV and by B2MML MaterialLot with sublots', async () => {
    const csv = await postCsv(
      '/api/v1/lots',
      'lot,material,quantity,uom\nF-7,FLOUR,25,KGM\n,FLOUR,10,\n',
      admin,
    );
    assert.equal(csv.status, 201, JSON.stringify(csv.body));
    assert.equal(csv.body.lots.length, 2);
    assert.match(csv.body.lots[1].id, /^FLOUR-\d{8}-0001$/, 'the default numbering scheme');
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<SyncMaterialLot xmlns="http://www.mesa.org/xml/B2MML-V0600" releaseID="V0600">
  <ApplicationArea><CreationDateTime>2026-12-01T00:00:00Z</CreationDateTime></ApplicationArea>
  <DataArea><Sync/>
    <MaterialLot><ID>F-900</ID><MaterialDefinitionID>FLOUR</MaterialDefinitionID>
      <MaterialSubLot><ID>F-900-1</ID><Quantity><QuantityString>40</QuantityString><UnitOfMeasure>KGM</UnitOfMeasure></Quantity></MaterialSubLot>
      <Quantity><QuantityString>100</QuantityString><UnitOfMeasure>KGM</UnitOfMeasure></Quantity>
    </MaterialLot>
  </DataArea>
</SyncMaterialLot>`;
    const res = await fetch(`${hub.url}/api/v1/b2mml`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/xml' },
      body: xml,
    });
    assert.ok(res.status < 300, await res.text());
    const parent = await lot('F-900');
    assert.equal(parent.quantity, '60', 'what is in the sublot is no longer in the lot');
    assert.equal(parent.initialQuantity, '100');
    const sub = await lot('F-900-1');
    assert.equal(sub.parent, 'F-900');
    const trace = (
      await call(hub, 'GET', '/api/v1/lots/F-900-1/trace?direction=backward', { headers: admin })
    ).body;
    assert.deepEqual(
      trace.edges.map((e: { from: string; kind: string }) => [e.from, e.kind]),
      [['F-900', 'split']],
    );
    const again = await fetch(`${hub.url}/api/v1/b2mml`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/xml' },
      body: xml,
    });
    assert.ok(again.status < 300, 'a resend is a no-op');
    assert.equal((await lot('F-900')).version, parent.version);
  });
});

describe('withinLimits', () => {
  it('is exactly lsl ≤ value ≤ usl on decimals', () => {
    const dec = fc
      .integer({ min: -1_000_000, max: 1_000_000 })
      .map((n) => new Decimal(n).div(1000));
    fc.assert(
      fc.property(dec, dec, dec, (v, a, b) => {
        const [lo, hi] = a.lte(b) ? [a, b] : [b, a];
        const expected = v.gte(lo) && v.lte(hi);
        return (
          withinLimits(v, lo.toFixed(), hi.toFixed()) === expected &&
          withinLimits(v, undefined, hi.toFixed()) === v.lte(hi) &&
          withinLimits(v, lo.toFixed(), undefined) === v.gte(lo) &&
          withinLimits(v, undefined, undefined)
        );
      }),
    );
  });
});

describe('inspection results from line tags', () => {
  const LINE_YAML = `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: kitchen
        lines:
          - id: line1
            units: [{ id: mixer }]
materials:
  - { id: DOUGH, uom: KGM }
connections:
  - id: lab-mqtt
    type: mqtt
    subscribe: ['q/#']
bindings:
  - connection: lab-mqtt
    topic: q/{site}/{area}/{line}/{unit}/moisture
    meaning: process
    payload: { valuePath: v }
quality:
  plans:
    - id: in-process
      material: DOUGH
      characteristics: [{ id: moisture, kind: numeric, lsl: 38, usl: 42 }]
  lineResults:
    - { connection: lab-mqtt, tag: q/plant1/kitchen/line1/mixer/moisture, plan: in-process, characteristic: moisture }
`;
  let hub: TestHub;
  let admin: { authorization: string };
  before(async () => {
    hub = await startTestHub(testConfig(LINE_YAML));
    admin = await adminHeaders(hub);
  });
  after(() => hub?.dispose());

  it('records each reading for the output lot of the order running on the unit', async () => {
    const post = (path: string, body: unknown) => call(hub, 'POST', path, { headers: admin, body });
    const client = await mqtt.connectAsync(hub.broker!.url, {
      clientId: 'lab',
      reconnectPeriod: 0,
    });
    try {
      const publish = (v: number) =>
        client.publishAsync('q/plant1/kitchen/line1/mixer/moisture', JSON.stringify({ v }), {
          qos: 1,
        });
      // No order runs yet: the reading is stored, not a result.
      await publish(40);
      const order = await post('/api/v1/orders', {
        externalId: 'PO-5',
        material: 'DOUGH',
        quantity: '10',
        uom: 'KGM',
        operations: [{ id: '0010', equipment: 'acme/plant1/kitchen/line1/mixer' }],
      });
      assert.equal(order.status, 201, order.text);
      for (const action of ['dispatch', 'start'])
        assert.equal((await post(`/api/v1/orders/PO-5/${action}`, {})).status, 200);
      await publish(41.5);
      await publish(43);
      const list = await waitFor(
        async () => {
          const r = await call(hub, 'GET', '/api/v1/lots/PO-5/inspections', { headers: admin });
          return r.status === 200 && r.body.inspections.length === 2 ? r.body.inspections : null;
        },
        { what: 'two line results for lot PO-5' },
      );
      assert.deepEqual(
        list.map((i: { disposition: string; results: { value: string }[] }) => [
          i.disposition,
          i.results[0]!.value,
        ]),
        [
          ['accepted', '41.5'],
          ['rejected', '43'],
        ],
      );
      const lot = (await call(hub, 'GET', '/api/v1/lots/PO-5', { headers: admin })).body;
      assert.equal(lot.status, 'on-hold', 'the failed reading held the lot');
      const metrics = (await call(hub, 'GET', '/metrics', { headers: admin })).text;
      assert.match(metrics, /millwright_line_results_total\{outcome="recorded"\} 2/);
      assert.match(metrics, /millwright_line_results_total\{outcome="unattributed"\} 1/);
      assert.equal(lot.order, 'PO-5');
    } finally {
      await client.endAsync();
    }
  });
});
