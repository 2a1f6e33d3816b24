/** GET /api/v1/bindings and `millwright explain UNIT`: the readings behind a unit's state. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { runCli } from '../helpers/cli.ts';
import {
  adminHeaders,
  call,
  PLANT_YAML,
  startTestHub,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const YAML = `${PLANT_YAML}
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    inputs: { fault: 'plc/{line}/{unit}/fault', running: 'plc/{line}/{unit}/run' }
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: state
    expression: "fault ? 'down' : running ? 'running' : 'idle'"
`;

describe('explaining a unit', () => {
  let hub: TestHub;
  let device: MqttClient;
  let admin: { authorization: string };

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    admin = await adminHeaders(hub);
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
    await device.publishAsync('plc/line1/filler/run', '1', { qos: 1 });
    await device.publishAsync('plc/line1/filler/fault', '1', { qos: 1 });
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
  });

  it('lists each binding with the last readings and the value it derived', async () => {
    const res = await call(hub, 'GET', `/api/v1/bindings?equipment=${encodeURIComponent(FILLER)}`, {
      headers: admin,
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.unit.state, 'down');
    const [b] = res.body.items;
    assert.equal(b.expression, "fault ? 'down' : running ? 'running' : 'idle'");
    const [u] = b.units;
    assert.equal(u.equipmentId, FILLER);
    assert.equal(u.output, 'down');
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(u.inputs).map(([k, v]) => [k, (v as { value: unknown }).value]),
      ),
      { fault: 1, running: 1 },
    );
  });

  it('explains it in the terminal', async () => {
    const token = (
      await call(hub, 'POST', '/api/v1/tokens', {
        headers: admin,
        body: { name: 'explain', permissions: ['equipment.read'] },
      })
    ).body.token as string;
    const r = await runCli(['explain', FILLER, '--url', hub.url!], { MILLWRIGHT_TOKEN: token });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^acme\/plant1\/packaging\/line1\/filler: down since /);
    assert.match(r.stdout, /bindings\[0\] state from plc: fault=plc\/\{line\}\/\{unit\}\/fault/);
    assert.match(r.stdout, /fault +1 good at .*\[plc\/line1\/filler\/fault\]/);
    assert.match(r.stdout, /→ "down"/);
    const unknown = await runCli(['explain', 'acme/nowhere', '--url', hub.url!], {
      MILLWRIGHT_TOKEN: token,
    });
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /acme\/nowhere is not a work unit of this hub/);
  });
});
