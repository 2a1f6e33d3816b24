/**
 * Modbus TCP connector against a real Modbus TCP server (modbus-serial's ServerTCP) over
 * loopback: coalesced reads, every data type and order through write and read back, exception
 * codes per block, a dead unit id that does not delay the others, and end to end into a hub
 * with bindings across a server restart.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import modbusSerial from 'modbus-serial';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import type { ModbusConnectionConfig } from '../../src/config/schema.ts';
import { modbusConnectionSchema } from '../../src/connectors/modbus/config.ts';
import { modbusConnector } from '../../src/connectors/modbus/index.ts';
import type { ConnectorInstance, ConnectorMetric } from '../../src/core/connector.ts';
import type { SampleInput } from '../../src/core/ingest-types.ts';
import { isMwError } from '../../src/errors.ts';
import { Hierarchy, type TagValue } from '../../src/model/index.ts';
import { PLANT_YAML, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';
import { freePort } from '../helpers/processes.ts';
import { waitFor } from '../helpers/services.ts';

const { ServerTCP } = modbusSerial;

type Table = 'coils' | 'discreteInputs' | 'holdingRegisters' | 'inputRegisters';

interface SeenRequest {
  readonly unit: number;
  readonly fc: number;
  readonly address: number;
  readonly count: number;
  readonly ts: number;
}

interface UnitMemory {
  readonly coils: Uint8Array;
  readonly discreteInputs: Uint8Array;
  readonly holdingRegisters: Uint16Array;
  readonly inputRegisters: Uint16Array;
}

const never = new Promise<never>(() => undefined);

/** A Modbus TCP server over in-memory tables, that records every request it is sent. */
class Peer {
  readonly units = new Map<number, UnitMemory>();
  readonly requests: SeenRequest[] = [];
  /** `${unit}/${table}/${address}` → exception code answered for any request touching it. */
  readonly exceptions = new Map<string, number>();
  /** Unit ids answered with this exception for every request (a gateway's 10/11). */
  readonly unitExceptions = new Map<number, number>();
  /** Unit ids that never answer. */
  readonly dead = new Set<number>();
  connections = 0;
  private server: InstanceType<typeof ServerTCP> | null = null;

  constructor(readonly port: number) {}

  mem(unit: number): UnitMemory {
    let m = this.units.get(unit);
    if (m === undefined) {
      m = {
        coils: new Uint8Array(65536),
        discreteInputs: new Uint8Array(65536),
        holdingRegisters: new Uint16Array(65536),
        inputRegisters: new Uint16Array(65536),
      };
      this.units.set(unit, m);
    }
    return m;
  }

  private check(table: Table, addr: number, unit: number): void {
    const code = this.unitExceptions.get(unit) ?? this.exceptions.get(`${unit}/${table}/${addr}`);
    if (code !== undefined)
      throw Object.assign(new Error(`exception ${code}`), { modbusErrorCode: code });
  }

  private read(table: Table, addr: number, unit: number): Promise<number> {
    if (this.dead.has(unit)) return never;
    try {
      this.check(table, addr, unit);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return Promise.resolve(this.mem(unit)[table][addr] as number);
  }

  async start(): Promise<void> {
    const server = new ServerTCP(
      {
        getCoil: (addr: number, unit: number) => this.read('coils', addr, unit).then(Boolean),
        getDiscreteInput: (addr: number, unit: number) =>
          this.read('discreteInputs', addr, unit).then(Boolean),
        getHoldingRegister: (addr: number, unit: number) =>
          this.read('holdingRegisters', addr, unit),
        getInputRegister: (addr: number, unit: number) => this.read('inputRegisters', addr, unit),
        setCoil: (addr: number, value: boolean, unit: number) => {
          this.check('coils', addr, unit);
          this.mem(unit).coils[addr] = value ? 1 : 0;
        },
        setRegister: (addr: number, value: number, unit: number) => {
          this.check('holdingRegisters', addr, unit);
          this.mem(unit).holdingRegisters[addr] = value;
        },
      },
      { host: '127.0.0.1', port: this.port },
    );
    (server as unknown as { _server: net.Server })._server.on('connection', (sock) => {
      this.connections++;
      let buf = Buffer.alloc(0);
      sock.on('data', (data) => {
        buf = Buffer.concat([buf, data]);
        while (buf.length >= 12) {
          const len = buf.readUInt16BE(4);
          if (buf.length < 6 + len) break;
          const fc = buf[7] as number;
          this.requests.push({
            unit: buf[6] as number,
            fc,
            address: buf.readUInt16BE(8),
            count: fc === 5 || fc === 6 ? 1 : buf.readUInt16BE(10),
            ts: Date.now(),
          });
          buf = buf.subarray(6 + len);
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.on('initialized', () => resolve());
      server.on('serverError', (err) => reject(err ?? new Error('server error')));
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  seen(unit: number, fc?: number): SeenRequest[] {
    return this.requests.filter((r) => r.unit === unit && (fc === undefined || r.fc === fc));
  }
}

/** A connector with a recording core context (the peer is real; the core is just a list). */
function startConnector(
  port: number,
  fields: Record<string, unknown>,
): { connector: ConnectorInstance; samples: SampleInput[]; config: ModbusConnectionConfig } {
  const config = modbusConnectionSchema.parse({
    id: 'plc',
    type: 'modbus',
    host: '127.0.0.1',
    port,
    reconnect: { initial: '50ms', max: '200ms' },
    ...fields,
  });
  const samples: SampleInput[] = [];
  const connector = modbusConnector.create({
    config,
    logger: pino({ level: process.env.MW_TEST_LOG ?? 'silent' }),
    hierarchy: new Hierarchy({ enterprise: { id: 'acme' }, sites: [] }),
    filters: [],
    ingest: () => Promise.resolve(),
    ingestSample: (sample, onAccepted) => {
      samples.push(sample);
      onAccepted?.();
      return Promise.resolve();
    },
    embeddedBroker: null,
    brokerUrlOf: () => 'mqtt://unused',
    lastReading: () => undefined,
    dataDir: os.tmpdir(),
    configDir: os.tmpdir(),
    state: { get: () => Promise.resolve(undefined), set: () => Promise.resolve() },
  });
  return { connector, samples, config };
}

function latest(samples: readonly SampleInput[], tag: string): SampleInput | undefined {
  for (let i = samples.length - 1; i >= 0; i--) if (samples[i]?.tag === tag) return samples[i];
  return undefined;
}

function metric(
  connector: ConnectorInstance,
  name: string,
  unit: number,
): ConnectorMetric | undefined {
  return connector.metrics?.().find((m) => m.name === name && m.labels?.unit_id === String(unit));
}

describe('Modbus TCP connector against modbus-serial ServerTCP', () => {
  let peer: Peer;
  before(async () => {
    peer = new Peer(await freePort());
    await peer.start();
  });
  after(() => peer.stop());

  it('coalesces adjacent tags into one request per block', async () => {
    const m = peer.mem(3);
    for (let i = 0; i < 13; i++) m.holdingRegisters[100 + i] = 1000 + i;
    m.holdingRegisters[200] = 42;
    m.coils[5] = 1;
    const tags = [
      ...Array.from({ length: 10 }, (_, i) => ({ name: `u3/r${100 + i}`, address: 100 + i })),
      { name: 'u3/r112', address: 112 }, // 2 unused registers away: same request
      { name: 'u3/r200', address: 200 }, // 87 away, more than maxGap 16: a request of its own
      ...Array.from({ length: 8 }, (_, i) => ({ name: `u3/c${i}`, table: 'coils', address: i })),
    ];
    const { connector, samples } = startConnector(peer.port, {
      pollGroups: [{ id: 'scan', every: '50ms' }],
      devices: [{ unitId: 3, tags }],
    });
    await connector.start();
    try {
      await waitFor(() => peer.seen(3, 3).length >= 6 && peer.seen(3, 1).length >= 3, {
        what: 'three scans of registers and coils',
      });
      await connector.stop();
      const fc3 = peer.seen(3, 3).map((r) => `${r.address}+${r.count}`);
      const fc1 = peer.seen(3, 1).map((r) => `${r.address}+${r.count}`);
      assert.deepEqual(new Set(fc3), new Set(['100+13', '200+1']), '11 tags in one read, 1 apart');
      assert.ok(fc1.length >= 3 && fc1.every((r) => r === '0+8'), `8 coils in one read: ${fc1}`);
      assert.equal(latest(samples, 'u3/r105')?.value, 1005);
      assert.equal(latest(samples, 'u3/r112')?.value, 1012);
      assert.equal(latest(samples, 'u3/r200')?.value, 42);
      assert.equal(latest(samples, 'u3/c5')?.value, true);
      assert.equal(latest(samples, 'u3/c4')?.value, false);
      assert.equal(latest(samples, 'u3/r100')?.quality, 'good');
      // Unchanged values are sent once (heartbeat 60s), not per scan.
      assert.equal(samples.filter((s) => s.tag === 'u3/r100').length, 1);
    } finally {
      await connector.stop();
    }
  });

  it('round-trips every data type, byte and word order through a write and a read back', async () => {
    const tags = [
      { name: 't/i16', address: 0, type: 'int16' },
      { name: 't/u16', address: 1, type: 'uint16' },
      { name: 't/i32', address: 2, type: 'int32' },
      { name: 't/u32-lw', address: 4, type: 'uint32', wordOrder: 'little' },
      { name: 't/f32', address: 6, type: 'float32' },
      { name: 't/f32-lw', address: 8, type: 'float32', wordOrder: 'little' },
      { name: 't/f32-lb', address: 10, type: 'float32', byteOrder: 'little' },
      { name: 't/f64', address: 12, type: 'float64' },
      {
        name: 't/f64-lw-lb',
        address: 16,
        type: 'float64',
        wordOrder: 'little',
        byteOrder: 'little',
      },
      { name: 't/str', address: 20, type: 'string', length: 4 },
      { name: 't/scaled', address: 24, type: 'int16', scale: 0.1, offset: -40 },
      { name: 't/coil', table: 'coils', address: 3 },
    ];
    const { connector, samples } = startConnector(peer.port, {
      pollGroups: [{ id: 'scan', every: '30ms' }],
      heartbeat: '0s',
      devices: [
        { unitId: 4, tags },
        // FC15/FC16 for single items too.
        {
          unitId: 8,
          writeMultiple: true,
          tags: [
            { name: 'm/coil', table: 'coils', address: 0 },
            { name: 'm/u16', address: 0 },
          ],
        },
      ],
    });
    await connector.start();
    try {
      await waitFor(() => latest(samples, 't/i16')?.quality === 'good', { what: 'first scan' });
      const regs = (from: number, n: number): number[] => [
        ...peer.mem(4).holdingRegisters.subarray(from, from + n),
      ];
      const cases: [string, TagValue, number, number[]][] = [
        ['t/i16', -12345, 0, [0xcfc7]],
        ['t/u16', 54321, 1, [0xd431]],
        ['t/i32', -2, 2, [0xffff, 0xfffe]],
        ['t/u32-lw', 0x12345678, 4, [0x5678, 0x1234]],
        ['t/f32', 1.5, 6, [0x3fc0, 0x0000]],
        ['t/f32-lw', 1.5, 8, [0x0000, 0x3fc0]],
        ['t/f32-lb', 1.5, 10, [0xc03f, 0x0000]],
        ['t/f64', 1.25, 12, [0x3ff4, 0, 0, 0]],
        ['t/f64-lw-lb', 1.25, 16, [0, 0, 0, 0xf43f]],
        ['t/str', 'AB-12', 20, [0x4142, 0x2d31, 0x3200, 0]],
        ['t/scaled', 21.5, 24, [615]], // (21.5 + 40) / 0.1
      ];
      for (const [tag, value, address, words] of cases) {
        await connector.write?.(tag, value);
        assert.deepEqual(regs(address, words.length), words, `${tag}: registers on the device`);
        await waitFor(() => latest(samples, tag)?.value === value, { what: `${tag} read back` });
      }
      await connector.write?.('t/coil', true);
      assert.equal(peer.mem(4).coils[3], 1);
      await waitFor(() => latest(samples, 't/coil')?.value === true, { what: 'coil read back' });
      await connector.write?.('m/coil', true);
      await connector.write?.('m/u16', 7);
      assert.equal(peer.mem(8).coils[0], 1);
      assert.equal(peer.mem(8).holdingRegisters[0], 7);
      const writes = peer.requests.filter((r) => [5, 6, 15, 16].includes(r.fc));
      assert.deepEqual(
        new Set(writes.map((r) => `${r.unit}:${r.fc}`)),
        new Set(['4:6', '4:16', '4:5', '8:15', '8:16']),
        'FC6 and FC5 for single items, FC16 for wide values, FC15/FC16 with writeMultiple',
      );

      const rejects = async (tag: string, value: TagValue, reason: RegExp): Promise<void> => {
        await assert.rejects(connector.write?.(tag, value) ?? Promise.resolve(), (err: unknown) => {
          assert.ok(isMwError(err) && err.code === 'MW_ERR_TAG_WRITE', String(err));
          assert.match(err.message, new RegExp(`writing .* to ${tag} failed`));
          assert.match(err.message, reason);
          return true;
        });
      };
      await rejects('t/i16', 40000, /out of the int16 range/);
      await rejects('t/str', 'ABCDEFGHIJ', /holds 8/);
      await rejects('t/nope', 1, /no such tag/);
      peer.exceptions.set('4/holdingRegisters/1', 3);
      await rejects('t/u16', 1, /exception 3 \(illegal data value\)/);
      peer.exceptions.delete('4/holdingRegisters/1');
    } finally {
      await connector.stop();
    }
  });

  it('marks exactly the tags of a block that got an exception bad, with the code and its meaning', async () => {
    peer.mem(5).holdingRegisters[0] = 7;
    peer.exceptions.set('5/holdingRegisters/300', 2);
    peer.unitExceptions.set(6, 11);
    const { connector, samples } = startConnector(peer.port, {
      pollGroups: [{ id: 'scan', every: '50ms' }],
      devices: [
        {
          unitId: 5,
          tags: [
            { name: 'u5/ok', address: 0 },
            { name: 'u5/missing', address: 300 },
            { name: 'u5/missing-too', address: 301 },
          ],
        },
        { unitId: 6, tags: [{ name: 'u6/a', address: 0 }] },
      ],
    });
    await connector.start();
    try {
      await waitFor(() => latest(samples, 'u6/a') && latest(samples, 'u5/missing'), {
        what: 'samples of both units',
      });
      assert.deepEqual(latest(samples, 'u5/ok'), {
        ...latest(samples, 'u5/ok'),
        value: 7,
        quality: 'good',
        status: null,
      });
      for (const tag of ['u5/missing', 'u5/missing-too']) {
        assert.equal(latest(samples, tag)?.quality, 'bad');
        assert.equal(latest(samples, tag)?.value, null);
        assert.equal(latest(samples, tag)?.status, 'exception 2 (illegal data address)');
      }
      assert.equal(
        latest(samples, 'u6/a')?.status,
        'exception 11 (gateway target device failed to respond)',
      );
      assert.equal(connector.health().status, 'connected');
      assert.ok((metric(connector, 'modbus_exceptions_total', 5)?.value ?? 0) >= 1);
    } finally {
      await connector.stop();
      peer.exceptions.clear();
      peer.unitExceptions.clear();
    }
  });

  it('keeps scanning a live unit id at its rate while another never answers', async () => {
    peer.dead.add(7);
    const { connector, samples } = startConnector(peer.port, {
      pollGroups: [{ id: 'scan', every: '50ms' }],
      devices: [
        { unitId: 1, timeout: '300ms', tags: [{ name: 'u1/a', address: 0 }] },
        {
          unitId: 7,
          timeout: '300ms',
          retries: 1,
          tags: [
            { name: 'u7/a', address: 0 },
            { name: 'u7/b', address: 500 },
          ],
        },
      ],
    });
    await connector.start();
    try {
      await waitFor(() => latest(samples, 'u7/a')?.quality === 'bad', {
        what: 'unit 7 timing out',
      });
      const t0 = Date.now();
      await waitFor(() => Date.now() - t0 > 1200, { what: '1.2 s of scanning' });
      const seen = peer.seen(1, 3).filter((r) => r.ts >= t0);
      const gaps = seen.slice(1).map((r, i) => r.ts - (seen[i] as SeenRequest).ts);
      assert.ok(seen.length >= 15, `unit 1 read ${seen.length} times in 1.2 s at 50ms`);
      assert.ok(Math.max(...gaps) < 300, `unit 1 waited ${Math.max(...gaps)} ms between reads`);
      for (const tag of ['u7/a', 'u7/b'])
        assert.equal(
          latest(samples, tag)?.status,
          'timeout: no answer from unit 7 within 300 ms (2 attempts)',
        );
      assert.equal(latest(samples, 'u1/a')?.quality, 'good');
      // Unit 7's scans are skipped while one is still waiting: its queue never grows.
      assert.ok((metric(connector, 'modbus_queue_length', 7)?.value ?? 99) <= 2);
      assert.ok((metric(connector, 'modbus_scan_overruns_total', 7)?.value ?? 0) > 0);
      assert.ok((metric(connector, 'modbus_timeouts_total', 7)?.value ?? 0) >= 2);
      assert.equal(metric(connector, 'modbus_scan_overruns_total', 1)?.value, 0);
      assert.ok((metric(connector, 'modbus_request_latency_ms', 1)?.value ?? 999) < 100);
      assert.equal(connector.health().status, 'connected', 'a dead unit does not drop the socket');
      assert.equal(connector.health().reconnects, 0);
    } finally {
      await connector.stop();
      peer.dead.delete(7);
    }
  });
});

const FILLER = 'acme/plant1/packaging/line1/filler';

describe('Modbus into a real hub, across a server restart', () => {
  let peer: Peer;
  let hub: TestHub;
  before(async () => {
    peer = new Peer(await freePort());
    peer.mem(1).holdingRegisters.set([1, 0, 70_000 & 0xffff, 70_000 >>> 16]); // running, 70000
    await peer.start();
    hub = await startTestHub(
      testConfig(`${PLANT_YAML}
connections:
  - id: plc
    type: modbus
    host: 127.0.0.1
    port: ${peer.port}
    reconnect: { initial: 100ms, max: 400ms }
    pollGroups: [{ id: fast, every: 50ms }]
    devices:
      - unitId: 1
        tags:
          - { name: line1/filler/state, address: 0 }
          - { name: line1/filler/good, address: 2, type: uint32, wordOrder: little }
bindings:
  - connection: plc
    topic: '{line}/{unit}/state'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: state
    stateMap: { '1': running, '2': idle, '3': down }
  - connection: plc
    topic: '{line}/{unit}/good'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: counter.good
`),
    );
  });
  after(async () => {
    await hub?.dispose();
    await peer?.stop();
  });

  const plc = (): ConnectorInstance =>
    hub.connectors.find((c) => c.id === 'plc') as ConnectorInstance;
  const setGood = (n: number): void => {
    const r = peer.mem(1).holdingRegisters;
    r[2] = n & 0xffff; // word order little: low word first
    r[3] = n >>> 16;
  };

  it('turns registers into a state and a counter, and tags go stale while the server is away', async () => {
    const test = await plc().connectionTest();
    assert.equal(test.ok, true);
    assert.match(test.message, /^connected to 127\.0\.0\.1:\d+; unit 1: answered in \d+ ms$/);
    await waitFor(() => hub.runtime.get(FILLER)?.status.state === 'running', {
      what: 'state running',
    });
    await waitFor(
      async () => (await hub.store.listSamples({ tag: 'line1/filler/good', limit: 10 })).length > 0,
    );
    setGood(70_005);
    await waitFor(() => hub.runtime.get(FILLER)?.counters.good.total === 5, {
      what: 'counted 5',
    });
    const good = await hub.store.listSamples({ tag: 'line1/filler/good', limit: 10 });
    assert.deepEqual(
      good.map((s) => [s.value, s.quality, s.equipmentId]),
      [
        [70_000, 'good', FILLER],
        [70_005, 'good', FILLER],
      ],
    );
    assert.equal(plc().health().status, 'connected');

    // The server goes away: every tag bad and stale, health disconnected, reconnects counting.
    await peer.stop();
    await waitFor(() => plc().health().status === 'disconnected', { what: 'disconnected' });
    for (const tag of ['line1/filler/state', 'line1/filler/good']) {
      const samples = await waitFor(
        async () => {
          const all = await hub.store.listSamples({ tag, limit: 100 });
          return all.at(-1)?.quality === 'bad' ? all : null;
        },
        { what: `${tag} stale` },
      );
      assert.equal(samples.at(-1)?.status, 'stale: connection lost');
      assert.equal(samples.at(-1)?.value, null);
    }
    await waitFor(() => plc().health().reconnects >= 2, { what: 'reconnect attempts' });
    // A state that cannot be read is not the last one read: the unit is unknown.
    assert.deepEqual(
      [hub.runtime.get(FILLER)?.status.state, hub.runtime.get(FILLER)?.status.reasonCode],
      ['unknown', 'bad-quality'],
    );
    assert.equal((await plc().connectionTest()).ok, false);

    // Back on the same port: data flows again and counting goes on.
    peer.mem(1).holdingRegisters[0] = 3;
    setGood(70_008);
    await peer.start();
    await waitFor(() => plc().health().status === 'connected', { what: 'reconnected' });
    await waitFor(() => hub.runtime.get(FILLER)?.counters.good.total === 8, { what: 'counted 8' });
    await waitFor(() => hub.runtime.get(FILLER)?.status.state === 'down', { what: 'state down' });
    const last = (await hub.store.listSamples({ tag: 'line1/filler/state', limit: 100 })).at(-1);
    assert.deepEqual([last?.value, last?.quality, last?.status], [3, 'good', null]);
    assert.ok(peer.connections >= 2);
  });
});

describe('Modbus configuration', () => {
  const config = (tags: string): string => `${PLANT_YAML}
connections:
  - id: plc
    type: modbus
    host: 127.0.0.1
    devices:
      - unitId: 1
        tags:
${tags}`;

  const problems = (yaml: string): string[] => {
    try {
      parseConfig(yaml, 'plant.yaml');
    } catch (err) {
      assert.ok(isMwError(err) && err.code === 'MW_ERR_CONFIG_INVALID', String(err));
      return [...err.details];
    }
    assert.fail('the configuration was accepted');
  };

  it('rejects an address out of 0–65535, a string without length and an unknown poll group, naming the path', () => {
    const found = problems(
      config(`          - { name: a/b, address: 70000 }
          - { name: a/s, address: 10, type: string }
          - { name: a/f, address: 65535, type: float32 }
          - { name: a/p, address: 1, poll: fast }
          - { name: a/c, table: coils, address: 1, type: int16 }
`),
    );
    const expect = [
      /^connections\[0\]\.devices\[0\]\.tags\[0\]\.address \(line \d+, col \d+\): expected a Modbus address from 0 to 65535$/,
      /^connections\[0\]\.devices\[0\]\.tags\[1\]\.length .*: a string tag needs its length in registers$/,
      /^connections\[0\]\.devices\[0\]\.tags\[2\]\.address .*: a float32 of 2 register\(s\) at 65535 runs past address 65535$/,
      /^connections\[0\]\.devices\[0\]\.tags\[3\]\.poll .*: no poll group "fast" \(known: default\)$/,
      /^connections\[0\]\.devices\[0\]\.tags\[4\]\.type .*: coils are booleans: `type` does not apply$/,
    ];
    for (const re of expect)
      assert.ok(
        found.some((p) => re.test(p)),
        `expected ${re} in:\n${found.join('\n')}`,
      );
  });

  it('accepts a valid connection with its defaults', () => {
    const c = parseConfig(
      config(`          - { name: line1/filler/good, address: 0, type: uint32 }\n`),
    );
    const conn = c.connections[0] as ModbusConnectionConfig;
    assert.equal(conn.port, 502);
    assert.deepEqual(conn.pollGroups, [{ id: 'default', every: 1000 }]);
    assert.equal(conn.heartbeat, 60_000);
    assert.equal(conn.maxGap, 16);
    assert.deepEqual(
      [conn.devices[0]?.timeout, conn.devices[0]?.retries, conn.devices[0]?.byteOrder],
      [1000, 1, 'big'],
    );
  });
});
