/**
 * Issue #10, done when (1): a B2MML ProductionSchedule posted to the hub releases an order; it
 * runs on the simulated line (examples/demo.yaml with its simulator); a recording HTTP server
 * standing in for the ERP receives a start, confirmations and a goods receipt whose quantities
 * equal the good parts counted on the line's output unit while the order ran, and a B2MML
 * ProductionPerformance that validates against the official V0600 XSD. Also: a malformed and a
 * schema-invalid document are refused with a precise error, and nothing changes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile } from '../../src/config/load.ts';
import { validateB2mml } from '../../src/enterprise/b2mml/validate.ts';
import { targetSchema } from '../../src/enterprise/index.ts';
import { DEMO_CONFIG } from '../../src/cli/main.ts';
import { adminHeaders, call, startTestHub, type TestHub } from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';
import { peer, type Peer } from '../enterprise/erp-peers.ts';

const LINE = 'acme/plant1/packaging/line1';
const OUTPUT = `${LINE}/casepacker`;

const SCHEDULE = `\uFEFF<?xml version="1.0" encoding="UTF-8"?>\r
<ProcessProductionSchedule xmlns="http://www.mesa.org/xml/B2MML-V0600" releaseID="V0600">\r
  <ApplicationArea>\r
    <Sender><LogicalID>SAP-ERP</LogicalID></Sender>\r
    <CreationDateTime>2026-12-02T05:00:00Z</CreationDateTime>\r
    <BODID>PS-900100</BODID>\r
  </ApplicationArea>\r
  <DataArea>\r
    <Process/>\r
    <ProductionSchedule>\r
      <ID>PS-2026-12-02</ID>\r
      <ProductionRequest>\r
        <ID>900100</ID>\r
        <Description>Water 1 l, 6-pack</Description>\r
        <StartTime>2026-12-02T06:00:00Z</StartTime>\r
        <EndTime>2026-12-02T14:00:00Z</EndTime>\r
        <Priority>3</Priority>\r
        <SegmentRequirement>\r
          <ID>0010</ID>\r
          <EquipmentRequirement><EquipmentID>${LINE}</EquipmentID></EquipmentRequirement>\r
          <MaterialProducedRequirement>\r
            <MaterialDefinitionID>WATER-1L</MaterialDefinitionID>\r
            <MaterialLotID>L900100</MaterialLotID>\r
            <Quantity><QuantityString>500</QuantityString><UnitOfMeasure>H87</UnitOfMeasure></Quantity>\r
          </MaterialProducedRequirement>\r
        </SegmentRequirement>\r
      </ProductionRequest>\r
    </ProductionSchedule>\r
  </DataArea>\r
</ProcessProductionSchedule>\r
`;

describe('a B2MML production schedule runs on the simulated line and is confirmed to the ERP', () => {
  let erp: Peer;
  let hub: TestHub;
  let admin: { authorization: string };
  let window: { from: number; to: number };
  const json = () =>
    erp.requests
      .filter((r) => r.url === '/json')
      .map((r) => JSON.parse(r.body.toString()) as { type: string; data: Record<string, unknown> });
  const xml = () => erp.requests.filter((r) => r.url === '/b2mml');

  before(async () => {
    erp = await peer((_req, res) => res.writeHead(204).end());
    const demo = loadConfigFile(DEMO_CONFIG).config;
    const targets = [
      { id: 'erp-json', type: 'webhook', url: `${erp.url}/json` },
      {
        id: 'erp-b2mml',
        type: 'webhook',
        url: `${erp.url}/b2mml`,
        format: 'b2mml',
        b2mmlVersion: 'V0600',
      },
    ].map((t) => targetSchema.parse(t));
    hub = await startTestHub({
      ...demo,
      targets,
      inbound: [],
      broker: { ...demo.broker, port: 0 },
      http: { ...demo.http, port: 0 },
    });
    admin = await adminHeaders(hub);
  });

  after(async () => {
    await hub?.dispose();
    await erp?.close();
  });

  it('refuses a malformed and a schema-invalid document, naming the element; nothing changes', async () => {
    const post = (body: string) =>
      fetch(`${hub.url}/api/v1/b2mml`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/xml' },
        body,
      });
    const malformed = await post(SCHEDULE.replace('</ProductionSchedule>', ''));
    assert.equal(malformed.status, 400);
    assert.equal(
      ((await malformed.json()) as { error: { code: string } }).error.code,
      'MW_ERR_B2MML_MALFORMED',
    );
    const invalid = await post(
      SCHEDULE.replace('<Priority>3</Priority>', '<Priority>high</Priority>'),
    );
    assert.equal(invalid.status, 422);
    const err = ((await invalid.json()) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'MW_ERR_B2MML_INVALID');
    assert.match(err.message, /ProductionRequest\[1\]\/Priority/);
    assert.match(err.message, /'high' is not a valid value/);
    const xxe = await post(
      SCHEDULE.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
      ),
    );
    assert.equal(xxe.status, 400);
    const list = await call(hub, 'GET', '/api/v1/orders', { headers: admin });
    assert.deepEqual(list.body.items, [], 'no order was created');
    const q = await call(hub, 'GET', '/api/v1/quarantine?connection=b2mml', { headers: admin });
    assert.equal(q.body.items.length, 3, 'each refused document is kept for inspection');
  });

  it('releases the order from the schedule (UTF-8 BOM and CRLF as sent)', async () => {
    const res = await fetch(`${hub.url}/api/v1/b2mml`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/xml' },
      body: SCHEDULE,
    });
    assert.equal(res.status, 201, await res.clone().text());
    const order = (await call(hub, 'GET', '/api/v1/orders/900100', { headers: admin })).body;
    assert.equal(order.status, 'released');
    assert.equal(order.material, 'WATER-1L');
    assert.equal(order.quantity, '500');
    assert.equal(order.lot, 'L900100');
    assert.equal(order.source.format, 'b2mml-V0600');
  });

  it('runs on the line until the output unit has counted some good parts', async () => {
    for (const action of ['dispatch', 'start']) {
      const r = await call(hub, 'POST', `/api/v1/orders/900100/${action}`, {
        headers: admin,
        body: {},
      });
      assert.equal(r.status, 200, r.text);
    }
    const started = (await call(hub, 'GET', '/api/v1/orders/900100', { headers: admin })).body;
    await waitFor(
      async () =>
        Number(
          (await call(hub, 'GET', '/api/v1/orders/900100', { headers: admin })).body.produced.good,
        ) >= 4,
      { what: 'four good cases on the casepacker', timeoutMs: 60_000, intervalMs: 250 },
    );
    const done = await call(hub, 'POST', '/api/v1/orders/900100/complete', {
      headers: admin,
      body: {},
    });
    assert.equal(done.status, 200, done.text);
    window = { from: started.startedAt, to: done.body.completedAt };
  });

  it('the ERP got start, confirmation and goods receipt equal to the counted good parts', async () => {
    await waitFor(() => json().some((m) => m.type === 'order.completed'), {
      what: 'order.completed (JSON)',
    });
    // The good parts the journal has for the output unit while the order ran: counted here,
    // independently of the hub's attribution.
    let counted = 0;
    for (const e of await hub.store.listEvents({
      equipmentId: OUTPUT,
      type: 'counted',
      limit: 100_000,
    }))
      if (
        e.type === 'counted' &&
        e.data.counter === 'good' &&
        e.ts >= window.from &&
        e.ts < window.to
      )
        counted += e.data.delta;
    assert.ok(counted >= 4);
    const types = json().map((m) => m.type);
    assert.deepEqual(types.slice(0, 1), ['order.started']);
    assert.ok(types.includes('goods.receipt'));
    const confirmed = json()
      .filter((m) => m.type === 'operation.confirmed')
      .reduce((s, m) => s + Number(m.data.yield), 0);
    assert.equal(confirmed, counted, 'confirmed yield = counted good parts');
    const receipt = json().find((m) => m.type === 'goods.receipt')!;
    assert.equal(Number(receipt.data.quantity), counted, 'goods receipt = counted good parts');
    assert.equal(receipt.data.lot, 'L900100');
    // A goods issue for each material the line used while the order ran (which ones the
    // simulated units used in those seconds is chance: a stopped filler uses no preforms).
    const used = new Set<string>();
    for (const e of await hub.store.listEvents({
      equipmentId: LINE,
      type: 'consumed',
      limit: 100_000,
    }))
      if (e.type === 'consumed' && e.ts >= window.from && e.ts < window.to)
        used.add(e.data.material);
    const issued = json()
      .filter((m) => m.type === 'goods.issue')
      .map((m) => String(m.data.material));
    assert.deepEqual(new Set(issued), used);
    assert.ok(issued.length > 0, 'the line used some material');
  });

  it('the B2MML target got ProductionPerformance documents valid against the V0600 XSD', async () => {
    await waitFor(() => xml().length >= json().length, { what: 'every B2MML document' });
    for (const r of xml()) {
      assert.equal(r.headers['content-type'], 'application/xml');
      const v = await validateB2mml(r.body);
      assert.equal(v.message.root, 'SyncProductionPerformance');
      assert.equal(v.message.version, 'V0600');
    }
    const completed = xml().find((r) => r.headers['x-millwright-event'] === 'order.completed')!;
    const text = completed.body.toString();
    assert.match(text, /<ProductionRequestID>900100<\/ProductionRequestID>/);
    const receipt = json().find((m) => m.type === 'goods.receipt')!;
    assert.ok(text.includes(`<QuantityString>${String(receipt.data.quantity)}</QuantityString>`));
  });
});
