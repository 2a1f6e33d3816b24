/**
 * The simulated plant behind the simulator connector: a pure, deterministic discrete-event
 * simulation of ISA-95 work units. No timers and no I/O: `advance(toMs)` steps simulated time and
 * returns the tag changes a PLC on each work unit would publish, so tests can run hours of plant
 * time in milliseconds and a seed repeats a run exactly.
 *
 * Each work unit cycles pieces a little slower than its ideal cycle time (performance < 100 %),
 * stops at random (micro-stops of a few seconds and longer stops with reason codes), changes over
 * every so often, makes some scrap, and counts every piece in PLC-style absolute counters that
 * roll over to 0 after `counterMax`. A unit may also use materials: each has a totaliser that
 * grows by its quantity per piece with every piece made (good or scrap) and rolls over the same way.
 */
import type { EquipmentState } from '../../model/state.ts';

/** The states the simulated PLCs report: every equipment state except 'unknown'. */
export type SimState = Exclude<EquipmentState, 'unknown'>;

/** PLC integer codes of the states, as the simulated PLCs publish them. */
export const SIMULATOR_STATE_CODES = {
  running: 1,
  idle: 2,
  down: 3,
  changeover: 4,
  'planned-stop': 5,
  starved: 6,
  blocked: 7,
} as const satisfies Record<SimState, number>;

/** The inverse of SIMULATOR_STATE_CODES, keyed by the code as text: a binding `stateMap`. */
export const SIMULATOR_STATE_MAP: Readonly<Record<string, SimState>> = Object.fromEntries(
  Object.entries(SIMULATOR_STATE_CODES).map(([state, code]) => [String(code), state as SimState]),
);

export type SimTagName =
  'state' | 'count/good' | 'count/total' | 'count/scrap' | `consumed/${string}`;

/** One tag change of one work unit. */
export interface SimTag {
  /** The work unit's id, as given to the plant (an equipment path). */
  readonly unitId: string;
  readonly tag: SimTagName;
  /** A state code (SIMULATOR_STATE_CODES), an absolute counter value or a totaliser value. */
  readonly value: number;
  /** State tags only: the reason code of the state, when it has one. */
  readonly reason?: string;
  /** Simulated time of the change (epoch ms). */
  readonly ts: number;
}

/** A material a unit uses: its totaliser grows by `perPiece` (a whole number) per piece made. */
export interface SimulatedConsumption {
  /** The material code, published as the last topic level (`consumed/<material>`). */
  readonly material: string;
  readonly perPiece: number;
}

export interface SimulatedUnitInput {
  readonly id: string;
  readonly idealCycleTimeMs?: number | undefined;
  /** The materials the unit uses, in the order their tags are published. */
  readonly consumption?: readonly SimulatedConsumption[] | undefined;
  /**
   * Counter and totaliser values to resume from, like a PLC's retentive memory across a restart
   * of the hub that simulates it; a missing value starts anywhere in the counter's range.
   */
  readonly resume?:
    | {
        readonly good?: number | null;
        readonly total?: number | null;
        readonly scrap?: number | null;
        /** Totalisers by material code. */
        readonly materials?: Readonly<Record<string, number | null | undefined>>;
      }
    | undefined;
}

export interface PlantOptions {
  /** Seed of the random streams: the same seed and units give the same run. */
  readonly seed: number;
  /** Simulated time at which the plant starts (epoch ms). */
  readonly startMs: number;
  /** Largest counter value; the next piece wraps the counter to 0. */
  readonly counterMax: number;
  /** Share of pieces that are scrap. */
  readonly scrapRate: number;
  /** Mean running time between two stops (micro-stops included). */
  readonly meanTimeBetweenStopsMs: number;
  /** Share of stops that are micro-stops. */
  readonly microStopShare: number;
  /** Mean time between two changeovers; 0 turns changeovers off. */
  readonly changeoverEveryMs: number;
}

/** Defaults of the plant, the same as those of the simulator connection schema. */
export const PLANT_DEFAULTS: PlantOptions = {
  seed: 1,
  startMs: 0,
  counterMax: 65_535,
  scrapRate: 0.02,
  meanTimeBetweenStopsMs: 60_000,
  microStopShare: 0.6,
  changeoverEveryMs: 900_000,
};

const DEFAULT_IDEAL_CYCLE_TIME_MS = 1000;
// Each piece is one simulation event; a zero cycle time would never let simulated time advance.
const MIN_CYCLE_TIME_MS = 10;
/** Each unit runs this much slower than ideal on average (drawn once per unit). */
const SPEED_LOSS_RANGE = [0.04, 0.12] as const;
/** Relative standard deviation of one cycle around the unit's mean cycle time. */
const CYCLE_JITTER = 0.04;

export const MICRO_STOP_REASON = 'MICRO_STOP';
export const CHANGEOVER_REASON = 'CHANGEOVER';
/** Micro-stops last a few seconds, whatever the other settings. */
export const MICRO_STOP_RANGE_MS = [2_000, 10_000] as const;
/** The shortest longer stop: always well above a micro-stop, so the two stay distinguishable. */
const MIN_LONG_STOP_MS = 15_000;
/** A changeover lasts this share of `changeoverEveryMs`, clamped to CHANGEOVER_CLAMP_MS. */
const CHANGEOVER_SHARE = [0.1, 0.2] as const;
const CHANGEOVER_CLAMP_MS = [60_000, 1_800_000] as const;

interface StopKind {
  readonly state: SimState;
  readonly reason: string;
  readonly weight: number;
  /**
   * Duration range as a multiple of `meanTimeBetweenStopsMs`. Stops scale with the time between
   * them so availability stays plausible (around 80 %) at any setting, from a fast demo to a
   * realistic plant with stops every half hour.
   */
  readonly durationFactor: readonly [number, number];
}

const LONGER_STOPS: readonly StopKind[] = [
  { state: 'down', reason: 'JAM', weight: 5, durationFactor: [0.15, 0.4] },
  { state: 'down', reason: 'MOTOR_FAULT', weight: 1, durationFactor: [0.5, 1.5] },
  { state: 'down', reason: 'ELECTRICAL', weight: 1, durationFactor: [0.4, 1.0] },
  { state: 'down', reason: 'MATERIAL_SHORTAGE', weight: 2, durationFactor: [0.25, 0.75] },
  { state: 'starved', reason: 'UPSTREAM_EMPTY', weight: 2, durationFactor: [0.1, 0.3] },
  { state: 'blocked', reason: 'DOWNSTREAM_FULL', weight: 1, durationFactor: [0.1, 0.3] },
  { state: 'idle', reason: 'NO_OPERATOR', weight: 1, durationFactor: [0.25, 0.75] },
];
const LONGER_STOPS_WEIGHT = LONGER_STOPS.reduce((sum, k) => sum + k.weight, 0);

/** mulberry32: a small, fast 32-bit PRNG; plenty for a simulation and exactly repeatable. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** FNV-1a of the unit id, mixed into the seed: each unit has its own random stream, so adding a
 * unit does not change how the others behave. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  unit(): number {
    return this.next();
  }
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }
  /** Skewed towards `min`: most stops are short, a few are long. */
  skewed(min: number, max: number): number {
    const u = this.next();
    return min + (max - min) * u * u;
  }
  integer(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

interface UnitSim {
  readonly id: string;
  readonly idealCycleTimeMs: number;
  /** Mean cycle time over ideal cycle time, > 1. */
  readonly speedFactor: number;
  readonly random: Random;
  state: SimState;
  reason: string | null;
  /** Running: when the current piece completes. Otherwise: when the state ends. */
  nextEventMs: number;
  nextStopMs: number;
  nextChangeoverMs: number;
  good: number;
  total: number;
  scrap: number;
  readonly materials: Totaliser[];
}

interface Totaliser {
  readonly tag: `consumed/${string}`;
  readonly perPiece: number;
  value: number;
}

export class SimulatedPlant {
  private readonly options: PlantOptions;
  private readonly units: UnitSim[];
  private nowMs: number;

  constructor(units: readonly SimulatedUnitInput[], options: Partial<PlantOptions> = {}) {
    this.options = { ...PLANT_DEFAULTS, ...options };
    this.nowMs = this.options.startMs;
    this.units = units.map((u) => this.createUnit(u));
  }

  /** Current simulated time (epoch ms). */
  get timeMs(): number {
    return this.nowMs;
  }

  /** The current state and counters of every unit, stamped with the current simulated time. */
  snapshot(): SimTag[] {
    const ts = Math.floor(this.nowMs);
    return this.units.flatMap((u) => [
      stateTag(u, ts),
      { unitId: u.id, tag: 'count/good' as const, value: u.good, ts },
      { unitId: u.id, tag: 'count/scrap' as const, value: u.scrap, ts },
      { unitId: u.id, tag: 'count/total' as const, value: u.total, ts },
      ...u.materials.map((m) => ({ unitId: u.id, tag: m.tag, value: m.value, ts })),
    ]);
  }

  /** Step simulated time to `toMs` and return the tag changes on the way, in time order. */
  advance(toMs: number): SimTag[] {
    const out: SimTag[] = [];
    for (;;) {
      // The earliest event of all units next, so output is in time order across units
      // (ties go to the unit listed first, which keeps runs repeatable).
      let due: UnitSim | undefined;
      for (const u of this.units) {
        if (u.nextEventMs <= toMs && (due === undefined || u.nextEventMs < due.nextEventMs))
          due = u;
      }
      if (due === undefined) break;
      this.nowMs = due.nextEventMs;
      this.step(due, out);
    }
    if (toMs > this.nowMs) this.nowMs = toMs;
    return out;
  }

  private createUnit(input: SimulatedUnitInput): UnitSim {
    const { seed, startMs, counterMax, changeoverEveryMs } = this.options;
    const random = new Random((seed ^ hash32(input.id)) >>> 0);
    const idealCycleTimeMs = Math.max(
      MIN_CYCLE_TIME_MS,
      input.idealCycleTimeMs ?? DEFAULT_IDEAL_CYCLE_TIME_MS,
    );
    const unit: UnitSim = {
      id: input.id,
      idealCycleTimeMs,
      speedFactor: 1 + random.between(...SPEED_LOSS_RANGE),
      random,
      state: 'running',
      reason: null,
      nextEventMs: 0,
      nextStopMs: 0,
      // Spread the first changeovers so the units of a line do not all change over at once.
      nextChangeoverMs:
        changeoverEveryMs > 0 ? startMs + random.between(0.2, 1) * changeoverEveryMs : Infinity,
      // A PLC that has run before: counters start where it left off, else anywhere in their range.
      good: resumeValue(input.resume?.good, counterMax) ?? random.integer(0, counterMax),
      total: resumeValue(input.resume?.total, counterMax) ?? random.integer(0, counterMax),
      scrap: resumeValue(input.resume?.scrap, counterMax) ?? random.integer(0, counterMax),
      materials: (input.consumption ?? []).map((c) => ({
        tag: `consumed/${c.material}` as const,
        perPiece: c.perPiece,
        // Its own random stream for the start, so a material added to a unit changes nothing
        // else of the run.
        value:
          resumeValue(input.resume?.materials?.[c.material], counterMax) ??
          new Random((seed ^ hash32(`${input.id}/consumed/${c.material}`)) >>> 0).integer(
            0,
            counterMax,
          ),
      })),
    };
    this.startRunning(unit);
    return unit;
  }

  private step(u: UnitSim, out: SimTag[]): void {
    const ts = Math.floor(this.nowMs);
    if (u.state !== 'running') {
      this.startRunning(u);
      out.push(stateTag(u, ts));
      return;
    }
    this.completePiece(u, ts, out);
    // Stops and changeovers happen between pieces, as a PLC finishes its cycle before halting.
    if (this.nowMs >= u.nextChangeoverMs) {
      const { changeoverEveryMs } = this.options;
      const durationMs = clamp(
        u.random.between(...CHANGEOVER_SHARE) * changeoverEveryMs,
        ...CHANGEOVER_CLAMP_MS,
      );
      this.stop(u, 'changeover', CHANGEOVER_REASON, durationMs);
      u.nextChangeoverMs = u.nextEventMs + u.random.between(0.7, 1.3) * changeoverEveryMs;
      out.push(stateTag(u, ts));
    } else if (this.nowMs >= u.nextStopMs) {
      this.stopAtRandom(u);
      out.push(stateTag(u, ts));
    } else {
      u.nextEventMs = this.nowMs + this.cycleTimeMs(u);
    }
  }

  private completePiece(u: UnitSim, ts: number, out: SimTag[]): void {
    const { counterMax, scrapRate } = this.options;
    const wrap = (value: number, by = 1): number => (value + by) % (counterMax + 1);
    if (u.random.unit() < scrapRate) {
      u.scrap = wrap(u.scrap);
      out.push({ unitId: u.id, tag: 'count/scrap', value: u.scrap, ts });
    } else {
      u.good = wrap(u.good);
      out.push({ unitId: u.id, tag: 'count/good', value: u.good, ts });
    }
    u.total = wrap(u.total);
    out.push({ unitId: u.id, tag: 'count/total', value: u.total, ts });
    // Material is used by every piece, good or scrap.
    for (const m of u.materials) {
      m.value = wrap(m.value, m.perPiece);
      out.push({ unitId: u.id, tag: m.tag, value: m.value, ts });
    }
  }

  private stopAtRandom(u: UnitSim): void {
    const { meanTimeBetweenStopsMs, microStopShare } = this.options;
    if (u.random.unit() < microStopShare) {
      this.stop(u, 'down', MICRO_STOP_REASON, u.random.between(...MICRO_STOP_RANGE_MS));
      return;
    }
    let pick = u.random.unit() * LONGER_STOPS_WEIGHT;
    const kind = LONGER_STOPS.find((k) => (pick -= k.weight) < 0) ?? (LONGER_STOPS[0] as StopKind);
    const [minFactor, maxFactor] = kind.durationFactor;
    const durationMs = Math.max(
      MIN_LONG_STOP_MS,
      u.random.skewed(minFactor, maxFactor) * meanTimeBetweenStopsMs,
    );
    this.stop(u, kind.state, kind.reason, durationMs);
  }

  private stop(u: UnitSim, state: SimState, reason: string, durationMs: number): void {
    u.state = state;
    u.reason = reason;
    u.nextEventMs = this.nowMs + durationMs;
  }

  private startRunning(u: UnitSim): void {
    u.state = 'running';
    u.reason = null;
    u.nextEventMs = this.nowMs + this.cycleTimeMs(u);
    u.nextStopMs = this.nowMs + u.random.exponential(this.options.meanTimeBetweenStopsMs);
  }

  private cycleTimeMs(u: UnitSim): number {
    const jittered = u.idealCycleTimeMs * u.speedFactor * (1 + CYCLE_JITTER * u.random.normal());
    // A machine does not beat its rated speed: the ideal cycle time is a floor.
    return Math.max(u.idealCycleTimeMs, jittered);
  }
}

function stateTag(u: UnitSim, ts: number): SimTag {
  const value = SIMULATOR_STATE_CODES[u.state];
  return u.reason === null
    ? { unitId: u.id, tag: 'state', value, ts }
    : { unitId: u.id, tag: 'state', value, reason: u.reason, ts };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function resumeValue(value: number | null | undefined, counterMax: number): number | undefined {
  if (value === null || value === undefined || !Number.isSafeInteger(value)) return undefined;
  return value < 0 || value > counterMax ? undefined : value;
}
