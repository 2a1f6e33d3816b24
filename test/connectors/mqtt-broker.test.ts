/**
 * The MQTT connection against a private Mosquitto (started from the machine's binary on free
 * ports): TLS with client certificates, tags marked stale when the broker goes and reconnects
 * with backoff when it returns, and shared subscriptions splitting one plant between two hubs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type IClientOptions } from 'mqtt';
import { PLANT_YAML, startTestHub, tempDir, testConfig, type TestHub } from '../helpers/hub.ts';
import { childTracker, exited, freePort } from '../helpers/processes.ts';
import { REQUIRE_SERVICES, waitFor } from '../helpers/services.ts';
import { makeCa, makeSigned } from '../helpers/tls.ts';

const MOSQUITTO = '/usr/sbin/mosquitto';
const installed = spawnSync(MOSQUITTO, ['-h']).error === undefined;
const skip = installed ? false : `mosquitto not installed at ${MOSQUITTO}`;
if (!installed) {
  if (REQUIRE_SERVICES) throw new Error(`${skip} (MILLWRIGHT_REQUIRE_SERVICES=1)`);
  console.log(`# skip: ${skip}`);
}

const FILLER = 'acme/plant1/packaging/line1/filler';
const track = childTracker();

describe('MQTT against a private Mosquitto', { skip }, () => {
  const tmp = tempDir('mw-mqtt-broker-');
  let ca: { cert: string; key: string };
  let client: { cert: string; key: string };
  let plainPort: number;
  let tlsPort: number;
  let broker: ChildProcess | null = null;
  const hubs: TestHub[] = [];

  const startBroker = async (): Promise<void> => {
    broker = track(
      spawn(MOSQUITTO, ['-c', path.join(tmp.dir, 'mosquitto.conf')], { stdio: 'ignore' }),
    );
    await waitFor(
      async () => {
        const c = await mqtt
          .connectAsync(`mqtt://127.0.0.1:${plainPort}`, {
            reconnectPeriod: 0,
            connectTimeout: 500,
          })
          .catch(() => null);
        await c?.endAsync();
        return c !== null;
      },
      { what: 'the private Mosquitto' },
    );
  };
  const stopBroker = async (): Promise<void> => {
    const b = broker;
    broker = null;
    if (b === null) return;
    b.kill('SIGTERM');
    await exited(b);
  };

  before(async () => {
    ca = makeCa(tmp.dir);
    const server = makeSigned(tmp.dir, 'broker', ca);
    client = makeSigned(tmp.dir, 'millwright', ca);
    plainPort = await freePort();
    tlsPort = await freePort();
    writeFileSync(
      path.join(tmp.dir, 'mosquitto.conf'),
      [
        // Started as root, Mosquitto drops to its own user, which cannot read the test's key files.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        'per_listener_settings false',
        'allow_anonymous true',
        'persistence false',
        `listener ${plainPort} 127.0.0.1`,
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${ca.cert}`,
        `certfile ${server.cert}`,
        `keyfile ${server.key}`,
        'require_certificate true',
        '',
      ].join('\n'),
    );
    await startBroker();
  });
  after(async () => {
    for (const h of hubs) await h.dispose();
    await stopBroker();
    tmp.remove();
  });

  const hubOn = async (connection: string): Promise<TestHub> => {
    const hub = await startTestHub(
      testConfig(`${PLANT_YAML}
connections:
  - ${connection}
bindings:
  - { connection: line, topic: 't/{site}/{area}/{line}/{unit}/good', meaning: counter.good }
`),
      { dataDir: tmp.dir + `/hub${hubs.length}` },
    );
    hubs.push(hub);
    return hub;
  };

  it('reads over TLS with a client certificate; without one the broker refuses', async () => {
    const tls = `tls: { ca: '${ca.cert}', cert: '${client.cert}', key: '${client.key}' }`;
    const hub = await hubOn(
      `{ id: line, type: mqtt, url: 'mqtts://127.0.0.1:${tlsPort}', clientId: tls-hub, ${tls} }`,
    );
    await waitFor(() => hub.connectors[0]?.health().status === 'connected', {
      what: 'the TLS connection',
    });
    const tlsOptions: IClientOptions = {
      ca: readFileSync(ca.cert),
      cert: readFileSync(client.cert),
      key: readFileSync(client.key),
      reconnectPeriod: 0,
    };
    const device = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, tlsOptions);
    await device.publishAsync('t/plant1/packaging/line1/filler/good', '10', { qos: 1 });
    await device.publishAsync('t/plant1/packaging/line1/filler/good', '13', { qos: 1 });
    await waitFor(() => hub.runtime.get(FILLER)?.counters.good.total === 3, {
      what: 'the counter over TLS',
    });
    await device.endAsync();

    const refused = await mqtt
      .connectAsync(`mqtts://127.0.0.1:${tlsPort}`, {
        ca: readFileSync(ca.cert),
        reconnectPeriod: 0,
      })
      .then(
        async (c) => {
          await c.endAsync();
          return false;
        },
        () => true,
      );
    assert.ok(refused, 'a client without a certificate is refused');
  });

  it('marks tags stale when the broker goes, and reconnects with backoff when it returns', async () => {
    const hub = await hubOn(
      `{ id: line, type: mqtt, url: 'mqtt://127.0.0.1:${plainPort}', clientId: stale-hub, reconnect: { initial: 100ms, max: 400ms } }`,
    );
    await waitFor(() => hub.connectors[0]?.health().status === 'connected', { what: 'connected' });
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${plainPort}`, { reconnectPeriod: 0 });
    await device.publishAsync('t/plant1/packaging/line1/filler/good', '5', { qos: 1 });
    await waitFor(
      () => hub.live.get('line', 't/plant1/packaging/line1/filler/good')?.quality === 'good',
      {
        what: 'a good value',
      },
    );
    await device.endAsync();

    await stopBroker();
    await waitFor(
      () =>
        hub.live
          .get('line', 't/plant1/packaging/line1/filler/good')
          ?.status?.startsWith('stale') === true,
      { what: 'the tag marked stale' },
    );
    const stale = hub.live.get('line', 't/plant1/packaging/line1/filler/good');
    assert.equal(stale?.quality, 'bad');
    assert.equal(stale?.value, null);
    await waitFor(() => hub.connectors[0]!.health().reconnects >= 2, { what: 'retries' });
    assert.notEqual(hub.connectors[0]?.health().status, 'connected');

    await startBroker();
    await waitFor(() => hub.connectors[0]?.health().status === 'connected', {
      what: 'the reconnect',
      timeoutMs: 10_000,
    });
    const again = await mqtt.connectAsync(`mqtt://127.0.0.1:${plainPort}`, { reconnectPeriod: 0 });
    await again.publishAsync('t/plant1/packaging/line1/filler/good', '6', { qos: 1 });
    await waitFor(() => hub.live.get('line', 't/plant1/packaging/line1/filler/good')?.value === 6, {
      what: 'data after the reconnect',
    });
    await again.endAsync();
  });

  it('splits one plant between two hubs with a shared subscription, each message once', async () => {
    const shared = (id: string) =>
      `{ id: line, type: mqtt, url: 'mqtt://127.0.0.1:${plainPort}', clientId: ${id}, sharedGroup: plant1 }`;
    const a = await hubOn(shared('shared-a'));
    const b = await hubOn(shared('shared-b'));
    for (const h of [a, b]) {
      await waitFor(() => h.connectors[0]?.health().status === 'connected', { what: 'connected' });
    }
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${plainPort}`, { reconnectPeriod: 0 });
    const n = 200;
    for (let i = 0; i < n; i++) {
      await device.publishAsync(`t/plant1/packaging/line1/u${i}/good`, String(i), { qos: 1 });
    }
    await device.endAsync();
    const received = (h: TestHub) => h.pipeline.snapshot().connections.line?.received ?? 0;
    await waitFor(() => received(a) + received(b) >= n, { what: 'all messages' });
    assert.equal(received(a) + received(b), n, 'each message reached exactly one hub');
    assert.ok(
      received(a) > 0 && received(b) > 0,
      `both hubs took a share (${received(a)} / ${received(b)})`,
    );
  });
});
