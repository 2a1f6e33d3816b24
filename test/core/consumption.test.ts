/**
 * Material consumption through a real hub over MQTT: a PLC totaliser in pieces converted to the
 * material's kilograms exactly (and mapped from the PLC's material code), a glue meter reporting
 * litres per cycle, a scale naming the material in its payload; unknown codes, unknown
 * materials and impossible conversions quarantined with the code and system named, a replay
 * once the mapping is fixed, and no double booking after a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import {
  adminHeaders,
  call,
  PLANT_YAML,
  startTestHub,
  tempDir,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const LABELLER = 'acme/plant1/packaging/line1/labeller';
const CAPPER = 'acme/plant1/packaging/line1/capper';
const YAML =
  PLANT_YAML +
  `
materials:
  - { id: PET-28G, name: PET preform 28 g, uom: KGM, conversions: ['1 H87 = 0.028 KGM'] }
  - { id: GLUE, uom: KGM, conversions: ['1 LTR = 1.1 KGM'] }
  - { id: LABEL, uom: H87 }
  - { id: CAP-38, name: Cap 38 mm, uom: H87 }
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    topic: 'plc/{line}/{unit}/used/{material}'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: consumption
    material: '{material}'
    materialSystem: plc-line1
    uom: H87
    rolloverAt: 65535
    payload: { valuePath: v, timestampPath: ts }
  - connection: plc
    topic: 'plc/{line}/{unit}/glue'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: consumption
    material: GLUE
    uom: LTR
    counterMode: increment
    payload: { valuePath: v, timestampPath: ts }
  - connection: plc
    topic: 'plc/{line}/{unit}/scale'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: consumption
    uom: KGM
    payload: { valuePath: kg, timestampPath: ts, materialPath: material }
`;

interface Consumed {
  seq: number;
  type: string;
  data: { material: string; quantity: string; uom: string; total: string; anomaly: string | null };
}

describe('material consumption', () => {
  const dir = tempDir();
  let hub: TestHub;
  let device: MqttClient;
  let admin: { authorization: string };
  const T0 = Date.parse('2026-11-26T06:00:00Z');
  const send = (topic: string, body: object) =>
    device.publishAsync(topic, JSON.stringify(body), { qos: 1 });

  async function consumed(unit: string): Promise<Consumed[]> {
    const res = await call(
      hub,
      'GET',
      `/api/v1/equipment/${unit}/events?type=consumed&limit=1000`,
      {
        headers: admin,
      },
    );
    assert.equal(res.status, 200, res.text);
    const items = res.body.items as Consumed[];
    assert.ok(
      items.every((e) => e.type === 'consumed'),
      'only the type asked for',
    );
    return items;
  }

  async function quarantine(): Promise<{ id: number; code: string; message: string }[]> {
    const res = await call(hub, 'GET', '/api/v1/quarantine', { headers: admin });
    assert.equal(res.status, 200, res.text);
    return res.body.items as { id: number; code: string; message: string }[];
  }

  async function start(): Promise<void> {
    hub = await startTestHub(testConfig(YAML), { dataDir: dir.dir });
    admin = await adminHeaders(hub);
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
  }

  before(async () => {
    await start();
    const put = await call(hub, 'PUT', '/api/v1/mappings/plc-line1/material', {
      headers: admin,
      body: { entries: [{ ours: 'PET-28G', theirs: 'P28', note: 'preform hopper' }] },
    });
    assert.equal(put.status, 201, put.text);
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
    dir.remove();
  });

  it('books a totaliser in pieces as exact kilograms, across a rollover', async () => {
    await send('plc/line1/filler/used/P28', { v: 65_000, ts: T0 });
    await send('plc/line1/filler/used/P28', { v: 65_100, ts: T0 + 1000 });
    await send('plc/line1/filler/used/P28', { v: 65_100, ts: T0 + 2000 }); // nothing used
    await send('plc/line1/filler/used/P28', { v: 35, ts: T0 + 3000 }); // wrapped: 65535 − 65100 + 1 + 35 = 471 pieces
    const events = await consumed(FILLER);
    assert.deepEqual(
      events.map((e) => [
        e.data.material,
        e.data.quantity,
        e.data.uom,
        e.data.total,
        e.data.anomaly,
      ]),
      [
        ['PET-28G', '2.8', 'KGM', '2.8', null],
        ['PET-28G', '13.188', 'KGM', '15.988', 'rollover'],
      ],
    );
  });

  it('adds litres of glue per report without binary float drift', async () => {
    for (let i = 1; i <= 3; i++) await send('plc/line1/labeller/glue', { v: 0.1, ts: T0 + i });
    // Re-delivered (same time): an increment carries no position, so it is dropped.
    await send('plc/line1/labeller/glue', { v: 0.1, ts: T0 + 3 });
    const events = await consumed(LABELLER);
    assert.deepEqual(
      events.map((e) => [e.data.quantity, e.data.total]),
      [
        ['0.11', '0.11'],
        ['0.11', '0.22'],
        ['0.11', '0.33'],
      ],
    );
  });

  it('merges the readings of one batch into one event, exactly', async () => {
    const before = await consumed(LABELLER);
    // Ten readings accepted in one turn share a batch (group commit).
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        hub.pipeline.ingestSample({
          connectionId: 'plc',
          tag: 'plc/line1/labeller/glue',
          value: 0.1,
          quality: 'good',
          sourceTs: T0 + 100 + i,
          receivedTs: Date.now(),
        }),
      ),
    );
    const added = (await consumed(LABELLER)).slice(before.length);
    assert.ok(added.length < 10, `${added.length} events for 10 readings`);
    const sum = added.reduce((a, e) => a + Math.round(Number(e.data.quantity) * 1000), 0);
    assert.equal(sum, 1100); // 10 × 0.1 LTR × 1.1 KGM/LTR = 1.1 KGM, in grams
    assert.equal(added.at(-1)!.data.total, '1.43');
  });

  it('quarantines an unknown code, an unknown material and an impossible conversion', async () => {
    await send('plc/line1/capper/used/P99', { v: 5, ts: T0 });
    await send('plc/line1/capper/scale', { kg: 2, material: 'SUGAR', ts: T0 });
    await send('plc/line1/capper/scale', { kg: 2, material: 'LABEL', ts: T0 });
    const q = await quarantine();
    const byCode = (code: string) => q.filter((e) => e.code === code).map((e) => e.message);
    assert.deepEqual(byCode('MW_ERR_MAPPING_UNKNOWN_CODE'), [
      'plc-line1 material code "P99" has no mapping (table plc-line1/material)',
    ]);
    assert.equal(byCode('MW_ERR_INGEST_UNKNOWN_MATERIAL').length, 1);
    assert.match(byCode('MW_ERR_INGEST_UNKNOWN_MATERIAL')[0]!, /material "SUGAR"/);
    assert.equal(byCode('MW_ERR_UOM_NO_CONVERSION').length, 1);
    assert.match(byCode('MW_ERR_UOM_NO_CONVERSION')[0]!, /KGM \(mass\) to H87 \(count\)/);
    const health = await call(hub, 'GET', '/api/v1/connections/plc', { headers: admin });
    assert.equal(health.status, 200, health.text);
  });

  it('replays the quarantined reading once the code is mapped', async () => {
    const entry = (await quarantine()).find((e) => e.code === 'MW_ERR_MAPPING_UNKNOWN_CODE')!;
    const put = await call(hub, 'PUT', '/api/v1/mappings/plc-line1/material', {
      headers: { ...admin, 'if-match': '"1"' },
      body: {
        entries: [
          { ours: 'PET-28G', theirs: 'P28' },
          { ours: 'CAP-38', theirs: 'P99' },
        ],
      },
    });
    assert.equal(put.status, 200, put.text);
    const replay = await call(hub, 'POST', `/api/v1/quarantine/${entry.id}/replay`, {
      headers: admin,
    });
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.body.accepted, true, replay.text);
    // The first totaliser reading is the capper's baseline for CAP-38.
    assert.deepEqual(hub.runtime.get(CAPPER)?.materials['CAP-38'], {
      total: '0',
      lastRaw: '5',
      lastTs: T0,
    });
  });

  it('does not book a re-delivered totaliser reading twice after a restart', async () => {
    const before = await consumed(FILLER);
    await device.endAsync();
    await hub.stop();
    await start();
    await send('plc/line1/filler/used/P28', { v: 35, ts: T0 + 3000 });
    await send('plc/line1/filler/used/P28', { v: 135, ts: T0 + 4000 });
    const events = await consumed(FILLER);
    assert.equal(events.length, before.length + 1);
    assert.deepEqual([events.at(-1)!.data.quantity, events.at(-1)!.data.total], ['2.8', '18.788']);
    const unit = await call(hub, 'GET', `/api/v1/equipment/${FILLER}`, { headers: admin });
    assert.deepEqual(unit.body.materials, [
      {
        material: 'PET-28G',
        total: '18.788',
        uom: 'KGM',
        lastRaw: '135',
        lastTs: new Date(T0 + 4000).toISOString(),
      },
    ]);
  });
});
