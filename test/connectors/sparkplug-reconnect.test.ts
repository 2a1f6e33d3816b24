/**
 * The Sparkplug B host when its broker goes away: tags go bad "stale: connection lost", health
 * says disconnected and counts reconnects (backoff), and after the broker comes back on the same
 * port the host publishes its STATE birth again, asks known nodes for a rebirth and data flows.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { DataType } from '../../src/connectors/sparkplug/payload.ts';
import type { ConnectorInstance } from '../../src/core/connector.ts';
import { PLANT_YAML, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';
import { freePort } from '../helpers/processes.ts';
import { waitFor } from '../helpers/services.ts';
import { EdgeNode } from './sparkplug-edge.ts';

/** A plain aedes broker on a fixed port, as an external broker that can be stopped and restarted. */
async function startBroker(port: number): Promise<{ close(): Promise<void> }> {
  const aedes = await Aedes.createBroker();
  const server = net.createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        aedes.close();
      }),
  };
}

const FILLER = 'acme/plant1/packaging/line1/filler';

describe('Sparkplug B host across a broker restart', () => {
  let port: number;
  let broker: { close(): Promise<void> } | null = null;
  let hub: TestHub;
  let sp: ConnectorInstance;
  let edge: EdgeNode;

  before(async () => {
    port = await freePort();
    broker = await startBroker(port);
    hub = await startTestHub(
      testConfig(`${PLANT_YAML}
connections:
  - id: sp
    type: sparkplug
    url: mqtt://127.0.0.1:${port}
    protocolVersion: 4
    hostId: restart-host
    reconnect: { initial: 50ms, max: 200ms }
bindings:
  - connection: sp
    topic: 'g1/+/{unit}/state'
    equipment: acme/plant1/packaging/line1/{unit}
    meaning: state
    stateMap: { '1': running, '3': down }
`),
      { http: false },
    );
    sp = hub.connectors.find((c) => c.id === 'sp') as ConnectorInstance;
    await waitFor(() => sp.health().status === 'connected', { what: 'host connected' });
  });
  after(async () => {
    await edge?.end().catch(() => undefined);
    await hub?.dispose();
    await broker?.close();
  });

  const latest = async (): Promise<
    { quality: string; status?: string | null | undefined } | undefined
  > => (await hub.store.listSamples({ tag: 'g1/n1/filler/state', limit: 1000 })).at(-1);

  it('marks tags stale while the broker is away and reads again once it is back', async () => {
    edge = new EdgeNode({ url: `mqtt://127.0.0.1:${port}`, group: 'g1', edgeNode: 'n1' });
    await edge.connect();
    await edge.nbirth([]);
    await edge.dbirth('filler', [{ name: 'state', alias: 1, datatype: DataType.Int32, value: 1 }]);
    await waitFor(() => hub.runtime.get(FILLER)?.status.state === 'running', { what: 'running' });

    await broker?.close();
    broker = null;
    edge.kill();
    const stale = await waitFor(
      async () => {
        const s = await latest();
        return s?.quality === 'bad' ? s : null;
      },
      { what: 'stale sample' },
    );
    assert.equal(stale.status, 'stale: connection lost');
    assert.equal(sp.health().status, 'disconnected');
    await waitFor(() => sp.health().reconnects >= 2, { what: 'reconnect attempts counted' });
    assert.match(sp.health().detail ?? '', /cannot connect to mqtt:\/\/127\.0\.0\.1/);

    broker = await startBroker(port);
    await waitFor(() => sp.health().status === 'connected', { what: 'host connected again' });
    // Its STATE birth is on the new broker, retained.
    const observer = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const state = new Promise<string>((resolve) =>
      observer.on('message', (_t, payload) => resolve(payload.toString())),
    );
    await observer.subscribeAsync('spBv1.0/STATE/restart-host', { qos: 1 });
    assert.equal((JSON.parse(await state) as { online: boolean }).online, true);
    await observer.endAsync();

    // The edge node comes back with its next bdSeq, and data flows again.
    edge = new EdgeNode({ url: `mqtt://127.0.0.1:${port}`, group: 'g1', edgeNode: 'n1', bdSeq: 1 });
    await edge.connect();
    await edge.nbirth([]);
    await edge.dbirth('filler', [{ name: 'state', alias: 1, datatype: DataType.Int32, value: 1 }]);
    await edge.ddata('filler', [{ alias: 1, value: 3, datatype: DataType.Int32 }]);
    await waitFor(() => hub.runtime.get(FILLER)?.status.state === 'down', { what: 'down' });
    assert.equal((await latest())?.quality, 'good');
  });
});
