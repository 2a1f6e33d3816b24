/**
 * Connections over HTTP: health with samples/s, the latest value of every tag, /metrics in the
 * Prometheus text format, and a tag write through the MQTT connection (embedded broker) that a
 * real subscriber receives, audited, refused to a viewer.
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
import { waitFor } from '../helpers/services.ts';

const YAML = `${PLANT_YAML}
connections:
  - id: line-mqtt
    type: mqtt
bindings:
  - connection: line-mqtt
    topic: t/{site}/{area}/{line}/{unit}/good
    meaning: counter.good
`;

describe('connections, tags and metrics over HTTP', () => {
  let hub: TestHub;
  let admin: { authorization: string };
  let device: MqttClient;

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    admin = await adminHeaders(hub);
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
  });

  it('lists connections with health and the latest value of each tag', async () => {
    for (let n = 1; n <= 20; n++) {
      await device.publishAsync('t/plant1/packaging/line1/filler/good', String(n), { qos: 1 });
    }
    const list = await call(hub, 'GET', '/api/v1/connections', { headers: admin });
    assert.equal(list.status, 200, list.text);
    const c = list.body.items.find((x: { id: string }) => x.id === 'line-mqtt');
    assert.equal(c.status, 'connected');
    assert.equal(c.type, 'mqtt');
    assert.equal(c.received, 20);
    assert.equal(c.writable, true);
    assert.ok(c.lastDataAt.endsWith('Z'));
    await waitFor(
      async () =>
        (await call(hub, 'GET', '/api/v1/connections/line-mqtt', { headers: admin })).body
          .samplesPerSecond > 0,
      { what: 'a samples/s figure', timeoutMs: 5000 },
    );
    const tags = await call(hub, 'GET', '/api/v1/connections/line-mqtt/tags', { headers: admin });
    assert.deepEqual(
      tags.body.items.map((t: { tag: string; value: unknown; quality: string }) => [
        t.tag,
        t.value,
        t.quality,
      ]),
      [['t/plant1/packaging/line1/filler/good', 20, 'good']],
    );
    const missing = await call(hub, 'GET', '/api/v1/connections/nope', { headers: admin });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'MW_ERR_CONNECTION_NOT_FOUND');
  });

  it('serves Prometheus metrics to those allowed', async () => {
    const res = await fetch(`${hub.url}/metrics`, { headers: admin });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /^# TYPE millwright_samples_received_total counter$/m);
    const received = /^millwright_samples_received_total\{connection="line-mqtt"\} (\d+)$/m.exec(
      text,
    );
    assert.ok(Number(received?.[1]) >= 20, text);
    assert.match(text, /^millwright_connection_up\{connection="line-mqtt",type="mqtt"\} 1$/m);
    const again = await (await fetch(`${hub.url}/metrics`, { headers: admin })).text();
    // A mirrored counter does not double on a second scrape.
    assert.equal(
      /^millwright_samples_received_total\{connection="line-mqtt"\} (\d+)$/m.exec(again)?.[1],
      received?.[1],
    );
    assert.equal((await fetch(`${hub.url}/metrics`)).status, 401);
  });

  it('writes a tag through the broker, audited; a viewer may not', async () => {
    const got = new Promise<string>((resolve) => {
      device.on('message', (topic, payload) => {
        if (topic === 'cmd/line1/order') resolve(payload.toString());
      });
    });
    await device.subscribeAsync('cmd/line1/order', { qos: 1 });
    const res = await call(hub, 'POST', '/api/v1/tags/line-mqtt/cmd/line1/order/write', {
      headers: admin,
      body: { value: 'PO-4711', reason: 'order released' },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(await got, 'PO-4711');
    const rows = await hub.store.listAudit({
      entityType: 'tag',
      entityId: 'line-mqtt/cmd/line1/order',
      limit: 10,
    });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.action, 'write');
    assert.deepEqual(rows[0]?.changes, { value: { old: null, new: 'PO-4711' } });
    assert.equal(rows[0]?.reason, 'order released');

    const bad = await call(hub, 'POST', '/api/v1/tags/line-mqtt/cmd/+/order/write', {
      headers: admin,
      body: { value: 1 },
    });
    assert.equal(bad.status, 502);
    assert.equal(bad.body.error.code, 'MW_ERR_TAG_WRITE');
    const failed = await hub.store.listAudit({ entityType: 'tag', limit: 10 });
    assert.equal(failed.at(-1)?.action, 'write.failed');

    const password = await createTestUser(hub, 'vera', ['viewer']);
    const viewer = await login(hub.url!, 'vera', password);
    const refused = await call(hub, 'POST', '/api/v1/tags/line-mqtt/cmd/line1/order/write', {
      headers: viewer,
      body: { value: 'PO-1' },
    });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /tags\.write/);
  });
});
