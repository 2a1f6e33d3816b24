/**
 * The line simulator connector: runs a SimulatedPlant in real time (times `speed`) and publishes
 * its tags to an MQTT broker, as PLCs behind an edge gateway would. Samples then take the real
 * MQTT path into the hub through ordinary bindings (see `simulatorBindings`), so the demo
 * exercises the same code as a plant.
 *
 * Topic: `<topicPrefix>/<site>/<area>/<line>/<unit>/<tag>`, tag one of `state`, `count/good`,
 * `count/total`, `count/scrap`, and `consumed/<material>` for each material the unit uses
 * (config `consumption`). Payload: `{"value": 3, "timestamp": "<ISO 8601 UTC>", "reason": "JAM"}`
 * (reason on state tags only, when the state has one). Timestamps are simulated time, which runs
 * `speed` times faster than the wall clock from the moment the connector starts.
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  simulatorConnectionSchema,
  type bindingSchema,
  type SimulatorConnectionConfig,
} from '../../config/schema.ts';
import type {
  ConnectionStatus,
  ConnectionTestResult,
  ConnectorDefinition,
  ConnectorHealth,
  ConnectorInstance,
} from '../../core/connector.ts';
import {
  SIMULATOR_STATE_MAP,
  SimulatedPlant,
  type PlantOptions,
  type SimTag,
  type SimTagName,
  type SimulatedConsumption,
  type SimulatedUnitInput,
} from './plant.ts';

export { SIMULATOR_STATE_CODES, SIMULATOR_STATE_MAP, SimulatedPlant } from './plant.ts';
export type { SimTag, SimulatedConsumption, SimulatedUnitInput } from './plant.ts';

/** What the simulator needs to run, whoever starts it (the hub, a test, a benchmark). */
export interface SimulatorContext {
  readonly config: SimulatorConnectionConfig;
  /**
   * The work units to simulate; ids are equipment paths such as acme/plant1/packaging/line1/filler.
   * The materials they use come from `config.consumption`.
   */
  readonly units: readonly SimulatedUnitInput[];
  /** URL of the broker of the `publishTo` connection (the embedded broker or an external one). */
  readonly mqttUrl: string;
  /** The connector binds its connection id to it. */
  readonly logger: Logger;
  /** Simulated time starts after this (epoch ms): the newest reading the hub already has. */
  readonly resumeAfterMs?: number;
}

export interface SimulatorHealth extends ConnectorHealth {
  /** The seed in use: set it as `seed` in the configuration to repeat this run. */
  readonly seed: number;
  /** Simulated time the plant has reached (ISO 8601 UTC), null before start. */
  readonly simulatedTime: string | null;
  /** Publishes the broker acknowledged (QoS 1 PUBACK). */
  readonly published: number;
}

export interface SimulatorInstance extends ConnectorInstance {
  health(): SimulatorHealth;
}

/** Defaults of the connector (the plant's own are in PLANT_DEFAULTS). */
const SIMULATOR_DEFAULTS = {
  /** Real time between two steps of the plant. */
  tickMs: 100,
  /** mqtt.js retries the broker this often while it is away. */
  reconnectPeriodMs: 1000,
  connectTimeoutMs: 5000,
  /** stop() waits this long for unacknowledged publishes before it closes the connection. */
  stopFlushTimeoutMs: 2000,
} as const;

/** The plant settings of a simulator connection. */
export function plantOptions(
  config: SimulatorConnectionConfig,
  seed: number,
  startMs: number,
): PlantOptions {
  return {
    seed,
    startMs,
    counterMax: config.counterMax,
    scrapRate: config.scrapRate,
    meanTimeBetweenStopsMs: config.meanTimeBetweenStops,
    microStopShare: config.microStopShare,
    changeoverEveryMs: config.changeoverEvery,
  };
}

/** The topic of a tag: the unit's equipment path without its first (enterprise) segment. */
export function simulatorTopic(topicPrefix: string, unitId: string, tag: SimTagName): string {
  return `${topicPrefix}/${unitId.split('/').slice(1).join('/')}/${tag}`;
}

/** The JSON payload of a tag. */
export function simulatorPayload(tag: SimTag): string {
  return JSON.stringify({
    value: tag.value,
    timestamp: new Date(tag.ts).toISOString(),
    ...(tag.reason === undefined ? {} : { reason: tag.reason }),
  });
}

/** Whether a `consumption[].unit` (a unit id, or the end of a unit's path) names this unit. */
function namesUnit(unit: string, unitId: string): boolean {
  return unitId === unit || unitId.endsWith(`/${unit}`);
}

/**
 * The materials a unit uses: the `consumption` entries that name it, the longest path winning
 * where several name it for the same material (`filler` for every filler, `line2/filler` for
 * that one). In the order of the entries.
 */
export function consumptionOf(
  entries: SimulatorConnectionConfig['consumption'],
  unitId: string,
): SimulatedConsumption[] {
  const chosen = new Map<string, { material: string; perPiece: number; depth: number }>();
  for (const e of entries) {
    if (!namesUnit(e.unit, unitId)) continue;
    const depth = e.unit.split('/').length;
    const before = chosen.get(e.material);
    if (before === undefined || depth > before.depth)
      chosen.set(e.material, { material: e.material, perPiece: e.perPiece, depth });
  }
  return [...chosen.values()].map(({ material, perPiece }) => ({ material, perPiece }));
}

export type BindingInput = z.input<typeof bindingSchema>;

/**
 * The bindings that make the hub read the simulator's topics from the broker it publishes to:
 * one state binding (PLC codes mapped through SIMULATOR_STATE_MAP), one binding per counter and
 * one consumption binding per material of `consumption` (in its `uom`), rolling over at
 * `counterMax`. The materials must be in the configuration's `materials`.
 */
export function simulatorBindings(
  config: SimulatorConnectionConfig,
  mqttConnectionId: string,
  enterpriseId: string,
): BindingInput[] {
  const topic = (tag: SimTagName): string =>
    `${config.topicPrefix}/{site}/{area}/{line}/{unit}/${tag}`;
  const equipment = `${enterpriseId}/{site}/{area}/{line}/{unit}`;
  const payload = { format: 'json', valuePath: 'value', timestampPath: 'timestamp' } as const;
  const counter = (meaning: BindingInput['meaning'], tag: SimTagName): BindingInput => ({
    connection: mqttConnectionId,
    topic: topic(tag),
    equipment,
    meaning,
    payload,
    rolloverAt: config.counterMax,
  });
  return [
    {
      connection: mqttConnectionId,
      topic: topic('state'),
      equipment,
      meaning: 'state',
      payload: { ...payload, reasonPath: 'reason' },
      stateMap: { ...SIMULATOR_STATE_MAP },
    },
    counter('counter.good', 'count/good'),
    counter('counter.total', 'count/total'),
    counter('counter.scrap', 'count/scrap'),
    // One unit of measure per material (the schema checks it): one binding per material.
    ...[...new Map(config.consumption.map((c) => [c.material, c.uom]))].map(
      ([material, uom]): BindingInput => ({
        ...counter('consumption', `consumed/${material}`),
        material,
        uom,
      }),
    ),
  ];
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The broker URL without credentials, for logs and health. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

/** Run a simulated plant and publish its tags; see the top of this file. */
export function createSimulator(ctx: SimulatorContext): SimulatorInstance {
  const { config, mqttUrl } = ctx;
  const log = ctx.logger.child({ connection: config.id });
  const units = ctx.units.map((u) => ({
    ...u,
    consumption: consumptionOf(config.consumption, u.id),
  }));
  config.consumption.forEach((entry, i) => {
    // Probably a typo: say so once at start rather than publish nothing without a word.
    if (!units.some((u) => namesUnit(entry.unit, u.id)))
      log.warn(
        { path: `consumption[${i}].unit`, unit: entry.unit },
        `simulator consumption[${i}].unit "${entry.unit}" names no work unit; material ${entry.material} is not simulated`,
      );
  });
  const brokerUrl = redactUrl(mqttUrl);
  // Without a configured seed each run differs; the seed is logged and in health to repeat one.
  const seed = config.seed ?? randomInt(2 ** 31);

  let status: ConnectionStatus = 'stopped';
  let detail: string | null = null;
  let lastDataTs: number | null = null;
  let reconnects = 0;
  let errors = 0;
  let published = 0;
  // Errors are logged once per connection state, not once per publish or retry.
  let errorLogged = false;
  let connectedBefore = false;
  let plant: SimulatedPlant | null = null;
  let client: MqttClient | null = null;
  let timer: NodeJS.Timeout | null = null;

  const setStatus = (next: ConnectionStatus): void => {
    if (next === status) return;
    status = next;
    errorLogged = false;
  };

  const noteError = (err: unknown, what: string): void => {
    errors++;
    detail = `${what} failed: ${describeError(err)}`;
    // A connection error is followed by 'offline', whose one line carries it.
    if (errorLogged || what === 'connection') return;
    errorLogged = true;
    log.warn({ err, broker: brokerUrl }, `simulator ${what} failed; retrying quietly`);
  };

  const publish = (c: MqttClient, tags: readonly SimTag[]): void => {
    for (const tag of tags) {
      const topic = simulatorTopic(config.topicPrefix, tag.unitId, tag.tag);
      // While the broker is away mqtt.js keeps QoS 1 publishes and sends them on reconnect.
      c.publish(topic, simulatorPayload(tag), { qos: 1 }, (err) => {
        if (status === 'stopped') return;
        if (err) {
          noteError(err, 'publish');
        } else {
          published++;
          lastDataTs = Date.now();
        }
      });
    }
  };

  const tick = (c: MqttClient, p: SimulatedPlant, realStartMs: number, simStartMs: number) => {
    try {
      const simulatedMs = simStartMs + (performance.now() - realStartMs) * config.speed;
      publish(c, p.advance(simulatedMs));
    } catch (err) {
      // A fault in one step must not take the hub down: note it and try again next tick.
      noteError(err, 'step');
    }
  };

  return {
    id: config.id,
    type: 'simulator',

    async start(): Promise<void> {
      if (client !== null) return;
      const simStartMs = Math.max(Date.now(), (ctx.resumeAfterMs ?? 0) + 1);
      const p = new SimulatedPlant(units, plantOptions(config, seed, simStartMs));
      plant = p;
      setStatus('connecting');
      const c = mqtt.connect(mqttUrl, {
        clientId: `millwright-sim-${config.id}`,
        reconnectPeriod: SIMULATOR_DEFAULTS.reconnectPeriodMs,
        connectTimeout: SIMULATOR_DEFAULTS.connectTimeoutMs,
      });
      client = c;
      c.on('connect', () => {
        if (status === 'stopped') return;
        setStatus('connected');
        detail = null;
        log.info(
          { broker: brokerUrl, seed, units: units.length, speed: config.speed },
          connectedBefore ? 'simulator reconnected' : 'simulator publishing',
        );
        connectedBefore = true;
      });
      c.on('reconnect', () => {
        if (status === 'stopped') return;
        reconnects++;
      });
      c.on('offline', () => {
        if (status === 'stopped') return;
        setStatus('disconnected');
        errorLogged = true;
        log.warn(
          { broker: brokerUrl, reason: detail },
          'simulator cannot reach the broker; publishes are queued until it answers',
        );
      });
      // Without a listener an 'error' event would throw and end the process.
      c.on('error', (err) => {
        if (status !== 'stopped') noteError(err, 'connection');
      });

      // A PLC answers with its current values when a client connects; the hub gets a baseline.
      publish(c, p.snapshot());
      const realStartMs = performance.now();
      timer = setInterval(() => tick(c, p, realStartMs, simStartMs), SIMULATOR_DEFAULTS.tickMs);
    },

    async stop(): Promise<void> {
      if (timer !== null) clearInterval(timer);
      timer = null;
      const c = client;
      client = null;
      setStatus('stopped');
      if (c === null) return;
      // Give the broker a moment to acknowledge what is in flight; a broker that is away gets
      // no wait, and the connection is then closed without waiting further.
      if (c.connected && Object.keys(c.outgoing).length > 0) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(limit);
            c.removeListener('outgoingEmpty', done);
            resolve();
          };
          const limit = setTimeout(done, SIMULATOR_DEFAULTS.stopFlushTimeoutMs);
          c.on('outgoingEmpty', done);
        });
      }
      await c.endAsync(!c.connected || Object.keys(c.outgoing).length > 0);
    },

    health(): SimulatorHealth {
      return {
        status,
        detail,
        lastDataTs,
        reconnects,
        errors,
        seed,
        simulatedTime: plant === null ? null : new Date(plant.timeMs).toISOString(),
        published,
      };
    },

    async connectionTest(): Promise<ConnectionTestResult> {
      try {
        const c = await mqtt.connectAsync(mqttUrl, {
          // Its own client id, so the test does not take over a running simulator's session.
          clientId: `millwright-sim-${config.id}-test`,
          reconnectPeriod: 0,
          connectTimeout: SIMULATOR_DEFAULTS.connectTimeoutMs,
        });
        await c.endAsync();
        return { ok: true, message: `connected to ${brokerUrl}` };
      } catch (err) {
        return { ok: false, message: `cannot connect to ${brokerUrl}: ${describeError(err)}` };
      }
    },
  };
}

export const simulatorConnector: ConnectorDefinition<SimulatorConnectionConfig> = {
  type: 'simulator',
  summary:
    'Built-in line simulator: work units with jitter, stops, changeovers and scrap, published over MQTT.',
  configSchema: simulatorConnectionSchema,
  // Every work unit of the hierarchy runs, publishing to the broker of the `publishTo` connection.
  create: (ctx) =>
    createSimulator({
      config: ctx.config,
      units: ctx.hierarchy.workUnits().map((unit) => {
        const last = ctx.lastReading(unit.id);
        return {
          id: unit.id,
          idealCycleTimeMs:
            unit.idealCycleTimeS === undefined ? undefined : unit.idealCycleTimeS * 1000,
          resume:
            last === undefined
              ? undefined
              : {
                  good: last.counters.good.lastRaw,
                  total: last.counters.total.lastRaw,
                  scrap: last.counters.scrap.lastRaw,
                  // Kept by the hub's material id: the simulator's code when no materialSystem
                  // maps it (else the totaliser starts anew, which the hub reads as a reset).
                  materials: Object.fromEntries(
                    Object.entries(last.materials).map(([material, p]) => [
                      material,
                      p.lastRaw === null ? null : Number(p.lastRaw),
                    ]),
                  ),
                },
        };
      }),
      // Simulated time runs ahead of the clock when speed > 1: resume after the last reading,
      // or the hub would ignore the new readings as older than what it has.
      resumeAfterMs: Math.max(
        0,
        ...ctx.hierarchy.workUnits().map((unit) => {
          const last = ctx.lastReading(unit.id);
          return last === undefined
            ? 0
            : Math.max(
                last.lastStateTs,
                last.counters.good.lastTs,
                last.counters.total.lastTs,
                last.counters.scrap.lastTs,
                ...Object.values(last.materials).map((p) => p.lastTs),
              );
        }),
      ),
      mqttUrl: ctx.brokerUrlOf(ctx.config.publishTo),
      logger: ctx.logger,
    }),
};
