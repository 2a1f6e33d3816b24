/**
 * Issue #5, "done when": a scenario drives tags through MQTT into the demo configuration
 * (examples/demo.yaml, as `millwright demo` runs it, without its simulator so the test alone
 * publishes) and asserts the resulting events, quarantine entries and reasons — over real
 * sockets: MQTT into the embedded broker, HTTP out of the API.
 *
 * Each publish is QoS 1 with the PLC's own timestamp; the embedded broker acknowledges once the
 * hub committed the message (as a sample or in the quarantine), so every read after an awaited
 * publish sees it: no sleeps.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { DEMO_CONFIG } from '../../src/cli/main.ts';
import type { Config } from '../../src/config/schema.ts';
import { adminHeaders, call, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';

const LINE1 = 'acme/plant1/packaging/line1';
const FILLER = `${LINE1}/filler`;
const CAPPER = `${LINE1}/capper`;
const LABELLER = `${LINE1}/labeller`;
const CASEPACKER = `${LINE1}/casepacker`;
/** PLC state codes, as the demo's stateMap reads them. */
const RUNNING = 1;
const IDLE = 2;
const DOWN = 3;
const MIN = 60_000;
const T0 = Date.parse('2026-11-26T06:00:00Z');
const at = (minute: number): string => new Date(T0 + minute * MIN).toISOString();

/** The demo configuration with its simulator removed, broker and HTTP on free ports. */
function scenarioConfig(): Config {
  const demo = testConfig(readFileSync(DEMO_CONFIG, 'utf8'));
  // If the demo stops simulating (or simulates twice), this scenario no longer is the demo's.
  assert.deepEqual(
    demo.connections.map((c) => [c.id, c.type]),
    [
      ['plant-mqtt', 'mqtt'],
      ['sim', 'simulator'],
    ],
  );
  return { ...demo, connections: demo.connections.filter((c) => c.type !== 'simulator') };
}

interface Event {
  seq: number;
  type: string;
  ts: string;
  data: Record<string, unknown>;
}

interface Stop {
  seq: number;
  state: string;
  plcReasonCode: string | null;
  start: string;
  end: string | null;
  durationMs: number;
  reason: { code: string; category: string; planned: boolean } | null;
  reasonSource: string | null;
  classifiedBy: string | null;
}

interface SiteSummary {
  site: string;
  stops: number;
  byCategory: Record<string, number>;
  plannedMs: number;
  unplannedMs: number;
  unclassifiedMs: number;
}

describe('the demo plant, driven tag by tag over MQTT', () => {
  let hub: TestHub;
  let plc: MqttClient;
  let admin: { authorization: string };
  /** Messages published (and so acknowledged: committed) so far. */
  let published = 0;

  /** Publish as a demo PLC: `sim/<site>/<area>/<line>/<unit>/<tag>`, QoS 1. */
  async function publish(unitId: string, tag: string, payload: object | string): Promise<void> {
    const topic = `sim/${unitId.split('/').slice(1).join('/')}/${tag}`;
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    await plc.publishAsync(topic, body, { qos: 1 });
    published++;
  }
  const state = (unitId: string, value: number, minute: number, reason?: string) =>
    publish(unitId, 'state', {
      value,
      timestamp: at(minute),
      ...(reason === undefined ? {} : { reason }),
    });

  async function get<T>(path: string): Promise<T> {
    const res = await call(hub, 'GET', path, { headers: admin });
    assert.equal(res.status, 200, `GET ${path}: ${res.text}`);
    return res.body as T;
  }
  const events = async (unitId: string, type: string): Promise<Event[]> =>
    (await get<{ items: Event[] }>(`/api/v1/equipment/${unitId}/events?limit=1000`)).items.filter(
      (e) => e.type === type,
    );
  const stops = async (unitId: string): Promise<Stop[]> =>
    (await get<{ items: Stop[] }>(`/api/v1/equipment/${unitId}/downtimes`)).items;
  const summary = async (): Promise<SiteSummary> => {
    const body = await get<{ sites: SiteSummary[] }>(
      `/api/v1/downtime/summary?from=${at(0)}&to=${at(60)}`,
    );
    assert.deepEqual(
      body.sites.map((s) => s.site),
      ['plant1'],
    );
    return body.sites[0]!;
  };

  before(async () => {
    hub = await startTestHub(scenarioConfig());
    admin = await adminHeaders(hub);
    plc = await mqtt.connectAsync(hub.broker!.url, {
      clientId: 'demo-scenario-plc',
      reconnectPeriod: 0,
    });
  });
  after(async () => {
    await plc?.endAsync();
    await hub?.dispose();
  });

  it('turns line 1’s states into events, deriving starved and blocked along its flow', async () => {
    for (const unit of [FILLER, CAPPER, LABELLER, CASEPACKER]) await state(unit, RUNNING, 0);
    await state(FILLER, DOWN, 10, 'JAM');
    await state(CAPPER, IDLE, 11); // idle behind a stopped filler: starved
    await state(FILLER, RUNNING, 14); // the capper is merely idle again
    await state(CAPPER, RUNNING, 15);
    await state(CASEPACKER, DOWN, 20, 'MOTOR_FAULT');
    await state(LABELLER, IDLE, 21); // idle in front of a stopped case packer: blocked
    await state(CASEPACKER, RUNNING, 23);
    await state(LABELLER, RUNNING, 24);
    await state(FILLER, DOWN, 30, 'XYZ'); // a code the reason tree does not know
    await state(FILLER, RUNNING, 45);

    const changes = async (unitId: string) =>
      (await events(unitId, 'state.changed')).map((e) => [
        e.ts,
        e.data.previousState,
        e.data.state,
        e.data.reasonCode,
      ]);
    assert.deepEqual(await changes(FILLER), [
      [at(0), 'unknown', 'running', null],
      [at(10), 'running', 'down', 'JAM'],
      [at(14), 'down', 'running', null],
      [at(30), 'running', 'down', 'XYZ'],
      [at(45), 'down', 'running', null],
    ]);
    assert.deepEqual(await changes(CAPPER), [
      [at(0), 'unknown', 'running', null],
      [at(11), 'running', 'starved', 'upstream-stopped'],
      [at(14), 'starved', 'idle', null],
      [at(15), 'idle', 'running', null],
    ]);
    assert.deepEqual(await changes(LABELLER), [
      [at(0), 'unknown', 'running', null],
      [at(21), 'running', 'blocked', 'downstream-stopped'],
      [at(23), 'blocked', 'idle', null],
      [at(24), 'idle', 'running', null],
    ]);
    assert.deepEqual(await changes(CASEPACKER), [
      [at(0), 'unknown', 'running', null],
      [at(20), 'running', 'down', 'MOTOR_FAULT'],
      [at(23), 'down', 'running', null],
    ]);
    const unit = await get<{ status: { state: string; since: string } }>(
      `/api/v1/equipment/${FILLER}`,
    );
    assert.deepEqual(unit.status, { state: 'running', reasonCode: null, since: at(45) });
  });

  it('lists the stops with reasons from the demo’s reason tree; an unknown code unclassified', async () => {
    const view = async (unitId: string) =>
      (await stops(unitId)).map((s) => [
        s.state,
        s.plcReasonCode,
        s.start,
        s.durationMs,
        s.reason === null ? null : `${s.reason.code}/${s.reason.category}`,
        s.reasonSource,
      ]);
    assert.deepEqual(await view(FILLER), [
      ['down', 'JAM', at(10), 4 * MIN, 'JAM/mechanical', 'plc'],
      ['down', 'XYZ', at(30), 15 * MIN, null, null],
    ]);
    assert.deepEqual(await view(CAPPER), [
      ['starved', 'upstream-stopped', at(11), 3 * MIN, 'UPSTREAM/flow', 'plc'],
    ]);
    assert.deepEqual(await view(LABELLER), [
      ['blocked', 'downstream-stopped', at(21), 2 * MIN, 'DOWNSTREAM/flow', 'plc'],
    ]);
    assert.deepEqual(await view(CASEPACKER), [
      ['down', 'MOTOR_FAULT', at(20), 3 * MIN, 'MOTOR/mechanical', 'plc'],
    ]);
  });

  it('moves a stop classified afterwards from unclassified to its category in the summary', async () => {
    const before = await summary();
    assert.deepEqual(before.byCategory, {
      mechanical: (4 + 3) * MIN,
      flow: (3 + 2) * MIN,
      unclassified: 15 * MIN,
    });
    assert.deepEqual(
      [before.stops, before.plannedMs, before.unplannedMs, before.unclassifiedMs],
      [5, 0, 27 * MIN, 15 * MIN],
    );

    const unknown = (await stops(FILLER)).find((s) => s.plcReasonCode === 'XYZ')!;
    const res = await call(
      hub,
      'POST',
      `/api/v1/equipment/${FILLER}/downtimes/${unknown.seq}/reason`,
      {
        headers: admin,
        body: { reason: 'ELEC', comment: 'PLC code XYZ: the filler’s main breaker tripped' },
      },
    );
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      [
        res.body.reason?.code,
        res.body.reason?.category,
        res.body.reasonSource,
        res.body.classifiedBy,
      ],
      ['ELEC', 'electrical', 'assigned', 'user:admin'],
    );

    const after = await summary();
    assert.deepEqual(after.byCategory, {
      mechanical: (4 + 3) * MIN,
      flow: (3 + 2) * MIN,
      electrical: 15 * MIN,
    });
    assert.deepEqual(
      [after.stops, after.plannedMs, after.unplannedMs, after.unclassifiedMs],
      [5, 0, 27 * MIN, 0],
    );
  });

  it('counts the good pieces of a PLC counter across its rollover at 65535, once', async () => {
    const good = (value: number, minute: number) =>
      publish(FILLER, 'count/good', { value, timestamp: at(minute) });
    await good(65_530, 0); // the baseline: what came before the hub is not counted
    await good(65_535, 1);
    await good(3, 2); // 65535 → 0 is one piece: 1 + 3
    await good(10, 3);
    await good(3, 2); // re-delivered after a reconnect: older than what was read, ignored

    assert.deepEqual(
      (await events(FILLER, 'counted')).map((e) => [
        e.ts,
        e.data.counter,
        e.data.raw,
        e.data.delta,
        e.data.total,
        e.data.anomaly,
      ]),
      [
        [at(1), 'good', 65_535, 5, 5, null],
        [at(2), 'good', 3, 4, 9, 'rollover'],
        [at(3), 'good', 10, 7, 16, null],
      ],
    );
    const unit = await get<{ counters: Record<string, { total: number; lastRaw: number | null }> }>(
      `/api/v1/equipment/${FILLER}`,
    );
    assert.deepEqual(unit.counters.good, { total: 16, lastRaw: 10 });
  });

  it('books the totalisers of pieces used in each material’s unit, as exact decimals', async () => {
    const preforms = (value: number, minute: number) =>
      publish(FILLER, 'consumed/PET-28G', { value, timestamp: at(minute) });
    await preforms(65_400, 0);
    await preforms(65_500, 1); // 100 preforms of 0.028 kg
    await preforms(64, 2); // across the rollover: 35 + 1 + 64 = 100 more
    await publish(CAPPER, 'consumed/CAP-38', { value: 10, timestamp: at(0) });
    await publish(CAPPER, 'consumed/CAP-38', { value: 35, timestamp: at(1) });

    const booked = async (unitId: string) =>
      (await events(unitId, 'consumed')).map((e) => [
        e.ts,
        e.data.material,
        e.data.raw,
        e.data.rawUom,
        e.data.quantity,
        e.data.uom,
        e.data.total,
        e.data.anomaly,
      ]);
    assert.deepEqual(await booked(FILLER), [
      [at(1), 'PET-28G', '65500', 'H87', '2.8', 'KGM', '2.8', null],
      [at(2), 'PET-28G', '64', 'H87', '2.8', 'KGM', '5.6', 'rollover'],
    ]);
    assert.deepEqual(await booked(CAPPER), [
      [at(1), 'CAP-38', '35', 'H87', '25', 'H87', '25', null],
    ]);
    const unit = await get<{ materials: unknown[] }>(`/api/v1/equipment/${FILLER}`);
    assert.deepEqual(unit.materials, [
      { material: 'PET-28G', total: '5.6', uom: 'KGM', lastRaw: '64', lastTs: at(2) },
    ]);
  });

  it('quarantines what it cannot read, with the code and the value or material named', async () => {
    const LINE2_FILLER = 'acme/plant1/packaging/line2/filler';
    const capperTotal = (await get<{ counters: { total: unknown } }>(`/api/v1/equipment/${CAPPER}`))
      .counters.total;
    await state(LINE2_FILLER, 42, 50); // not in the stateMap
    await publish(CAPPER, 'count/total', 'count=17;ok'); // not JSON
    await publish(FILLER, 'consumed/GLUE-X', { value: 5, timestamp: at(50) }); // not in materials

    const q = await get<{
      items: {
        id: number;
        connectionId: string;
        source: string;
        code: string;
        message: string;
        payload: string;
      }[];
      total: number;
      countsByConnection: Record<string, { quarantined: number; byCode: Record<string, number> }>;
    }>('/api/v1/quarantine?connection=plant-mqtt');
    const entries = [...q.items].sort((a, b) => a.id - b.id);
    assert.deepEqual(
      entries.map((e) => [e.connectionId, e.source, e.code]),
      [
        ['plant-mqtt', 'sim/plant1/packaging/line2/filler/state', 'MW_ERR_INGEST_UNMAPPED_STATE'],
        [
          'plant-mqtt',
          'sim/plant1/packaging/line1/capper/count/total',
          'MW_ERR_INGEST_PAYLOAD_INVALID',
        ],
        [
          'plant-mqtt',
          'sim/plant1/packaging/line1/filler/consumed/GLUE-X',
          'MW_ERR_INGEST_UNKNOWN_MATERIAL',
        ],
      ],
    );
    const [unmapped, garbage, material] = entries as [
      (typeof entries)[0],
      (typeof entries)[0],
      (typeof entries)[0],
    ];
    assert.equal(unmapped.message, 'state value 42 is not in the state map of the binding');
    assert.match(garbage.message, /^payload is not valid JSON: /);
    assert.equal(garbage.payload, 'count=17;ok');
    assert.match(
      material.message,
      /^bindings\[\d+\]: material "GLUE-X" is not in the configuration’s materials$/,
    );
    assert.equal(q.total, 3);
    assert.deepEqual(q.countsByConnection['plant-mqtt'], {
      quarantined: 3,
      byCode: {
        MW_ERR_INGEST_UNMAPPED_STATE: 1,
        MW_ERR_INGEST_PAYLOAD_INVALID: 1,
        MW_ERR_INGEST_UNKNOWN_MATERIAL: 1,
      },
    });

    // Counted on the connection and in the metrics; nothing of it reached the units.
    const connection = await get<{ received: number; accepted: number; quarantined: number }>(
      '/api/v1/connections/plant-mqtt',
    );
    assert.deepEqual(
      [connection.received, connection.accepted, connection.quarantined],
      [published, published - 3, 3],
    );
    const metrics = await call(hub, 'GET', '/metrics', { headers: admin });
    assert.equal(metrics.status, 200, metrics.text);
    assert.match(
      metrics.text,
      /^millwright_samples_quarantined_total\{connection="plant-mqtt"\} 3$/m,
    );
    const line2 = await get<{ status: { state: string } }>(`/api/v1/equipment/${LINE2_FILLER}`);
    assert.equal(line2.status.state, 'unknown');
    const capper = await get<{ counters: { total: unknown } }>(`/api/v1/equipment/${CAPPER}`);
    assert.deepEqual(capper.counters.total, capperTotal);
    assert.deepEqual(
      (
        await get<{ materials: { material: string }[] }>(`/api/v1/equipment/${FILLER}`)
      ).materials.map((m) => m.material),
      ['PET-28G'],
    );
  });
});
