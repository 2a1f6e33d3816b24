/** Two sites with their own reason codes, reported side by side by category (one vocabulary). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { adminHeaders, call, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';

const YAML = `
enterprise: { id: acme }
sites:
  - id: hamburg
    timeZone: Europe/Berlin
    reasons:
      - { code: STAU, name: Stau, category: mechanical, plcCodes: ['11'] }
      - { code: PAUSE, name: Pause, category: people, planned: true, plcCodes: ['90'] }
    areas: [{ id: pack, lines: [{ id: l1, units: [{ id: filler }] }] }]
  - id: lyon
    timeZone: Europe/Paris
    reasons:
      - { code: BOURRAGE, name: Bourrage, category: mechanical, plcCodes: ['B1'] }
    areas: [{ id: pack, lines: [{ id: l1, units: [{ id: filler }] }] }]
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    topic: 'plc/{site}/{unit}/state'
    equipment: 'acme/{site}/pack/l1/{unit}'
    meaning: state
    payload: { valuePath: s, reasonPath: r, timestampPath: ts }
`;

describe('downtime side by side', () => {
  let hub: TestHub;
  let device: MqttClient;
  const T0 = Date.parse('2026-11-26T06:00:00Z');
  const state = (site: string, s: string, r: string | null, minute: number) =>
    device.publishAsync(
      `plc/${site}/filler/state`,
      JSON.stringify({ s, r, ts: T0 + minute * 60_000 }),
      { qos: 1 },
    );

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
    await state('hamburg', 'running', null, 0);
    await state('hamburg', 'down', '11', 10); // mechanical, 5 min
    await state('hamburg', 'running', null, 15);
    await state('hamburg', 'down', '90', 30); // planned, 10 min
    await state('hamburg', 'running', null, 40);
    await state('lyon', 'running', null, 0);
    await state('lyon', 'down', 'B1', 5); // mechanical, 3 min
    await state('lyon', 'running', null, 8);
    await state('lyon', 'down', 'X', 20); // unclassified, 2 min
    await state('lyon', 'running', null, 22);
    await state('lyon', 'changeover', null, 30); // planned by its state, 6 min
    await state('lyon', 'running', null, 36);
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
  });

  it('sums stop time per site by category, planned and unplanned', async () => {
    const admin = await adminHeaders(hub);
    const res = await call(
      hub,
      'GET',
      `/api/v1/downtime/summary?from=${new Date(T0).toISOString()}&to=${new Date(T0 + 3_600_000).toISOString()}`,
      { headers: admin },
    );
    assert.equal(res.status, 200, res.text);
    const bySite = Object.fromEntries(
      (res.body.sites as { site: string }[]).map((s) => [s.site, s as unknown]),
    ) as Record<
      string,
      {
        byCategory: Record<string, number>;
        plannedMs: number;
        unplannedMs: number;
        unclassifiedMs: number;
        stops: number;
        timeZone: string;
      }
    >;
    const min = 60_000;
    assert.deepEqual(bySite.hamburg?.byCategory, { mechanical: 5 * min, people: 10 * min });
    assert.deepEqual([bySite.hamburg?.plannedMs, bySite.hamburg?.unplannedMs], [10 * min, 5 * min]);
    assert.deepEqual(bySite.lyon?.byCategory, { mechanical: 3 * min, unclassified: 8 * min });
    // A changeover without a reason is planned by its state; an unclassified down is unplanned.
    assert.deepEqual(
      [bySite.lyon?.plannedMs, bySite.lyon?.unplannedMs, bySite.lyon?.unclassifiedMs],
      [6 * min, 5 * min, 8 * min],
    );
    assert.equal(bySite.lyon?.timeZone, 'Europe/Paris');
  });
});
