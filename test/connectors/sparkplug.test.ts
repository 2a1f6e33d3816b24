/**
 * The Sparkplug B host application in a real hub, against the embedded broker and against the
 * machine's Mosquitto: STATE birth and death Will, births/data/deaths into samples (bound tags
 * into the store and the runtime, unbound ones into the quarantine with their decoded value),
 * exact 64-bit values, Tahu-encoded peers, seq gap → rebirth, NDEATH bdSeq matching, DDEATH,
 * DCMD writes and quarantine of an undecodable payload.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { parseConfig } from '../../src/config/load.ts';
import { DataType, type MetricInput } from '../../src/connectors/sparkplug/payload.ts';
import type { ConnectorInstance } from '../../src/core/connector.ts';
import { isMwError } from '../../src/errors.ts';
import { PLANT_YAML, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';
import { MQTT_URL, serviceSkip, waitFor } from '../helpers/services.ts';
import { EdgeNode, tahuEncode } from './sparkplug-edge.ts';

const T0 = Date.parse('2026-11-25T08:00:00Z');
const FILLER = 'acme/plant1/packaging/line1/filler';
const CAPPER = 'acme/plant1/packaging/line1/capper';

interface Reading {
  readonly value: unknown;
  readonly quality: string;
  readonly status?: string | null | undefined;
  readonly sourceTs: number | null;
}

function yaml(group: string, hostId: string, url: string | null): string {
  return `${PLANT_YAML}
connections:
  - id: sp
    type: sparkplug
${url === null ? '' : `    url: ${url}\n`}    hostId: ${hostId}
    groupIds: [${group}]
    rebirthMinInterval: 200ms
    reconnect: { initial: 100ms, max: 1s }
bindings:
  - connection: sp
    topic: '${group}/+/{unit}/state'
    equipment: acme/plant1/packaging/line1/{unit}
    meaning: state
    stateMap: { '1': running, '3': down }
  - connection: sp
    topic: '${group}/+/{unit}/count/good'
    equipment: acme/plant1/packaging/line1/{unit}
    meaning: counter.good
`;
}

const brokers = [
  { name: 'the embedded broker', url: null as string | null, skip: false as string | false },
  { name: 'Mosquitto', url: MQTT_URL, skip: await serviceSkip('Mosquitto', MQTT_URL) },
];

for (const broker of brokers)
  describe(`Sparkplug B host on ${broker.name}`, { skip: broker.skip }, () => {
    const run = Math.random().toString(36).slice(2, 8);
    const G = `mwtest-${run}`;
    const HOST = `mw-host-${run}`;
    const STATE = `spBv1.0/STATE/${HOST}`;
    let hub: TestHub;
    let url: string;
    let sp: ConnectorInstance;
    let edge: EdgeNode;
    let observer: MqttClient;
    const states: { online: boolean; timestamp: number; retain: boolean }[] = [];

    /** Every reading of a tag: samples when bound, quarantine entries (decoded value) when not. */
    async function readings(tag: string): Promise<Reading[]> {
      const samples = await hub.store.listSamples({ connectionId: 'sp', tag, limit: 1000 });
      if (samples.length > 0) return samples;
      const q = await hub.store.listQuarantine({ connectionId: 'sp', limit: 1000 });
      return q
        .filter((e) => e.source === tag)
        .reverse()
        .map((e) => ({ ...(JSON.parse(e.payload.toString()) as Reading), sourceTs: null }));
    }
    const latest = async (tag: string): Promise<Reading | undefined> =>
      (await readings(tag)).at(-1);
    const waitReading = (tag: string, check: (r: Reading) => boolean, what: string) =>
      waitFor(
        async () => {
          const r = await latest(tag);
          return r !== undefined && check(r) ? r : null;
        },
        { what: `${tag}: ${what}`, timeoutMs: 8000 },
      );

    before(async () => {
      hub = await startTestHub(testConfig(yaml(G, HOST, broker.url)), { http: false });
      url = broker.url ?? hub.broker?.url ?? '';
      sp = hub.connectors.find((c) => c.id === 'sp') as ConnectorInstance;
      await waitFor(() => sp.health().status === 'connected', { what: 'host connected' });
      observer = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 4 });
      observer.on('message', (topic, payload, packet) => {
        if (topic !== STATE || payload.length === 0) return;
        const s = JSON.parse(payload.toString()) as { online: boolean; timestamp: number };
        states.push({ ...s, retain: packet.retain });
      });
      await observer.subscribeAsync(STATE, { qos: 1 });
      edge = new EdgeNode({ url, group: G, edgeNode: 'edge1', bdSeq: 3 });
      await edge.connect();
    });
    after(async () => {
      await edge.end().catch(() => undefined);
      await hub.connectors.find((c) => c.id === 'sp')?.stop();
      // Leave nothing retained on a shared broker.
      await observer.publishAsync(STATE, '', { qos: 1, retain: true });
      await observer.endAsync();
      await hub.dispose();
    });

    it('publishes its STATE birth retained, with the timestamp of its Will', async () => {
      const birth = await waitFor(() => states.find((s) => s.online), { what: 'retained birth' });
      assert.equal(birth.retain, true, 'a fresh subscriber gets it as a retained message');
      assert.equal(typeof birth.timestamp, 'number');
      assert.ok(Math.abs(birth.timestamp - Date.now()) < 60_000);
    });

    const nodeMetrics: MetricInput[] = [
      { name: 'Properties/Serial', datatype: DataType.String, value: 'SN-1' },
      { name: 'i64', alias: 1, datatype: DataType.Int64, value: -(2n ** 63n) + 1n },
      { name: 'u64', alias: 2, datatype: DataType.UInt64, value: 2n ** 64n - 1n },
      { name: 'when', alias: 3, datatype: DataType.DateTime, value: T0 },
      { name: 'nothing', alias: 4, datatype: DataType.Double, value: null },
    ];
    const fillerMetrics: MetricInput[] = [
      { name: 'state', alias: 10, datatype: DataType.Int32, value: 1, timestamp: T0 },
      { name: 'count/good', alias: 11, datatype: DataType.UInt32, value: 5, timestamp: T0 },
      { name: 'i8', alias: 12, datatype: DataType.Int8, value: -5 },
      { name: 'setpoint', alias: 13, datatype: DataType.Float, value: 1.5 },
    ];

    it('turns births and data (by alias) into samples with exact values', async () => {
      await edge.nbirth(nodeMetrics);
      await edge.dbirth('filler', fillerMetrics);
      await edge.ddata('filler', [
        { alias: 10, value: 3, timestamp: T0 + 1000, datatype: DataType.Int32 },
        { alias: 11, value: 8, timestamp: T0 + 1000, datatype: DataType.UInt32 },
      ]);
      await waitFor(() => hub.runtime.get(FILLER)?.counters.good.total === 3, {
        what: 'filler counted 3',
      });
      assert.equal(hub.runtime.get(FILLER)?.status.state, 'down');
      const state = await latest(`${G}/edge1/filler/state`);
      assert.deepEqual(state, {
        ...state,
        value: 3,
        quality: 'good',
        status: null,
        sourceTs: T0 + 1000,
      });
      const i64 = await waitReading(`${G}/edge1/i64`, () => true, 'Int64');
      assert.equal(i64.value, '-9223372036854775807');
      assert.equal((await latest(`${G}/edge1/u64`))?.value, '18446744073709551615');
      assert.equal((await latest(`${G}/edge1/when`))?.value, T0);
      assert.equal((await latest(`${G}/edge1/nothing`))?.value, null);
      assert.equal((await latest(`${G}/edge1/Properties/Serial`))?.value, 'SN-1');
      assert.equal((await latest(`${G}/edge1/filler/i8`))?.value, -5);
      assert.equal((await latest(`${G}/edge1/filler/i8`))?.quality, 'good');
    });

    it('decodes births and data from Tahu`s encoder as it does its own', async () => {
      // A second edge node whose payloads come from sparkplug-payload (Tahu's JS encoder).
      const tahuEdge = new EdgeNode({ url, group: G, edgeNode: 'tahu1' });
      await tahuEdge.connect();
      try {
        await tahuEdge.raw(
          'NBIRTH',
          tahuEncode({
            timestamp: Date.now(),
            seq: 0,
            metrics: [
              { name: 'bdSeq', type: 'Int64', value: 0 },
              { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
              { name: 'Properties/Serial', type: 'String', value: 'SN-1' },
              { name: 'i64', alias: 1, type: 'Int64', value: -1234567890123 },
              { name: 'when', alias: 3, type: 'DateTime', value: T0 },
              { name: 'nothing', alias: 4, type: 'Double', value: null },
            ],
          }),
        );
        tahuEdge.seq = 0;
        await tahuEdge.raw(
          'DBIRTH',
          tahuEncode({
            timestamp: Date.now(),
            seq: tahuEdge.nextSeq(),
            metrics: [
              { name: 'state', alias: 10, type: 'Int32', value: 1, timestamp: T0 },
              { name: 'count/good', alias: 11, type: 'UInt32', value: 5, timestamp: T0 },
              { name: 'i8', alias: 12, type: 'Int8', value: -5 },
              { name: 'u32', alias: 14, type: 'UInt32', value: 4000000000 },
            ],
          }),
          'capper',
        );
        await tahuEdge.raw(
          'DDATA',
          tahuEncode({
            timestamp: Date.now(),
            seq: tahuEdge.nextSeq(),
            metrics: [
              { alias: 10, type: 'Int32', value: 3, timestamp: T0 + 1000 },
              { alias: 11, type: 'UInt32', value: 8, timestamp: T0 + 1000 },
            ],
          }),
          'capper',
        );
        await waitFor(() => hub.runtime.get(CAPPER)?.counters.good.total === 3, {
          what: 'capper counted 3 from Tahu payloads',
        });
        assert.equal(hub.runtime.get(CAPPER)?.status.state, 'down');
        const pick = (r: Reading | undefined) => [r?.value, r?.quality, r?.status];
        for (const [ours, theirs] of [
          [`${G}/edge1/filler/state`, `${G}/tahu1/capper/state`],
          [`${G}/edge1/filler/i8`, `${G}/tahu1/capper/i8`],
          [`${G}/edge1/when`, `${G}/tahu1/when`],
          [`${G}/edge1/nothing`, `${G}/tahu1/nothing`],
          [`${G}/edge1/Properties/Serial`, `${G}/tahu1/Properties/Serial`],
        ] as const)
          assert.deepEqual(pick(await latest(theirs)), pick(await latest(ours)), theirs);
        assert.equal((await latest(`${G}/tahu1/i64`))?.value, -1234567890123);
        assert.equal((await latest(`${G}/tahu1/capper/u32`))?.value, 4000000000);
      } finally {
        await tahuEdge.end();
      }
    });

    it('asks for a rebirth on a seq gap and marks the node stale until it comes', async () => {
      edge.skipSeq(2);
      await edge.ddata('filler', [{ alias: 12, value: -6, datatype: DataType.Int8 }]);
      const ncmd = await waitFor(
        () => edge.commands.find((c) => c.topic === `spBv1.0/${G}/NCMD/edge1`),
        { what: 'NCMD at the edge' },
      );
      assert.equal(ncmd.payload.metrics[0]?.name, 'Node Control/Rebirth');
      assert.equal(ncmd.payload.metrics[0]?.value?.value, true);
      const stale = await waitReading(
        `${G}/edge1/filler/state`,
        (r) => r.quality === 'bad',
        'stale after the gap',
      );
      assert.match(
        stale.status ?? '',
        /^stale: seq gap: expected \d+, got \d+ \(DDATA\), rebirth requested$/,
      );
      const i8 = await waitReading(`${G}/edge1/filler/i8`, (r) => r.value === -6, 'uncertain -6');
      assert.equal(i8.quality, 'uncertain');
      // The rebirth: values are good again.
      await edge.nbirth(nodeMetrics);
      await edge.dbirth('filler', fillerMetrics);
      const back = await waitReading(
        `${G}/edge1/filler/i8`,
        (r) => r.quality === 'good',
        'good again after the rebirth',
      );
      assert.equal(back.value, -5);
    });

    it('writes with a DCMD by alias and the birth datatype; rejects unknown tags', async () => {
      await sp.write?.(`${G}/edge1/filler/setpoint`, 42.5);
      const dcmd = await waitFor(
        () => edge.commands.find((c) => c.topic === `spBv1.0/${G}/DCMD/edge1/filler`),
        { what: 'DCMD at the edge' },
      );
      const m = dcmd.payload.metrics[0];
      assert.equal(m?.alias, 13n);
      assert.equal(m?.name, null);
      assert.equal(m?.datatype, DataType.Float);
      assert.deepEqual(m?.value, { field: 'floatValue', value: 42.5 });
      assert.ok(dcmd.payload.timestamp !== null);
      await sp.write?.(`${G}/edge1/i64`, '-9223372036854775807');
      const ncmd = await waitFor(
        () =>
          edge.commands.find(
            (c) => c.topic === `spBv1.0/${G}/NCMD/edge1` && c.payload.metrics[0]?.alias === 1n,
          ),
        { what: 'NCMD write at the edge' },
      );
      assert.deepEqual(ncmd.payload.metrics[0]?.value, {
        field: 'longValue',
        value: 2n ** 63n + 1n, // two's complement of -2^63+1 in the uint64
      });
      await assert.rejects(sp.write?.(`${G}/edge1/filler/nope`, 1) as Promise<void>, (err) => {
        assert.ok(isMwError(err) && err.code === 'MW_ERR_TAG_WRITE');
        assert.match(err.message, /filler\/nope failed: no metric of that name/);
        return true;
      });
      await assert.rejects(sp.write?.(`${G}/edge1/filler/i8`, 300) as Promise<void>, (err) => {
        assert.ok(isMwError(err) && err.code === 'MW_ERR_TAG_WRITE');
        assert.match(err.message, /value does not fit Int8: expected an integer from -128 to 127/);
        return true;
      });
    });

    it('quarantines a payload that does not decode, bytes as received', async () => {
      const garbage = Buffer.from([0xff, 0xff, 0xff, 0x01]);
      await edge.raw('NDATA', garbage);
      const topic = `spBv1.0/${G}/NDATA/edge1`;
      const entry = await waitFor(
        async () =>
          (await hub.store.listQuarantine({ connectionId: 'sp', limit: 100 })).find(
            (e) => e.source === topic,
          ),
        { what: 'quarantine entry' },
      );
      assert.deepEqual(entry.payload, garbage);
      assert.match(sp.health().detail ?? '', /undecodable payload on/);
      // A malformed payload also asks the node for a rebirth; give it one.
      await edge.nbirth(nodeMetrics);
      await edge.dbirth('filler', fillerMetrics);
      await waitReading(`${G}/edge1/filler/i8`, (r) => r.quality === 'good', 'good again');
    });

    it('marks device tags stale on DDEATH, at the DDEATH timestamp', async () => {
      await edge.ddeath('filler', T0 + 5000);
      const r = await waitReading(
        `${G}/edge1/filler/state`,
        (x) => x.quality === 'bad',
        'stale DDEATH',
      );
      assert.equal(r.status, 'stale: DDEATH');
      assert.equal(r.sourceTs, T0 + 5000);
      assert.equal(r.value, null);
      await edge.dbirth('filler', fillerMetrics);
      await waitReading(`${G}/edge1/filler/state`, (x) => x.quality === 'good', 'reborn');
    });

    it('ignores an NDEATH with another bdSeq, honours the Will with the current one', async () => {
      await edge.ndeath(edge.bdSeq - 1); // a late Will of an older session
      await edge.ndata([{ alias: 3, value: T0 + 1, datatype: DataType.DateTime }]);
      await waitReading(`${G}/edge1/when`, (r) => r.value === T0 + 1, 'data after stale NDEATH');
      const all = await readings(`${G}/edge1/filler/state`);
      assert.ok(!all.some((r) => r.status === 'stale: NDEATH'));
      assert.equal(sp.metrics?.().find((m) => m.name === 'sparkplug_stale_ndeath_total')?.value, 1);
      edge.kill(); // the broker publishes the NDEATH Will (bdSeq 3)
      const r = await waitReading(
        `${G}/edge1/filler/state`,
        (x) => x.status === 'stale: NDEATH',
        'NDEATH',
      );
      assert.equal(r.quality, 'bad');
      const node = await waitReading(`${G}/edge1/u64`, (x) => x.quality === 'bad', 'node stale');
      assert.equal(node.status, 'stale: NDEATH');
      await assert.rejects(sp.write?.(`${G}/edge1/filler/setpoint`, 1) as Promise<void>, /offline/);
    });

    it('dies by its Will when its socket drops, then comes back with a new birth', async () => {
      const birth = states.find((s) => s.online) as { timestamp: number };
      const client = (sp as unknown as { client: MqttClient | null }).client;
      assert.ok(client !== null);
      client.stream.destroy(); // no DISCONNECT: the broker publishes the Will
      const death = await waitFor(() => states.find((s) => !s.online), {
        what: 'STATE death from the Will',
      });
      assert.equal(death.timestamp, birth.timestamp, 'the Will carries the birth`s timestamp');
      const reborn = await waitFor(
        () => states.find((s) => s.online && s.timestamp > birth.timestamp),
        { what: 'new STATE birth' },
      );
      assert.ok(reborn.timestamp >= death.timestamp);
      await waitFor(() => sp.health().status === 'connected', { what: 'connected again' });
      assert.ok(sp.health().reconnects >= 1);
    });
  });

describe('Sparkplug B configuration', () => {
  it('rejects a bad host id and group id, naming the path', () => {
    assert.throws(
      () =>
        parseConfig(
          `${PLANT_YAML}
connections:
  - id: sp
    type: sparkplug
    url: mqtt://127.0.0.1:1883
    hostId: 'a/b'
    groupIds: ['ok', 'x+y']
`,
          '<test>',
        ),
      (err: Error & { details?: readonly string[] }) => {
        const text = [err.message, ...(err.details ?? [])].join('\n');
        assert.match(text, /connections\[0\]\.hostId.*expected a Sparkplug id/);
        assert.match(text, /connections\[0\]\.groupIds\[1\].*expected a Sparkplug id/);
        return true;
      },
    );
  });
});
