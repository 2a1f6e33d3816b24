/**
 * Stops and reasons through a real hub: PLC codes mapped through the site's reason tree, an
 * unclassified stop given a reason afterwards by an operator (audited with the comment), and
 * the refusals (viewer, unknown reason, no comment, not a stop).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import {
  adminHeaders,
  call,
  createTestUser,
  login,
  PLANT_YAML,
  startTestHub,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const YAML =
  PLANT_YAML.replace(
    '    timeZone: Europe/Berlin',
    `    timeZone: Europe/Berlin
    reasons:
      - { code: JAM, name: Bottle jam, category: mechanical, plcCodes: ['17'] }
      - { code: ELEC, name: Electrical fault, category: electrical }
      - { code: BREAK, name: Break, category: people, planned: true }`,
  ) +
  `
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    topic: 'plc/{line}/{unit}/state'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: state
    payload: { valuePath: s, reasonPath: r, timestampPath: ts }
`;

describe('stops and their reasons', () => {
  let hub: TestHub;
  let device: MqttClient;
  let admin: { authorization: string };
  const T0 = Date.parse('2026-11-26T06:00:00Z');
  const state = (s: string, r: string | null, minute: number) =>
    device.publishAsync(
      'plc/line1/filler/state',
      JSON.stringify({ s, r, ts: T0 + minute * 60_000 }),
      { qos: 1 },
    );
  const url = `/api/v1/equipment/${FILLER}/downtimes`;

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    admin = await adminHeaders(hub);
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
    await state('running', null, 0);
    await state('down', '17', 10);
    await state('running', null, 14);
    await state('down', '99', 30);
    await state('running', null, 45);
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
  });

  it('lists the stops with reasons mapped from the PLC codes', async () => {
    const res = await call(hub, 'GET', url, { headers: admin });
    assert.equal(res.status, 200, res.text);
    const stops = res.body.items as {
      seq: number;
      durationMs: number;
      plcReasonCode: string;
      reason: { code: string } | null;
      reasonSource: string | null;
    }[];
    assert.deepEqual(
      stops.map((s) => [s.plcReasonCode, s.durationMs, s.reason?.code ?? null, s.reasonSource]),
      [
        ['17', 4 * 60_000, 'JAM', 'plc'],
        ['99', 15 * 60_000, null, null],
      ],
    );
  });

  it('lists a stop that began before the window and ran into it, and counts only its part', async () => {
    const from = new Date(T0 + 35 * 60_000).toISOString();
    const res = await call(hub, 'GET', `${url}?from=${from}`, { headers: admin });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      res.body.items.map((s: { plcReasonCode: string; durationMs: number }) => [
        s.plcReasonCode,
        s.durationMs,
      ]),
      [['99', 15 * 60_000]],
    );
    const to = new Date(T0 + 60 * 60_000).toISOString();
    const summary = await call(hub, 'GET', `/api/v1/downtime/summary?from=${from}&to=${to}`, {
      headers: admin,
    });
    assert.equal(summary.status, 200, summary.text);
    assert.equal(summary.body.sites[0].unclassifiedMs, 10 * 60_000);
  });

  it('keeps a stop whose PLC code the tree does not know, and counts the code', async () => {
    const res = await call(hub, 'GET', '/api/v1/connections/plc', { headers: admin });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.body.unmappedReasons, res.body.unmappedReasonCodes], [1, ['99']]);
    const metrics = await (await fetch(`${hub.url}/metrics`, { headers: admin })).text();
    assert.match(metrics, /^millwright_unmapped_reason_codes_total\{connection="plc"\} 1$/m);
    assert.equal(hub.runtime.get(FILLER)?.status.state, 'running');
    // The unit's state as a one-hot gauge, and its OEE in the current shift (a site without a
    // calendar is one 24-hour shift): a number between 0 and 1 once it has run.
    assert.match(
      metrics,
      new RegExp(`^millwright_unit_state\\{equipment="${FILLER}",state="running"\\} 1$`, 'm'),
    );
    assert.match(
      metrics,
      new RegExp(`^millwright_unit_state\\{equipment="${FILLER}",state="down"\\} 0$`, 'm'),
    );
    const oee = new RegExp(
      `^millwright_unit_availability\\{equipment="${FILLER}"\\} (\\S+)$`,
      'm',
    ).exec(metrics);
    assert.ok(oee !== null, 'availability of the filler');
    assert.ok(Number(oee[1]) > 0 && Number(oee[1]) <= 1, oee[1]);
  });

  it('lets an operator classify a stop afterwards, audited with the comment', async () => {
    const stops = (await call(hub, 'GET', url, { headers: admin })).body.items as { seq: number }[];
    const seq = stops[1]!.seq;
    const password = await createTestUser(hub, 'otto', ['operator']);
    const operator = await login(hub.url!, 'otto', password);
    const res = await call(hub, 'POST', `${url}/${seq}/reason`, {
      headers: operator,
      body: { reason: 'ELEC', comment: 'breaker tripped on the conveyor motor' },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.reason.code, 'ELEC');
    assert.equal(res.body.reasonSource, 'assigned');
    assert.equal(res.body.classifiedBy, 'user:otto');
    const rows = await hub.store.listAudit({ entityType: 'downtime', limit: 10 });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.actor, 'user:otto');
    assert.equal(rows[0]?.action, 'classify');
    assert.equal(rows[0]?.reason, 'breaker tripped on the conveyor motor');
    assert.deepEqual(rows[0]?.changes.reason, { old: null, new: 'ELEC' });
  });

  it('refuses a viewer, an unknown reason, a missing comment and what is not a stop', async () => {
    const stops = (await call(hub, 'GET', url, { headers: admin })).body.items as { seq: number }[];
    const seq = stops[0]!.seq;
    const password = await createTestUser(hub, 'vic', ['viewer']);
    const viewer = await login(hub.url!, 'vic', password);
    const denied = await call(hub, 'POST', `${url}/${seq}/reason`, {
      headers: viewer,
      body: { reason: 'ELEC', comment: 'x' },
    });
    assert.equal(denied.status, 403);
    assert.match(denied.body.error.message, /production\.record/);
    const unknown = await call(hub, 'POST', `${url}/${seq}/reason`, {
      headers: admin,
      body: { reason: 'GREMLINS', comment: 'who knows' },
    });
    assert.equal(unknown.status, 400);
    assert.match(
      unknown.body.error.message,
      /unknown reason "GREMLINS" \(reasons of this site: JAM, ELEC, BREAK\)/,
    );
    const silent = await call(hub, 'POST', `${url}/${seq}/reason`, {
      headers: admin,
      body: { reason: 'ELEC', comment: '  ' },
    });
    assert.equal(silent.status, 400);
    assert.match(silent.body.error.message, /comment is required/);
    const notAStop = await call(hub, 'POST', `${url}/${seq + 1}/reason`, {
      headers: admin,
      body: { reason: 'ELEC', comment: 'that was running' },
    });
    assert.equal(notAStop.status, 404);
  });
});
