/**
 * The line simulator: the pure plant over hours of simulated time, and the connector against a
 * real MQTT broker (aedes, in-process on port 0) with a plain mqtt.js subscriber.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { Aedes } from 'aedes';
import { Decimal } from 'decimal.js';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import {
  bindingSchema,
  simulatorConnectionSchema,
  type SimulatorConnectionConfig,
} from '../../src/config/schema.ts';
import { compileTopicPattern } from '../../src/connectors/mqtt/topic-pattern.ts';
import {
  consumptionOf,
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
import { applyConsumption } from '../../src/model/consumption.ts';
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

/** Production of a unit's counter as the hub counts it (deltas across rollovers), from `tags`. */
function produced(tags: readonly SimTag[], unitId: string, tag: SimTag['tag']): number {
  let reading: CounterReading = INITIAL_COUNTER;
  for (const t of tags.filter((x) => x.unitId === unitId && x.tag === tag)) {
    const step = applyCounter(reading, t.value, COUNTER_MAX);
    assert.notEqual(step.anomaly, 'reset', `${unitId} ${tag} reset`);
    reading = step.next;
  }
  return reading.total;
}

/** Material used as the hub books a totaliser (rollover at COUNTER_MAX), and its rollovers. */
function used(
  tags: readonly SimTag[],
  unitId: string,
  material: string,
): { quantity: number; rollovers: number } {
  let lastRaw: string | null = null;
  let quantity = new Decimal(0);
  let rollovers = 0;
  for (const t of tags.filter((x) => x.unitId === unitId && x.tag === `consumed/${material}`)) {
    const step = applyConsumption(
      lastRaw,
      new Decimal(t.value),
      'absolute',
      new Decimal(COUNTER_MAX),
    );
    assert.notEqual(step.anomaly, 'reset', `${unitId} ${material} reset`);
    if (step.anomaly === 'rollover') rollovers++;
    quantity = quantity.plus(step.delta);
    lastRaw = step.lastRaw;
  }
  return { quantity: quantity.toNumber(), rollovers };
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

describe('simulated material consumption', () => {
  const FILLER = UNITS[0]!.id;
  const CAPPER = UNITS[1]!.id;
  const USING: SimulatedUnitInput[] = UNITS.map((u) =>
    u.id === FILLER
      ? { ...u, consumption: [{ material: 'PET-28G', perPiece: 1 }] }
      : u.id === CAPPER
        ? {
            ...u,
            consumption: [
              { material: 'CAP-38', perPiece: 1 },
              { material: 'GLUE-H', perPiece: 7 },
            ],
          }
        : u,
  );
  const plant = plantOf(42, USING);
  const baseline = plant.snapshot();
  const tags = plant.advance(START_MS + 8 * HOUR_MS);
  const all = [...baseline, ...tags];

  test('a totaliser tag per material of a unit, in the snapshot and after every piece', () => {
    const consumed = (unitId: string) =>
      baseline
        .filter((t) => t.unitId === unitId && t.tag.startsWith('consumed/'))
        .map((t) => t.tag);
    assert.deepEqual(consumed(FILLER), ['consumed/PET-28G']);
    assert.deepEqual(consumed(CAPPER), ['consumed/CAP-38', 'consumed/GLUE-H']);
    assert.deepEqual(consumed(UNITS[2]!.id), []);
    for (const unit of USING) {
      const materials = (unit.consumption ?? []).map((c) => `consumed/${c.material}`);
      // Each piece (a total count) is followed by one reading of every material, at its time.
      tags.forEach((t, i) => {
        if (t.unitId !== unit.id || t.tag !== 'count/total') return;
        const next = tags.slice(i + 1, i + 1 + materials.length);
        assert.deepEqual(
          next.map((x) => [x.unitId, x.tag, x.ts]),
          materials.map((m) => [unit.id, m, t.ts]),
          `${unit.id} piece at ${t.ts}`,
        );
      });
    }
  });

  test('grows by perPiece with every piece, good or scrap, rolling over after counterMax', () => {
    for (const unit of USING) {
      const pieces = produced(all, unit.id, 'count/total');
      assert.equal(
        pieces,
        produced(all, unit.id, 'count/good') + produced(all, unit.id, 'count/scrap'),
      );
      assert.ok(pieces > COUNTER_MAX, `${unit.id}: ${pieces} pieces, enough to roll over`);
      for (const { material, perPiece } of unit.consumption ?? []) {
        const { quantity, rollovers } = used(all, unit.id, material);
        assert.equal(quantity, pieces * perPiece, `${unit.id} ${material}`);
        assert.ok(rollovers >= 1, `${unit.id} ${material} rolled over`);
        for (const t of all.filter((x) => x.tag === `consumed/${material}`))
          assert.ok(Number.isSafeInteger(t.value) && t.value >= 0 && t.value <= COUNTER_MAX);
      }
    }
  });

  test('repeats with the seed, and a material changes nothing else of the run', () => {
    const again = plantOf(42, USING);
    assert.deepEqual([...again.snapshot(), ...again.advance(START_MS + 8 * HOUR_MS)], all);
    const without = plantOf(42);
    assert.deepEqual(
      [...without.snapshot(), ...without.advance(START_MS + 8 * HOUR_MS)],
      all.filter((t) => !t.tag.startsWith('consumed/')),
    );
    const other = plantOf(43, USING).snapshot();
    assert.notDeepEqual(
      other.filter((t) => t.tag.startsWith('consumed/')).map((t) => t.value),
      baseline.filter((t) => t.tag.startsWith('consumed/')).map((t) => t.value),
    );
  });

  test('resumes a totaliser from the value the hub last read', () => {
    const resumed = plantOf(42, [
      { ...USING[0]!, resume: { total: 10, materials: { 'PET-28G': 4711 } } },
    ]);
    const start = resumed.snapshot();
    assert.equal(start.find((t) => t.tag === 'consumed/PET-28G')?.value, 4711);
    const first = resumed.advance(START_MS + HOUR_MS).find((t) => t.tag === 'consumed/PET-28G');
    assert.equal(first?.value, 4712);
    // A value the totaliser cannot hold (out of range, not whole) starts it anew.
    for (const bad of [COUNTER_MAX + 1, 12.5, -1]) {
      const p = plantOf(42, [{ ...USING[0]!, resume: { materials: { 'PET-28G': bad } } }]);
      const v = p.snapshot().find((t) => t.tag === 'consumed/PET-28G')!.value;
      assert.ok(Number.isSafeInteger(v) && v >= 0 && v <= COUNTER_MAX && v !== bad, String(bad));
    }
  });
});

describe('simulator consumption config', () => {
  const parse = (consumption: unknown, extra: Record<string, unknown> = {}) =>
    simulatorConnectionSchema.safeParse({
      id: 'sim',
      type: 'simulator',
      publishTo: 'plant-mqtt',
      consumption,
      ...extra,
    });
  const problems = (consumption: unknown, extra: Record<string, unknown> = {}): string[] => {
    const r = parse(consumption, extra);
    assert.equal(r.success, false, JSON.stringify(consumption));
    return (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  test('defaults to one piece of material per piece, counted in H87', () => {
    const r = parse([{ unit: 'filler', material: 'PET-28G' }]);
    assert.ok(r.success, JSON.stringify(r.error?.issues));
    assert.deepEqual(r.data.consumption, [
      { unit: 'filler', material: 'PET-28G', perPiece: 1, uom: 'H87' },
    ]);
    assert.deepEqual(parse(undefined).data?.consumption, []);
  });

  test('refuses what could not be published or read back, naming the field', () => {
    assert.deepEqual(problems([{ unit: 'filler', material: 'PET/28G' }]), [
      'consumption.0.material: expected a material code of letters, digits, "_", "." or "-" (one topic level)',
    ]);
    assert.deepEqual(problems([{ unit: 'line1//filler', material: 'PET' }]), [
      'consumption.0.unit: expected a unit id, or the end of its path like "line1/filler"',
    ]);
    assert.match(
      problems([{ unit: 'filler', material: 'GLUE', perPiece: 0.5 }])[0]!,
      /^consumption\.0\.perPiece: expected a whole number/,
    );
    assert.match(
      problems([{ unit: 'filler', material: 'GLUE', uom: 'KILO' }])[0]!,
      /^consumption\.0\.uom: expected a UN\/CEFACT Rec 20 unit code/,
    );
    assert.deepEqual(
      problems([
        { unit: 'filler', material: 'PET' },
        { unit: 'filler', material: 'PET', perPiece: 2 },
      ]),
      ['consumption.1.material: unit "filler" already has a totaliser of material "PET"'],
    );
    assert.deepEqual(
      problems([
        { unit: 'filler', material: 'GLUE', uom: 'GRM' },
        { unit: 'labeller', material: 'GLUE', uom: 'MLT' },
      ]),
      [
        'consumption.1.uom: material "GLUE" is counted in GRM by an entry before; one unit of measure per material',
      ],
    );
    assert.deepEqual(
      problems([{ unit: 'filler', material: 'GLUE', perPiece: 600 }], { counterMax: 999 }),
      [
        'consumption.0.perPiece: expected at most half of counterMax + 1 (500), so each wrap reads as a rollover',
      ],
    );
  });

  test('a unit id names that unit on every line; the longest path wins', () => {
    const entries = config({
      consumption: [
        { unit: 'filler', material: 'PET-28G', perPiece: 1, uom: 'H87' },
        { unit: 'line2/filler', material: 'PET-28G', perPiece: 2, uom: 'H87' },
        { unit: 'filler', material: 'CAP-38', perPiece: 1, uom: 'H87' },
        { unit: 'plant1/packaging/line1/capper', material: 'CAP-38', perPiece: 1, uom: 'H87' },
      ],
    }).consumption;
    assert.deepEqual(consumptionOf(entries, 'acme/plant1/packaging/line1/filler'), [
      { material: 'PET-28G', perPiece: 1 },
      { material: 'CAP-38', perPiece: 1 },
    ]);
    assert.deepEqual(consumptionOf(entries, 'acme/plant1/packaging/line2/filler'), [
      { material: 'PET-28G', perPiece: 2 },
      { material: 'CAP-38', perPiece: 1 },
    ]);
    assert.deepEqual(consumptionOf(entries, 'acme/plant1/packaging/line1/capper'), [
      { material: 'CAP-38', perPiece: 1 },
    ]);
    // A path matches whole levels only.
    assert.deepEqual(consumptionOf(entries, 'acme/plant1/packaging/line1/prefiller'), []);
    assert.deepEqual(consumptionOf(entries, 'acme/plant1/packaging/line2/capper'), []);
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

  test('add a consumption binding per material, in its unit of measure', () => {
    const cfg = config({
      counterMax: 999,
      consumption: [
        { unit: 'filler', material: 'PET-28G', perPiece: 1, uom: 'H87' },
        { unit: 'line2/filler', material: 'PET-28G', perPiece: 2, uom: 'H87' },
        { unit: 'labeller', material: 'GLUE-H', perPiece: 3, uom: 'GRM' },
      ],
    });
    const bindings = simulatorBindings(cfg, 'plant-mqtt', 'acme').map((b) =>
      bindingSchema.parse(b),
    );
    const consumption = bindings.filter((b) => b.meaning === 'consumption');
    assert.deepEqual(
      consumption.map((b) => [b.material, b.uom, b.rolloverAt, b.counterMode, b.payload.format]),
      [
        ['PET-28G', 'H87', 999, 'absolute', 'json'],
        ['GLUE-H', 'GRM', 999, 'absolute', 'json'],
      ],
    );
    const unitId = 'acme/plant1/packaging/line2/labeller';
    for (const tag of ['consumed/PET-28G', 'consumed/GLUE-H'] as const) {
      const topic = simulatorTopic(cfg.topicPrefix, unitId, tag);
      const matching = bindings.filter(
        (b) => compileTopicPattern(b.topic ?? '').match(topic) !== null,
      );
      assert.deepEqual(
        matching.map((b) => `consumed/${b.material}`),
        [tag],
        topic,
      );
      const captures = compileTopicPattern(matching[0]!.topic ?? '').match(topic)!;
      assert.equal(
        (matching[0]!.equipment ?? '').replace(/\{(\w+)\}/g, (_, n: string) => captures[n] ?? ''),
        unitId,
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

  test('publishes each totaliser on <prefix>/…/<unit>/consumed/<material>, in step with production', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.close());
    const sub = await subscribe(broker.url, 'sim/#');
    cleanups.push(() => sub.client.endAsync());
    const { logger, lines } = memoryLogger();
    const sim = createSimulator({
      config: config({
        speed: 50,
        seed: 11,
        counterMax: 500,
        consumption: [
          { unit: 'filler', material: 'PET-28G', perPiece: 1, uom: 'H87' },
          { unit: 'capper', material: 'GLUE-H', perPiece: 3, uom: 'GRM' },
          { unit: 'palletizer', material: 'FILM', perPiece: 1, uom: 'H87' },
        ],
      }),
      units: UNITS,
      mqttUrl: broker.url,
      logger,
    });
    cleanups.push(() => sim.stop());
    await sim.start();

    const cases = [
      { unitId: UNITS[0]!.id, material: 'PET-28G', perPiece: 1 },
      { unitId: UNITS[1]!.id, material: 'GLUE-H', perPiece: 3 },
    ];
    const of = (topic: string) => sub.received.filter((m) => m.topic === topic);
    await waitFor(
      () =>
        cases.every(
          (c) => of(simulatorTopic('sim', c.unitId, `consumed/${c.material}`)).length > 5,
        ),
      { what: 'totaliser readings of the filler and the capper' },
    );
    await sim.stop();
    assert.equal(
      sub.received.filter(
        (m) =>
          m.topic.includes('/consumed/') &&
          !cases.some((c) => m.topic === simulatorTopic('sim', c.unitId, `consumed/${c.material}`)),
      ).length,
      0,
      'only the units named have totalisers',
    );
    for (const c of cases) {
      const readings = of(simulatorTopic('sim', c.unitId, `consumed/${c.material}`));
      const totals = new Map(
        of(simulatorTopic('sim', c.unitId, 'count/total')).map((m) => [
          m.payload.timestamp,
          m.payload.value as number,
        ]),
      );
      for (const m of readings)
        assert.deepEqual(Object.keys(m.payload).sort(), ['timestamp', 'value'], m.topic);
      // Each reading carries the time of the piece that used the material, and the totaliser
      // moved perPiece for every piece since the first (modulo the wrap after counterMax).
      const first = readings[0]!;
      const total0 = totals.get(first.payload.timestamp);
      assert.ok(total0 !== undefined, 'the first reading has the time of a total count');
      for (const m of readings) {
        const total = totals.get(m.payload.timestamp);
        assert.ok(total !== undefined, `${m.topic} at ${String(m.payload.timestamp)}`);
        assert.equal(
          ((m.payload.value as number) - (first.payload.value as number) + 501) % 501,
          (((total - total0 + 501) % 501) * c.perPiece) % 501,
          `${m.topic} at ${String(m.payload.timestamp)}`,
        );
      }
    }
    assert.deepEqual(
      lines.map((l) => [l.msg, l.path]),
      [
        [
          'simulator consumption[2].unit "palletizer" names no work unit; material FILM is not simulated',
          'consumption[2].unit',
        ],
        ['simulator publishing', undefined],
      ],
    );
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
