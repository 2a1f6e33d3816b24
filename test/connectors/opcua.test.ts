/**
 * The OPC UA connector against a real node-opcua server over loopback: monitored items into a
 * real hub, StatusCodes as quality, a write confirmed by the server, browse, the server
 * restarting on the same port, and the watchdog recreating a subscription gone silent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { browseOpcua } from '../../src/connectors/opcua/browse.ts';
import { STALE_STATUS } from '../../src/connectors/opcua/connector.ts';
import { isMwError } from '../../src/errors.ts';
import type { ConnectorInstance } from '../../src/core/connector.ts';
import { isSilent } from '../../src/connectors/opcua/watchdog.ts';
import { convertDataValue, tagValueToVariant } from '../../src/connectors/opcua/convert.ts';
import { DataType, DataValue, StatusCodes, Variant, VariantArrayType } from 'node-opcua';
import { PLANT_YAML, startTestHub, tempDir, testConfig, type TestHub } from '../helpers/hub.ts';
import { freePort } from '../helpers/processes.ts';
import { waitFor } from '../helpers/services.ts';
import { NODES, type Peer, type PeerMemory, startPeer } from './opcua-peer.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const TAG = {
  good: 'plant1/packaging/line1/filler/good',
  state: 'plant1/packaging/line1/filler/state',
  setpoint: 'plant1/packaging/line1/filler/setpoint',
  temperature: 'plant1/packaging/line1/capper/scrap',
  big: 'plant1/packaging/line1/filler/big',
};

/** The state tag is named by namespace URI (`nsu=`), the others by index. */
const yaml = (port: number, uri: string): string => `${PLANT_YAML}
connections:
  - id: plc1
    type: opcua
    endpoint: opc.tcp://127.0.0.1:${port}
    securityMode: None
    publishingInterval: 100ms
    maxKeepAliveCount: 3
    reconnect: { initial: 200ms, max: 1s }
    tags:
      - { name: ${TAG.good}, nodeId: '${NODES.good}', samplingInterval: 50ms, queueSize: 10 }
      - { name: ${TAG.state}, nodeId: '${NODES.state.replace('ns=1;', `nsu=${uri};`)}' }
      - { name: ${TAG.setpoint}, nodeId: '${NODES.setpoint}', deadband: { type: absolute, value: 0.1 } }
      - { name: ${TAG.temperature}, nodeId: '${NODES.temperature}' }
      - { name: ${TAG.big}, nodeId: '${NODES.big}' }
bindings:
  - connection: plc1
    topic: '{site}/{area}/{line}/{unit}/good'
    meaning: counter.good
  - connection: plc1
    topic: '{site}/{area}/{line}/{unit}/scrap'
    meaning: counter.scrap
  - connection: plc1
    topic: '{site}/{area}/{line}/{unit}/state'
    meaning: state
    stateMap: { '1': running, '2': idle, '3': down }
`;

describe('OPC UA connector against a node-opcua server', () => {
  const pki = tempDir('mw-opcua-server-pki-');
  let port: number;
  let peer: Peer;
  let hub: TestHub;
  let uri: string;
  const memory: PeerMemory = { good: 0, state: 1, setpoint: 0 };
  const plc = (): ConnectorInstance => hub.connectors.find((c) => c.id === 'plc1')!;
  const samples = (tag: string) => hub.store.listSamples({ tag, limit: 100_000 });
  const last = async (tag: string) => (await samples(tag)).at(-1);

  before(async () => {
    port = await freePort();
    peer = await startPeer({ port, pkiDir: pki.dir }, memory);
    uri = peer.server.engine.addressSpace!.getNamespaceArray()[1]!.namespaceUri;
    hub = await startTestHub(testConfig(yaml(port, uri)), { http: false });
  });
  after(async () => {
    await hub?.dispose();
    await peer?.stop();
    pki.remove();
  });

  it('reads counter and state into the hub through monitored items', async () => {
    await waitFor(() => plc().health().status === 'connected', { what: 'connected' });
    const counted = await waitFor(
      () => {
        const total = hub.runtime.get(FILLER)?.counters.good.total ?? 0;
        return total >= 5 ? total : 0;
      },
      { what: 'the good counter to count' },
    );
    assert.ok(counted >= 5);
    assert.equal(hub.runtime.get(FILLER)?.status.state, 'running');
    peer.setState(3);
    await waitFor(() => hub.runtime.get(FILLER)?.status.state === 'down', { what: 'down' });
    const good = await last(TAG.good);
    assert.equal(good?.quality, 'good');
    assert.equal(good?.status, null);
    assert.equal(good?.equipmentId, FILLER);
    assert.equal(typeof good?.value, 'number');
    // sourceTimestamp of the server, not the receive time.
    assert.ok(good !== undefined && good.sourceTs <= good.receivedTs);
    // A tag without a binding is quarantined, not dropped: UInt64 beyond 2^53 as exact text.
    const q = await waitFor(
      async () =>
        (await hub.store.listQuarantine({ connectionId: 'plc1', limit: 100 })).find(
          (e) => e.source === TAG.big,
        ),
      { what: 'the unbound UInt64 tag in quarantine' },
    );
    assert.equal(q.code, 'MW_ERR_INGEST_NO_BINDING');
    assert.match(q.payload.toString(), /9007199254740997/);
    assert.equal(plc().health().errors, 0);
  });

  it('turns a BadSensorFailure into a bad sample with the StatusCode name', async () => {
    peer.failSensor();
    const bad = await waitFor(
      async () => {
        const s = await last(TAG.temperature);
        return s?.quality === 'bad' ? s : undefined;
      },
      { what: 'the bad temperature sample' },
    );
    assert.equal(bad.status, 'BadSensorFailure');
    assert.equal(bad.value, null);
    // A bad sample does not count.
    assert.equal(hub.runtime.get('acme/plant1/packaging/line1/capper')?.counters.scrap.total, 0);
  });

  it('writes a setpoint converted to the variable’s DataType, confirmed by the server', async () => {
    await plc().write!(TAG.setpoint, 42.5);
    assert.equal(peer.variable('setpoint').readValue().value.value, 42.5);
    await plc().write!(TAG.setpoint, '43.25'); // text converted to Double
    assert.equal(memory.setpoint, 43.25);
    // A NodeId by namespace URI, resolved against the server's NamespaceArray.
    await plc().write!(`nsu=${uri};s=Line1.Filler.Setpoint`, 44);
    assert.equal(memory.setpoint, 44);
    await plc().write!(`nsu=${uri};s=Line1.Filler.Setpoint`, 43.25);
    assert.equal(memory.setpoint, 43.25);
    await assert.rejects(
      plc().write!('nsu=urn:nowhere;s=Line1.Filler.Setpoint', 1),
      (err: unknown) => {
        assert.ok(isMwError(err));
        assert.match(
          err.message,
          /namespace urn:nowhere of node .* is not on the server \(its namespaces: http:\/\/opcfoundation\.org\/UA\//,
        );
        return true;
      },
    );
    // The read-only counter: the server's StatusCode names the refusal.
    await assert.rejects(plc().write!(TAG.good, 1), (err: unknown) => {
      assert.ok(isMwError(err));
      assert.equal(err.code, 'MW_ERR_TAG_WRITE');
      assert.match(err.message, /BadNotWritable|BadUserAccessDenied/);
      assert.match(err.message, /ns=1;s=Line1\.Filler\.Good/);
      return true;
    });
    await assert.rejects(plc().write!(TAG.setpoint, 'warm'), /is not a number/);
    await assert.rejects(plc().write!('no/such/tag', 1), /no such tag/);
  });

  it('browse lists the variables with data type and value', async () => {
    const rows = await browseOpcua({ endpoint: peer.endpoint });
    const setpoint = rows.find((r) => r.nodeId === NODES.setpoint);
    assert.ok(setpoint, `setpoint in ${rows.map((r) => r.nodeId).join(', ')}`);
    assert.equal(setpoint.browseName, '1:Setpoint');
    assert.equal(setpoint.dataType, 'Double');
    assert.equal(setpoint.value, '43.25');
    const state = rows.find((r) => r.nodeId === NODES.state);
    assert.equal(state?.dataType, 'Int32');
    assert.ok(rows.some((r) => r.browseName === 'Server'));
  });

  it('marks tags stale while the server is down and recovers after it restarts (without TransferSubscriptions)', async () => {
    const before = plc().health().reconnects;
    await peer.stop();
    await waitFor(() => plc().health().status !== 'connected', { what: 'disconnected' });
    const stale = await waitFor(
      async () => {
        const s = await last(TAG.good);
        return s?.status === STALE_STATUS ? s : undefined;
      },
      { what: 'the stale sample' },
    );
    assert.equal(stale.quality, 'bad');
    assert.equal(stale.value, null);
    const countedBefore = hub.runtime.get(FILLER)?.counters.good.total ?? 0;
    // Restarted as a server without TransferSubscriptions: the client must recreate them.
    peer = await startPeer({ port, pkiDir: pki.dir, transferSubscriptions: false }, memory);
    await waitFor(() => plc().health().status === 'connected', {
      what: 'reconnected',
      timeoutMs: 15_000,
    });
    assert.ok(plc().health().reconnects > before, 'reconnects counted');
    // The monitored items deliver again: a new session with its subscriptions recreated.
    await waitFor(() => (hub.runtime.get(FILLER)?.counters.good.total ?? 0) > countedBefore + 3, {
      what: 'the counter to count again',
    });
    assert.equal((await last(TAG.good))?.quality, 'good');
    assert.ok(peer.refusedTransfers > 0, 'the subscriptions were recreated, not transferred');
  });

  it('recreates a subscription that went silent without an error (watchdog)', async () => {
    await waitFor(() => peer.sessions.some((s) => s.publishEngine.subscriptions.length > 0), {
      what: 'a subscription on the server',
    });
    const errorsBefore = plc().health().errors;
    // A stuck publish engine: the server-side subscription stops its publishing timer, so it
    // sends neither data nor keep-alives, while the session and the channel stay fine.
    for (const session of peer.sessions)
      for (const sub of session.publishEngine.subscriptions)
        (sub as unknown as { _stop_timer(): void })._stop_timer();
    const silencedAt = hub.runtime.get(FILLER)?.counters.good.total ?? 0;
    await waitFor(
      () =>
        plc()
          .metrics?.()
          .find((m) => m.name === 'opcua_subscription_recreations_total')?.value,
      { what: 'the watchdog to recreate the subscription', timeoutMs: 5000 },
    );
    assert.ok(plc().health().errors > errorsBefore, 'counted in health errors');
    assert.match(plc().health().detail ?? '', /silent/);
    await waitFor(() => (hub.runtime.get(FILLER)?.counters.good.total ?? 0) > silencedAt + 3, {
      what: 'data to flow on the new subscription',
    });
  });
});

describe('OPC UA watchdog decision', () => {
  const base = {
    now: 10_000,
    publishingIntervalMs: 100,
    maxKeepAliveCount: 10,
    factor: 3,
    connected: true,
  };
  it('is silent only past factor × keep-alive interval, and only while connected', () => {
    assert.equal(isSilent({ ...base, lastActivityTs: 10_000 - 3000 }), false);
    assert.equal(isSilent({ ...base, lastActivityTs: 10_000 - 3001 }), true);
    assert.equal(isSilent({ ...base, lastActivityTs: 0, connected: false }), false);
  });
});

describe('OPC UA connection config', () => {
  it('refuses to start with an unreadable user certificate, naming the field', async (t) => {
    const config = testConfig(`${PLANT_YAML}
connections:
  - id: plc
    type: opcua
    endpoint: opc.tcp://127.0.0.1:1
    auth: { type: certificate, cert: missing.pem, key: missing.key }
`);
    const data = tempDir('mw-opcua-bad-');
    t.after(() => data.remove());
    await assert.rejects(
      startTestHub(config, { dataDir: data.dir, http: false }),
      (err: unknown) => {
        assert.ok(isMwError(err));
        assert.equal(err.code, 'MW_ERR_OPCUA_CONNECT');
        assert.equal(err.path, 'connections.plc.auth.cert');
        assert.match(err.message, /auth\.cert: cannot read missing\.pem/);
        return true;
      },
    );
  });

  const bad = (connection: string): string[] => {
    try {
      parseConfig(`${PLANT_YAML}\nconnections:\n${connection}`);
    } catch (err) {
      if (isMwError(err)) return [...err.details];
    }
    return [];
  };
  it('names the field of a bad setting', () => {
    const details = bad(`  - id: plc
    type: opcua
    endpoint: http://plc:4840
    securityMode: None
    securityPolicy: Basic256Sha256
    tags:
      - { name: 'a/#', nodeId: 'Line1.State' }
      - { name: a/b, nodeId: 'ns=2;s=X', deadband: { type: percent, value: 150 } }
`).join('\n');
    assert.match(details, /connections\[0\]\.endpoint.*opc\.tcp:\/\/host:4840/);
    assert.match(details, /connections\[0\]\.securityPolicy.*securityMode None needs/);
    assert.match(details, /connections\[0\]\.tags\[0\]\.name/);
    assert.match(details, /connections\[0\]\.tags\[0\]\.nodeId.*NodeId/);
    assert.match(details, /connections\[0\]\.tags\[1\]\.deadband\.value/);
  });
});

describe('OPC UA value conversion', () => {
  const opts = { dateTime: 'iso' } as const;
  const dv = (dataType: DataType, value: unknown, extra: Partial<DataValue> = {}): DataValue =>
    new DataValue({
      value: new Variant({ dataType, arrayType: VariantArrayType.Scalar, value }),
      ...extra,
    } as ConstructorParameters<typeof DataValue>[0]);

  it('converts Variants to hub values', () => {
    assert.equal(convertDataValue(dv(DataType.Float, 0.1), opts).value, 0.1);
    assert.equal(convertDataValue(dv(DataType.Boolean, true), opts).value, true);
    assert.equal(convertDataValue(dv(DataType.Int64, [0, 42]), opts).value, 42);
    assert.equal(convertDataValue(dv(DataType.Int64, [0xffffffff, 0xfffffffe]), opts).value, -2);
    assert.equal(
      convertDataValue(dv(DataType.UInt64, [0xffffffff, 0xffffffff]), opts).value,
      '18446744073709551615',
    );
    const t = new Date('2026-11-25T08:00:00.000Z');
    assert.equal(convertDataValue(dv(DataType.DateTime, t), opts).value, t.toISOString());
    assert.equal(convertDataValue(dv(DataType.DateTime, t), { dateTime: 'ms' }).value, t.getTime());
    const array = new DataValue({
      value: new Variant({
        dataType: DataType.Int32,
        arrayType: VariantArrayType.Array,
        value: [1, 2, 3],
      }),
    });
    assert.equal(convertDataValue(array, opts).value, '[1,2,3]');
  });

  it('maps StatusCodes to quality, and source time with the server time as fallback', () => {
    const source = new Date('2026-11-25T08:00:00Z');
    const server = new Date('2026-11-25T08:00:01Z');
    const u = convertDataValue(
      dv(DataType.Double, 1.5, {
        statusCode: StatusCodes.UncertainLastUsableValue,
        sourceTimestamp: source,
        serverTimestamp: server,
      }),
      opts,
    );
    assert.deepEqual(u, {
      value: 1.5,
      quality: 'uncertain',
      status: 'UncertainLastUsableValue',
      sourceTs: source.getTime(),
    });
    const b = convertDataValue(
      dv(DataType.Double, 0, { statusCode: StatusCodes.BadSensorFailure, serverTimestamp: server }),
      opts,
    );
    assert.deepEqual(b, {
      value: null,
      quality: 'bad',
      status: 'BadSensorFailure',
      sourceTs: server.getTime(),
    });
  });

  it('converts values to write to the variable’s DataType, refusing what does not fit', () => {
    assert.deepEqual(
      tagValueToVariant('9007199254740997', DataType.UInt64, false).value,
      [0x00200000, 5],
    );
    assert.deepEqual(tagValueToVariant(-1, DataType.Int64, false).value, [0xffffffff, 0xffffffff]);
    assert.equal(tagValueToVariant('true', DataType.Boolean, false).value, true);
    assert.equal(tagValueToVariant(7, DataType.Int16, false).value, 7);
    assert.throws(() => tagValueToVariant(70_000, DataType.Int16, false), /out of range for Int16/);
    assert.throws(() => tagValueToVariant(1.5, DataType.Int32, false), /not an integer/);
    assert.deepEqual(tagValueToVariant('[1,2]', DataType.Double, true).value, [1, 2]);
    assert.throws(() => tagValueToVariant(null, DataType.Double, false), /null/);
  });
});
