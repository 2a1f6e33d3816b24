/**
 * The MQTT connector against the machine's Mosquitto (MILLWRIGHT_MQTT_URL): ingest, and the
 * persistent session that delivers QoS 1 messages published while the hub was down, with MQTT 5
 * and MQTT 3.1.1.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';
import { PLANT_YAML, startTestHub, tempDir, testConfig } from '../helpers/hub.ts';
import { MQTT_URL, needService, waitFor } from '../helpers/services.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';

for (const protocolVersion of [5, 4] as const) {
  describe(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'} on an external broker`, () => {
    it('ingests, and receives after a restart what was published while the hub was down', async (t) => {
      if (!(await needService(t, 'Mosquitto (MQTT broker)', MQTT_URL))) return;
      // A topic root and client id of this run's own, so runs never share a session or topics.
      const root = `mwtest-${randomUUID().slice(0, 8)}`;
      const config = testConfig(`${PLANT_YAML}
connections:
  - id: ext
    type: mqtt
    url: ${MQTT_URL}
    clientId: ${root}-hub
    protocolVersion: ${protocolVersion}
bindings:
  - connection: ext
    topic: ${root}/{site}/{area}/{line}/{unit}/count
    meaning: counter.total
    payload: { valuePath: n, timestampPath: ts }
`);
      const data = tempDir('mw-ext-');
      const publisher = await mqtt.connectAsync(MQTT_URL, {
        clientId: `${root}-pub`,
        protocolVersion,
        reconnectPeriod: 0,
      });
      const topic = `${root}/plant1/packaging/line1/filler/count`;
      const send = (n: number): Promise<unknown> =>
        publisher.publishAsync(topic, JSON.stringify({ n, ts: 1_700_000_000_000 + n }), { qos: 1 });
      let hub = await startTestHub(config, { dataDir: data.dir, http: false });
      try {
        await waitFor(() => hub.connectors[0]?.health().status === 'connected', {
          what: 'connected to the broker',
        });
        for (let n = 1; n <= 20; n++) await send(n);
        await waitFor(() => hub.runtime.get(FILLER)?.counters.total.lastRaw === 20, {
          what: 'the first 20 values',
        });
        assert.equal(hub.runtime.get(FILLER)?.counters.total.total, 19);

        await hub.stop();
        for (let n = 21; n <= 70; n++) await send(n); // the hub is down: the broker keeps them
        hub = await startTestHub(config, { dataDir: data.dir, http: false });
        await waitFor(() => hub.runtime.get(FILLER)?.counters.total.lastRaw === 70, {
          what: 'the 50 values sent while the hub was down',
        });
        assert.equal(hub.runtime.get(FILLER)?.counters.total.total, 69);
        await hub.pipeline.flush(); // the runtime runs ahead of the commit by at most one batch
        const rows = await hub.store.listSamples({ tag: topic, limit: 1000 });
        assert.deepEqual(
          [...new Set(rows.map((r) => Number(r.value)))].sort((a, b) => a - b),
          Array.from({ length: 70 }, (_, i) => i + 1),
        );
        // A clean stop sent the PUBACKs of everything committed: the broker re-delivered nothing.
        assert.equal(rows.length, 70);
      } finally {
        await publisher.endAsync();
        await hub.dispose();
        // Leave no session behind on the shared broker.
        const cleaner = await mqtt.connectAsync(MQTT_URL, {
          clientId: `${root}-hub`,
          clean: true,
          protocolVersion,
          reconnectPeriod: 0,
        });
        await cleaner.endAsync();
        data.remove();
      }
    });
  });
}
