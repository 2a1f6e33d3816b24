/**
 * The line simulator: the pure plant over hours of simulated time, and the connector against a
 * real MQTT broker (aedes, in-process on port 0) with a plain mqtt.js subscriber.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import {
  bindingSchema,
  simulatorConnectionSchema,
  type SimulatorConnectionConfig,
} from '../../src/config/schema.ts';
import { compileTopicPattern } from '../../src/connectors/mqtt/topic-pattern.ts';
import {
  createSimulator,
  simulatorBindings,
  simulatorTopic,
  type SimulatorInstance,
} from '../../src/connectors/simulator/index.ts';
import {
  CHANGEOVER_REASON,
  MICRO_STOP_RANGE_MS,
  MICRO_STOP_REASON,
  SIMULATOR_STATE_CODES,
  SIMULATOR_STATE_MAP,
  SimulatedPlant,
  type SimTag,
  type SimulatedUnitInput,
} from '../../src/connectors/simulator/plant.ts';
import { applyCounter, INITIAL_COUNTER, type CounterReading } from '../../src/model/counter.ts';
import { waitFor } from '../helpers/services.ts';

const UNITS = [
  { id: 'acme/plant1/packaging/line1/filler', idealCycleTimeMs: 1000 },
  { id: 'acme/plant1/packaging/line1/capper', idealCycleTimeMs: 800 },
  { id: 'acme/plant1/packaging/line1/labeller' },
];
const TAGS = ['state', 'count/good', 'count/total', 'count/scrap'] as const;
const HOUR_MS = 3_600_000;
const START_MS = Date.UTC(2024, 0, 15, 6, 0, 0);
const COUNTER_MAX = 9_999;

const plantOf = (seed: number, units: readonly SimulatedUnitInput[] = UNITS): SimulatedPlant =>
  new SimulatedPlant(units, { seed, startMs: START_MS, counterMax: COUNTER_MAX });

const topicsOf = (units: readonly SimulatedUnitInput[]): string[] =>
  units.flatMap((u) => TAGS.map((tag) => simulatorTopic('sim', u.id, tag)));

function config(overrides: Partial<SimulatorConnectionConfig> = {}): SimulatorConnectionConfig {
  return {
    ...simulatorConnectionSchema.parse({ id: 'sim', type: 'simulator', publishTo: 'plant-mqtt' }),
    ...overrides,
  };
}

describe('simulated plant', () => {
  const plant = plantOf(42);
  const baseline = plant.snapshot();
  const tags = plant.advance(START_MS + 8 * HOUR_MS);
  const of = (unitId: string, tag: SimTag['tag']): SimTag[] =>
    tags.filter((t) => t.unitId === unitId && t.tag === tag);
  /** Each state of a unit with how long it lasted (the last one, unfinished, left out). */
  const spells = (unitId: string): { state: SimTag; durationMs: number }[] => {
    const states = [
      ...baseline.filter((t) => t.unitId === unitId && t.tag === 'state'),
      ...of(unitId, 'state'),
    ];
    return states.slice(0, -1).map((state, i) => ({
      state,
      durationMs: (states[i + 1] as SimTag).ts - state.ts,
    }));
  };

  test('the same seed gives the same run; another seed another', () => {
    const again = plantOf(42);
    assert.deepEqual(again.snapshot(), baseline);
    assert.deepEqual(
      again.advance(START_MS + HOUR_MS),
      tags.filter((t) => t.ts <= START_MS + HOUR_MS),
    );
    assert.notDeepEqual(plantOf(43).advance(START_MS + HOUR_MS), again.advance(START_MS + HOUR_MS));
  });

  test('advancing in small steps gives the same tags as one big step', () => {
    const stepped = plantOf(42);
    const out: SimTag[] = [];
    // 100 ms ticks at speed 50, as the connector runs it.
    for (let t = START_MS; t <= START_MS + HOUR_MS; t += 5_000) out.push(...stepped.advance(t));
    assert.deepEqual(
      out,
      tags.filter((t) => t.ts <= START_MS + HOUR_MS),
    );
    assert.equal(stepped.timeMs, START_MS + HOUR_MS);
  });

  test('a unit added to the plant does not change how the others run', () => {
    const more = plantOf(42, [...UNITS, { id: 'acme/plant1/packaging/line1/palletizer' }]);
    const filler = UNITS[0]!.id;
    assert.deepEqual(
      more.advance(START_MS + HOUR_MS).filter((t) => t.unitId === filler),
      tags.filter((t) => t.unitId === filler && t.ts <= START_MS + HOUR_MS),
    );
  });

  test('tags come in time order, values in range', () => {
    for (let i = 1; i < tags.length; i++)
      assert.ok(tags[i]!.ts >= tags[i - 1]!.ts, `tag ${i} out of order`);
    for (const t of [...baseline, ...tags]) {
      assert.ok(Number.isSafeInteger(t.value) && t.value >= 0 && t.value <= COUNTER_MAX);
      assert.ok(t.ts >= START_MS && t.ts <= START_MS + 8 * HOUR_MS);
    }
  });

  test('counters count one piece at a time and roll over to 0 after counterMax', () => {
    for (const unit of UNITS) {
      for (const tag of ['count/good', 'count/scrap', 'count/total'] as const) {
        let prev = baseline.find((t) => t.unitId === unit.id && t.tag === tag)!.value;
        let rollovers = 0;
        for (const t of of(unit.id, tag)) {
          if (t.value === 0 && prev === COUNTER_MAX) rollovers++;
          else assert.equal(t.value, prev + 1, `${unit.id} ${tag}`);
          prev = t.value;
        }
        if (tag === 'count/total') assert.ok(rollovers >= 1, `${unit.id} total rolled over`);
      }
    }
  });

  test('in deltas as the hub counts them, total = good + scrap; scrap near scrapRate', () => {
    for (const unit of UNITS) {
      const produced = { good: 0, scrap: 0, total: 0 };
      for (const kind of ['good', 'scrap', 'total'] as const) {
        let reading: CounterReading = INITIAL_COUNTER;
        for (const t of [...baseline, ...tags].filter(
          (x) => x.unitId === unit.id && x.tag === `count/${kind}`,
        )) {
          const step = applyCounter(reading, t.value, COUNTER_MAX);
          assert.notEqual(step.anomaly, 'reset');
          reading = step.next;
        }
        produced[kind] = reading.total;
      }
      assert.equal(produced.total, produced.good + produced.scrap, unit.id);
      const scrapShare = produced.scrap / produced.total;
      assert.ok(scrapShare > 0.01 && scrapShare < 0.03, `${unit.id} scrap share ${scrapShare}`);
    }
  });

  test('units run slower than ideal (performance < 100 %) and are mostly running', () => {
    for (const unit of UNITS) {
      const runningMs = spells(unit.id)
        .filter((s) => s.state.value === SIMULATOR_STATE_CODES.running)
        .reduce((sum, s) => sum + s.durationMs, 0);
      const pieces = of(unit.id, 'count/total').length;
      const performance = (pieces * (unit.idealCycleTimeMs ?? 1000)) / runningMs;
      assert.ok(performance > 0.8 && performance < 1, `${unit.id} performance ${performance}`);
      const availability = runningMs / (8 * HOUR_MS);
      assert.ok(
        availability > 0.5 && availability < 0.95,
        `${unit.id} availability ${availability}`,
      );
    }
  });

  test('states: running without a reason, every stop with one; down among them', () => {
    const states = tags.filter((t) => t.tag === 'state');
    const codes = new Set(states.map((t) => t.value));
    for (const code of codes) assert.ok(String(code) in SIMULATOR_STATE_MAP, `code ${code} mapped`);
    assert.ok(codes.has(SIMULATOR_STATE_CODES.running) && codes.has(SIMULATOR_STATE_CODES.down));
    for (const t of states) {
      if (t.value === SIMULATOR_STATE_CODES.running) assert.equal(t.reason, undefined);
      else assert.match(t.reason ?? '', /^[A-Z_]+$/);
    }
    const downReasons = new Set(
      states.filter((t) => t.value === SIMULATOR_STATE_CODES.down).map((t) => t.reason),
    );
    const expected = ['JAM', 'MOTOR_FAULT', 'MATERIAL_SHORTAGE', 'ELECTRICAL', MICRO_STOP_REASON];
    for (const reason of expected) assert.ok(downReasons.has(reason), `down with ${reason}`);
    assert.ok(codes.has(SIMULATOR_STATE_CODES.starved) && codes.has(SIMULATOR_STATE_CODES.idle));
  });

  test('micro-stops last a few seconds; other stops longer', () => {
    for (const unit of UNITS) {
      const stops = spells(unit.id).filter((s) => s.state.value !== SIMULATOR_STATE_CODES.running);
      const micro = stops.filter((s) => s.state.reason === MICRO_STOP_REASON);
      assert.ok(micro.length > 50, `${unit.id}: ${micro.length} micro-stops`);
      // One ms of slack either side: tag times are whole milliseconds.
      for (const s of micro) {
        assert.ok(
          s.durationMs >= MICRO_STOP_RANGE_MS[0] - 1 && s.durationMs <= MICRO_STOP_RANGE_MS[1] + 1,
          `${s.durationMs} ms`,
        );
      }
      for (const s of stops.filter((x) => x.state.reason !== MICRO_STOP_REASON)) {
        assert.ok(s.durationMs > MICRO_STOP_RANGE_MS[1], `${s.state.reason} ${s.durationMs} ms`);
      }
      // microStopShare 0.6 by default.
      const share = micro.length / stops.filter((s) => s.state.reason !== CHANGEOVER_REASON).length;
      assert.ok(share > 0.45 && share < 0.75, `${unit.id} micro-stop share ${share}`);
    }
  });

  test('changeovers happen about every changeoverEvery and last a few minutes', () => {
    for (const unit of UNITS) {
      const changeovers = spells(unit.id).filter(
        (s) => s.state.value === SIMULATOR_STATE_CODES.changeover,
      );
      // 8 h at one per ~15 min of plant time.
      assert.ok(
        changeovers.length >= 20 && changeovers.length <= 45,
        `${unit.id}: ${changeovers.length}`,
      );
      for (const c of changeovers) {
        assert.equal(c.state.reason, CHANGEOVER_REASON);
        assert.ok(c.durationMs >= 60_000 && c.durationMs <= 10 * 60_000, `${c.durationMs} ms`);
      }
    }
  });

  test('counters start anywhere in their range, as on a PLC that has run before', () => {
    const starts = baseline.filter((t) => t.tag !== 'state').map((t) => t.value);
    assert.equal(new Set(starts).size, starts.length);
    assert.ok(starts.some((v) => v > COUNTER_MAX / 2));
  });
});

describe('simulator bindings', () => {
  test('are valid bindings that map every simulator topic to its unit and meaning', () => {
    const cfg = config({ topicPrefix: 'sim', counterMax: 999 });
    const bindings = simulatorBindings(cfg, 'plant-mqtt', 'acme').map((b) =>
      bindingSchema.parse(b),
    );
    assert.deepEqual(bindings.map((b) => b.meaning).sort(), [
      'counter.good',
      'counter.scrap',
      'counter.total',
      'state',
    ]);
    const unitId = 'acme/plant1/packaging/line1/filler';
    const tagOf = {
      state: 'state',
      'counter.good': 'count/good',
      'counter.total': 'count/total',
      'counter.scrap': 'count/scrap',
    } as const;
    for (const b of bindings) {
      const topic = simulatorTopic(cfg.topicPrefix, unitId, tagOf[b.meaning as keyof typeof tagOf]);
      const captures = compileTopicPattern(b.topic ?? '').match(topic);
      assert.ok(captures !== null, `${b.topic} matches ${topic}`);
      const equipment = (b.equipment ?? '').replace(
        /\{(\w+)\}/g,
        (_, name: string) => captures[name] ?? '',
      );
      assert.equal(equipment, unitId);
      assert.equal(b.payload.valuePath, 'value');
      assert.equal(b.payload.timestampPath, 'timestamp');
      if (b.meaning === 'state') {
        assert.equal(b.payload.reasonPath, 'reason');
        assert.deepEqual(b.stateMap, SIMULATOR_STATE_MAP);
      } else {
        assert.equal(b.rolloverAt, 999);
      }
    }
    // Only the binding for its own tag matches a topic.
    for (const tag of TAGS) {
      const topic = simulatorTopic('sim', unitId, tag);
      assert.equal(
        bindings.filter((b) => compileTopicPattern(b.topic ?? '').match(topic) !== null).length,
        1,
        topic,
      );
    }
  });
});

// ---- against a real broker ----------------------------------------------------------------

interface Received {
  topic: string;
  payload: Record<string, unknown>;
}

interface TestBroker {
  url: string;
  /** Every publish the broker accepted from a client, subscribers or not. */
  published: Received[];
  close(): Promise<void>;
}

async function startBroker(port = 0): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const published: Received[] = [];
  broker.on('publish', (packet, client) => {
    if (client === null) return;
    const payload = JSON.parse(packet.payload.toString()) as Record<string, unknown>;
    published.push({ topic: packet.topic, payload });
  });
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    published,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function subscribe(
  url: string,
  filter: string,
): Promise<{ client: MqttClient; received: Received[] }> {
  const client = await mqtt.connectAsync(url, {
    clientId: `test-sub-${process.pid}-${Math.random()}`,
    reconnectPeriod: 0,
  });
  const received: Received[] = [];
  client.on('message', (topic, payload) => {
    received.push({
      topic,
      payload: JSON.parse(payload.toString('utf8')) as Record<string, unknown>,
    });
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, received };
}

/** A logger that keeps its lines, to check what the connector says and how often. */
function memoryLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** A TCP port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('simulator connector', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('publishes the tags of every unit as JSON on <prefix>/<site>/<area>/<line>/<unit>/<tag>', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const sub = await subscribe(broker.url, 'sim/#');
    cleanups.push(() => sub.client.endAsync());
    const { logger, lines } = memoryLogger();
    const sim: SimulatorInstance = createSimulator({
      config: config({ speed: 50, seed: 7, counterMax: 500 }),
      units: UNITS,
      mqttUrl: broker.url,
      logger,
    });
    cleanups.push(() => sim.stop());
    await sim.start();

    const topics = topicsOf(UNITS);
    assert.equal(topics[0], 'sim/plant1/packaging/line1/filler/state');
    // The snapshot at start gives every topic once; then pieces keep coming.
    await waitFor(() => topics.every((topic) => sub.received.some((m) => m.topic === topic)), {
      what: 'every topic',
    });
    const pieces = (): number => sub.received.filter((m) => m.topic.endsWith('/total')).length;
    await waitFor(() => pieces() > 3 * UNITS.length, { what: 'pieces after the snapshot' });

    for (const { topic, payload } of sub.received) {
      assert.ok(topics.includes(topic), topic);
      assert.equal(typeof payload.value, 'number');
      assert.match(String(payload.timestamp), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const isStop = topic.endsWith('/state') && payload.value !== SIMULATOR_STATE_CODES.running;
      assert.deepEqual(
        Object.keys(payload).sort(),
        isStop ? ['reason', 'timestamp', 'value'] : ['timestamp', 'value'],
      );
    }
    await waitFor(() => sim.health().published > 0, { what: 'acknowledged publishes' });
    const health = sim.health();
    assert.equal(health.status, 'connected');
    assert.equal(health.seed, 7);
    assert.equal(health.errors, 0);
    assert.ok(health.lastDataTs !== null);
    assert.ok(
      Date.parse(health.simulatedTime ?? '') > Date.now(),
      'simulated time runs ahead at speed 50',
    );
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['simulator publishing'],
    );
    assert.deepEqual(await sim.connectionTest(), {
      ok: true,
      message: `connected to ${broker.url}`,
    });

    // The timer and the client end with stop(): the test process exits (no leaked handles).
    await sim.stop();
    assert.equal(sim.health().status, 'stopped');
  });

  test('started before its broker, it queues and delivers once the broker is up, logging the outage once', async () => {
    const port = await freePort();
    const { logger, lines } = memoryLogger();
    const sim = createSimulator({
      config: config({ id: 'late', speed: 20, seed: 3 }),
      units: UNITS.slice(0, 2),
      mqttUrl: `mqtt://127.0.0.1:${port}`,
      logger,
    });
    cleanups.push(() => sim.stop());
    await sim.start();
    // Several reconnect attempts, yet the log says it once per state change, not per attempt.
    await waitFor(() => sim.health().reconnects >= 2, { what: 'reconnect attempts' });
    assert.equal(sim.health().status, 'disconnected');
    assert.ok(sim.health().errors >= 2);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['simulator cannot reach the broker; publishes are queued until it answers'],
    );
    assert.match(String(lines[0]?.reason), /ECONNREFUSED/);
    const failed = await sim.connectionTest();
    assert.equal(failed.ok, false);
    assert.match(failed.message, /cannot connect to mqtt:\/\/127\.0\.0\.1:\d+/);

    const broker = await startBroker(port);
    cleanups.push(() => broker.close());
    await waitFor(() => sim.health().status === 'connected', {
      what: 'connected',
      timeoutMs: 15_000,
    });
    // The snapshot published at start, while the broker was away, arrives: every tag of every
    // unit with the start time. Later tags follow.
    const topics = topicsOf(UNITS.slice(0, 2));
    await waitFor(() => broker.published.length > topics.length, { what: 'queued publishes' });
    const tsOf = (m: Received): number => Date.parse(String(m.payload.timestamp));
    const startTs = Math.min(...broker.published.map(tsOf));
    const snapshot = broker.published.filter((m) => tsOf(m) === startTs);
    assert.deepEqual(snapshot.map((m) => m.topic).sort(), [...topics].sort());
    assert.equal(lines.at(-1)?.msg, 'simulator publishing');
    await sim.stop();
  });
});
