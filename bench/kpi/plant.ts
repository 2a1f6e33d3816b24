/**
 * The plant and the history of the KPI benchmark (run.ts): one site in Europe/Berlin with three
 * shifts (06:00 / 14:00 / 22:00, a 30-minute break in each), lines of ten units, and for every
 * unit a state timeline in milliseconds over the range (mostly running; stops of every kind, some
 * with PLC reason codes; most units stop for the breaks) with counts per minute. Everything comes
 * from one seeded PRNG per unit, so two runs (and the two stores of one run) get the same data.
 *
 * Planned time is worked out here from the site's wall clock with `Intl` alone, not with the
 * hub's shift code, so the check in run.ts is independent of what it checks. That is why the
 * night break is at 03:00 and not at 02:00: 03:00 exists once on both DST nights in Berlin, so
 * "planned = not in a break" needs no rule for wall times that occur twice or not at all.
 */
import type {
  CountedEvent,
  DomainEvent,
  EquipmentState,
  StateChangedEvent,
} from '../../src/model/index.ts';

export const MINUTE_MS = 60_000;
export const TIME_ZONE = 'Europe/Berlin';
export const ENTERPRISE = 'acme';
export const SITE = `${ENTERPRISE}/plant1`;
export const AREA = `${SITE}/area1`;

/** Breaks, local wall-clock `HH:MM`; the shifts cover the whole day, so these are all that is unplanned. */
export const BREAKS = [
  { shift: 'Early', start: '06:00', end: '14:00', break: ['10:00', '10:30'] },
  { shift: 'Late', start: '14:00', end: '22:00', break: ['18:00', '18:30'] },
  { shift: 'Night', start: '22:00', end: '06:00', break: ['03:00', '03:30'] },
] as const;

/** A `down` shorter than this is a micro-stop (the runtime's `microStopMax`). */
export const MICRO_STOP_MAX_MS = 60_000;

/** Ideal cycle times the units get, round robin, seconds. */
const IDEAL_CYCLE_S = [0.8, 1, 1.2, 1.5, 2, 2.5, 3];

export const lineId = (l: number): string => `${AREA}/line${l}`;
export const unitId = (i: number): string => `${lineId(Math.floor(i / 10))}/unit${i % 10}`;
export const idealCycleMs = (i: number): number => IDEAL_CYCLE_S[i % IDEAL_CYCLE_S.length]! * 1000;

/** The configuration: site, calendar, reason tree, `units` units of ten a line. */
export function plantYaml(units: number): string {
  const lines = Array.from({ length: Math.ceil(units / 10) }, (_, l) => {
    const us = Array.from({ length: Math.min(10, units - l * 10) }, (_, u) => {
      const i = l * 10 + u;
      return `{ id: unit${u}, idealCycleTime: ${idealCycleMs(i)}ms }`;
    }).join(', ');
    return `          - { id: line${l}, units: [${us}] }`;
  }).join('\n');
  const shifts = BREAKS.map(
    (s) =>
      `        - { name: ${s.shift}, start: '${s.start}', end: '${s.end}', breaks: [{ name: Break, start: '${s.break[0]}', end: '${s.break[1]}' }] }`,
  ).join('\n');
  return `enterprise: { id: ${ENTERPRISE} }
sites:
  - id: plant1
    timeZone: ${TIME_ZONE}
    reasons:
      - { code: JAM, name: Jam, category: mechanical, plcCodes: [JAM] }
      - { code: MOTOR, name: Motor fault, category: mechanical, plcCodes: [MOTOR_FAULT] }
      - { code: ELEC, name: Electrical fault, category: electrical, plcCodes: [ELECTRICAL] }
      - { code: UPSTREAM, name: Starved, category: flow, plcCodes: [upstream-stopped] }
      - { code: DOWNSTREAM, name: Blocked, category: flow, plcCodes: [downstream-stopped] }
      - { code: CHANGEOVER, name: Changeover, category: planned, planned: true, plcCodes: [CHANGEOVER] }
      - { code: CLEANING, name: Cleaning, category: planned, planned: true, plcCodes: [CLEANING] }
      - { code: BREAK, name: Break, category: planned, planned: true, plcCodes: [BREAK] }
      - { code: MINOR, name: Minor stop, category: performance, plcCodes: [MICRO_STOP] }
      - { code: OPERATOR, name: Operator absent, category: organisation }
      - { code: TRIAL, name: Planned trial, category: planned, planned: true }
    calendar:
      name: 3 shifts
      shifts:
${shifts}
    areas:
      - id: area1
        lines:
${lines}
`;
}

/** mulberry32: small, fast, and the same sequence on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hm = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

/** 1 for each minute of [start, start + minutes·1 min) that is planned (in a shift, not in a break). */
export function plannedMinutes(start: number, minutes: number): Uint8Array {
  const local = new Intl.DateTimeFormat('en-GB', {
    timeZone: TIME_ZONE,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const breaks = BREAKS.map((s) => [hm(s.break[0]), hm(s.break[1])] as const);
  const out = new Uint8Array(minutes);
  for (let m = 0; m < minutes; m++) {
    const t = hm(local.format(new Date(start + m * MINUTE_MS)));
    out[m] = breaks.some(([a, b]) => t >= a && t < b) ? 0 : 1;
  }
  return out;
}

/** The breaks as UTC windows, from the planned minutes. */
export function breakWindows(start: number, planned: Uint8Array): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  for (let m = 0; m < planned.length; m++) {
    if (planned[m] === 1) continue;
    if (m === 0 || planned[m - 1] === 1) out.push({ from: start + m * MINUTE_MS, to: 0 });
    out.at(-1)!.to = start + (m + 1) * MINUTE_MS;
  }
  return out;
}

export interface StateInterval {
  readonly state: EquipmentState;
  readonly reason: string | null;
  readonly from: number;
  readonly to: number;
}

const exp = (rand: () => number, meanMs: number): number => -Math.log(1 - rand()) * meanMs;
const between = (rand: () => number, lo: number, hi: number): number => lo + rand() * (hi - lo);
const MIN = MINUTE_MS;

/** The stop that follows a run, with its length. */
function nextStop(rand: () => number): {
  state: EquipmentState;
  reason: string | null;
  ms: number;
} {
  const r = rand();
  if (r < 0.4) {
    const short = rand() < 0.35;
    const c = rand();
    const reason = short
      ? rand() < 0.5
        ? 'MICRO_STOP'
        : null
      : c < 0.3
        ? 'JAM'
        : c < 0.45
          ? 'MOTOR_FAULT'
          : c < 0.55
            ? 'ELECTRICAL'
            : null;
    return {
      state: 'down',
      reason,
      ms: short ? between(rand, 5_000, 55_000) : MIN + exp(rand, 7 * MIN),
    };
  }
  if (r < 0.6) return { state: 'idle', reason: null, ms: 30_000 + exp(rand, 3 * MIN) };
  if (r < 0.72)
    return { state: 'starved', reason: 'upstream-stopped', ms: 30_000 + exp(rand, 4 * MIN) };
  if (r < 0.82)
    return { state: 'blocked', reason: 'downstream-stopped', ms: 30_000 + exp(rand, 3 * MIN) };
  if (r < 0.92)
    return { state: 'changeover', reason: 'CHANGEOVER', ms: between(rand, 15 * MIN, 40 * MIN) };
  return { state: 'planned-stop', reason: 'CLEANING', ms: between(rand, 20 * MIN, 30 * MIN) };
}

/**
 * One unit's states over [start, now): runs of 5 min + ~35 min, then a stop; at six breaks in ten
 * the unit stops for it (planned-stop, BREAK) from a little after its start to a little after
 * its end. Times are whole milliseconds; the last interval is the state the unit is in now.
 */
export function unitTimeline(
  rand: () => number,
  start: number,
  now: number,
  breaks: readonly { from: number; to: number }[],
): StateInterval[] {
  const stops = breaks
    .filter(() => rand() < 0.6)
    .map((b) => ({
      from: b.from + Math.floor(rand() * 90_000),
      to: b.to + Math.floor(rand() * 120_000),
    }));
  const out: StateInterval[] = [];
  const push = (from: number, to: number, state: EquipmentState, reason: string | null): void => {
    if (to > from) out.push({ state, reason, from, to });
  };
  let t = start;
  let state: EquipmentState = 'running';
  let reason: string | null = null;
  let length = 5 * MIN + exp(rand, 35 * MIN);
  let b = 0;
  while (t < now) {
    while (b < stops.length && stops[b]!.to <= t) b++;
    const w = stops[b];
    if (w !== undefined && w.from <= t) {
      const to = Math.min(w.to, now);
      push(t, to, 'planned-stop', 'BREAK');
      t = to;
      b++;
      state = 'running';
      reason = null;
      length = 5 * MIN + exp(rand, 35 * MIN);
      continue;
    }
    let to = Math.min(now, t + Math.max(1000, Math.round(length)));
    if (w !== undefined && to > w.from) to = w.from;
    push(t, to, state, reason);
    t = to;
    if (w !== undefined && t === w.from) continue; // the break stop comes next
    if (state === 'running') {
      const s = nextStop(rand);
      state = s.state;
      reason = s.reason;
      length = s.ms;
    } else {
      state = 'running';
      reason = null;
      length = 5 * MIN + exp(rand, 35 * MIN);
    }
  }
  return out;
}

const isMicro = (i: StateInterval): boolean =>
  i.state === 'down' && i.to - i.from < MICRO_STOP_MAX_MS;

/** The state change at the start of interval k (k ≥ 1): it ends interval k − 1. */
export function changeAt(
  equipmentId: string,
  iv: readonly StateInterval[],
  k: number,
): StateChangedEvent {
  const prev = iv[k - 1]!;
  const cur = iv[k]!;
  return {
    type: 'state.changed',
    equipmentId,
    ts: cur.from,
    data: {
      state: cur.state,
      reasonCode: cur.reason,
      previousState: prev.state,
      previousReasonCode: prev.reason,
      previousDurationMs: prev.to - prev.from,
      previousMicroStop: isMicro(prev),
    },
  };
}

export function counted(
  equipmentId: string,
  ts: number,
  counter: 'good' | 'scrap',
  delta: number,
): CountedEvent {
  return {
    type: 'counted',
    equipmentId,
    ts,
    data: { counter, delta, raw: 0, total: 0, anomaly: null },
  };
}

/** What a unit ran and made in one chunk, split into planned time and breaks. */
export interface ChunkFigures {
  runPlannedMs: number;
  runOutsideMs: number;
  goodPlanned: number;
  scrapPlanned: number;
  goodOutside: number;
  scrapOutside: number;
}

export const noChunkFigures = (): ChunkFigures => ({
  runPlannedMs: 0,
  runOutsideMs: 0,
  goodPlanned: 0,
  scrapPlanned: 0,
  goodOutside: 0,
  scrapOutside: 0,
});

/**
 * The counts of one unit over the minutes of [c0, c1) from its running time in each minute: at
 * 85–97 % of the ideal rate, 1.5 % scrap. One `good` (and, when any, one `scrap`) event per
 * minute, 30 s into it (or just before `now` in the minute that holds now).
 */
export function chunkCounts(
  rand: () => number,
  equipmentId: string,
  idealMs: number,
  iv: readonly StateInterval[],
  c0: number,
  c1: number,
  now: number,
  start: number,
  planned: Uint8Array,
  into: ChunkFigures,
): CountedEvent[] {
  const minutes = Math.ceil((c1 - c0) / MINUTE_MS);
  const run = new Float64Array(minutes);
  for (const i of iv) {
    if (i.to <= c0 || i.from >= c1 || i.state !== 'running') continue;
    for (let t = Math.max(i.from, c0), end = Math.min(i.to, c1); t < end;) {
      const m = Math.floor((t - c0) / MINUTE_MS);
      const next = Math.min(end, c0 + (m + 1) * MINUTE_MS);
      run[m]! += next - t;
      t = next;
    }
  }
  const speed = 0.85 + rand() * 0.12;
  const out: CountedEvent[] = [];
  for (let m = 0; m < minutes; m++) {
    const minute = c0 + m * MINUTE_MS;
    if (minute >= now) break;
    const inPlan = planned[(minute - start) / MINUTE_MS] === 1;
    const ms = run[m]!;
    if (inPlan) into.runPlannedMs += ms;
    else into.runOutsideMs += ms;
    if (ms === 0) continue;
    const pieces = Math.floor((ms / idealMs) * speed + rand());
    const scrap = Math.min(pieces, Math.floor(pieces * 0.015 + rand()));
    const good = pieces - scrap;
    const ts = Math.min(minute + 30_000, now - 1);
    if (good > 0) out.push(counted(equipmentId, ts, 'good', good));
    if (scrap > 0) out.push(counted(equipmentId, ts, 'scrap', scrap));
    if (inPlan) {
      into.goodPlanned += good;
      into.scrapPlanned += scrap;
    } else {
      into.goodOutside += good;
      into.scrapOutside += scrap;
    }
  }
  return out;
}

export type { DomainEvent };
