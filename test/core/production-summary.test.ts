/**
 * Two sites in different time zones, reported side by side: each line's output (its output
 * unit's counts, not the other units'), consumption per material in exact decimals, each site's
 * "day" taken in its own zone, and an absolute range for both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { adminHeaders, call, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';

const YAML = `
enterprise: { id: acme }
sites:
  - id: hamburg
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler }, { id: casepacker }]
            outputUnit: casepacker
  - id: chicago
    timeZone: America/Chicago
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler }, { id: capper }]
materials:
  - { id: PET-28G, uom: KGM, conversions: ['1 H87 = 0.028 KGM'] }
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    topic: '{site}/{unit}/good'
    equipment: acme/{site}/packaging/line1/{unit}
    meaning: counter.good
    counterMode: increment
    payload: { valuePath: n, timestampPath: ts }
  - connection: plc
    topic: '{site}/{unit}/preforms'
    equipment: acme/{site}/packaging/line1/{unit}
    meaning: consumption
    material: PET-28G
    uom: H87
    counterMode: increment
    payload: { valuePath: n, timestampPath: ts }
`;

interface Site {
  site: string;
  day: string | null;
  from: string;
  to: string;
  lines: { id: string; outputUnitId: string; counts: { good: number } }[];
  consumption: { material: string; quantity: string; uom: string }[];
}

describe('production of every site side by side', () => {
  let hub: TestHub;
  let device: MqttClient;
  let admin: { authorization: string };
  const at = (iso: string) => Date.parse(iso);
  const send = (topic: string, n: number, ts: number) =>
    device.publishAsync(topic, JSON.stringify({ n, ts }), { qos: 1 });
  const summary = async (query: string): Promise<Site[]> => {
    const res = await call(hub, 'GET', `/api/v1/production/summary?${query}`, { headers: admin });
    assert.equal(res.status, 200, res.text);
    return res.body.sites as Site[];
  };

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    admin = await adminHeaders(hub);
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
    // 23:30 UTC on the 25th is already the 26th in Hamburg, still the 25th in Chicago.
    await send('hamburg/casepacker/good', 10, at('2026-11-25T23:30:00Z'));
    await send('hamburg/filler/good', 500, at('2026-11-25T23:30:00Z'));
    await send('hamburg/casepacker/good', 5, at('2026-11-26T12:00:00Z'));
    await send('chicago/capper/good', 7, at('2026-11-25T23:30:00Z'));
    await send('chicago/capper/good', 3, at('2026-11-26T12:00:00Z'));
    for (let i = 0; i < 3; i++)
      await send('hamburg/filler/preforms', 10, at('2026-11-26T10:00:00Z') + i);
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
  });

  it('takes each site’s day in its own time zone, counting the line’s output unit', async () => {
    const [hamburg, chicago] = await summary('day=2026-11-26');
    assert.equal(hamburg!.from, '2026-11-25T23:00:00.000Z');
    assert.equal(chicago!.from, '2026-11-26T06:00:00.000Z');
    assert.deepEqual(
      hamburg!.lines.map((l) => [l.outputUnitId, l.counts.good]),
      [['acme/hamburg/packaging/line1/casepacker', 15]],
    );
    // Chicago's line has no outputUnit: its last unit, the capper; the 23:30 UTC count was
    // the 25th there.
    assert.deepEqual(
      chicago!.lines.map((l) => [l.outputUnitId, l.counts.good]),
      [['acme/chicago/packaging/line1/capper', 3]],
    );
    assert.deepEqual(hamburg!.consumption, [{ material: 'PET-28G', quantity: '0.84', uom: 'KGM' }]);
    assert.deepEqual(chicago!.consumption, []);
    const [, chicago25] = await summary('day=2026-11-25');
    assert.equal(chicago25!.lines[0]!.counts.good, 7);
  });

  it('takes an absolute range for every site alike, and refuses a mixed query', async () => {
    const sites = await summary('from=2026-11-25T23:00:00Z&to=2026-11-26T00:00:00Z');
    assert.deepEqual(
      sites.map((s) => [s.site, s.day, s.lines[0]!.counts.good]),
      [
        ['hamburg', null, 10],
        ['chicago', null, 7],
      ],
    );
    const bad = await call(
      hub,
      'GET',
      '/api/v1/production/summary?day=2026-11-26&from=2026-11-25T00:00:00Z',
      {
        headers: admin,
      },
    );
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /give a day, or from and to, not both/);
  });
});
