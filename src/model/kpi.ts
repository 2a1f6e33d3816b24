/**
 * The KPI totals of a unit over a group (a shift, a day, an order …) from its bucket figures,
 * and their rollup, ratios and losses (issue #11; docs/kpi.md). Pure: no I/O. The ratios are
 * those of `oee.ts` (ISO 22400-2) on summed times and counts.
 *
 * The time model of one unit over the group's planned operation time (POT: shift time minus
 * breaks, up to now):
 *   POT = running + micro-stops + planned stops + unplanned stops + idle + no data
 *   PBT = POT − planned stops                      (planned busy time)
 *   APT = running + micro-stops                    (actual production time: a micro-stop is a
 *                                                   performance loss, not an availability loss)
 * A stop is planned by its reason (the reason tree's `planned`), else by its state
 * (`planned-stop`, `changeover`): `isPlannedStop` of downtime.ts, the rule of the downtime
 * summary. A micro-stop is a performance loss whatever its reason. Planned time no interval
 * covers (the hub heard nothing) is `no-data`, an availability loss.
 */
import type { BucketFigures } from './kpi-buckets.ts';
import { kpisOf } from './oee.ts';
import { EQUIPMENT_STATES, type EquipmentState } from './state.ts';

export type StateMs = Record<EquipmentState | 'no-data', number>;

export interface KpiTotals {
  readonly calendarTimeMs: number;
  readonly plannedOperationTimeMs: number;
  readonly plannedDownTimeMs: number;
  readonly plannedBusyTimeMs: number;
  readonly actualProductionTimeMs: number;
  readonly runningMs: number;
  readonly microStopMs: number;
  readonly microStops: number;
  /** Stop and idle time that is neither planned nor a micro-stop. */
  readonly unplannedStopMs: number;
  readonly changeoverMs: number;
  readonly changeovers: number;
  /** Unplanned `down` stops that are not micro-stops, and their time (MTBF, MTTR). */
  readonly failures: number;
  readonly failureDownTimeMs: number;
  /** Σ ideal cycle time × pieces, for the pieces whose ideal cycle time is known. */
  readonly idealProductionTimeMs: number;
  /** Pieces made without a known ideal cycle time (performance is then null). */
  readonly piecesWithoutIdealTime: number;
  readonly producedQuantity: number;
  readonly goodQuantity: number;
  readonly scrapQuantity: number;
  /** Time in each state within the planned operation time, and the time nothing covered. */
  readonly stateMs: StateMs;
  /** The part of `stateMs` that is an unplanned loss (micro-stops apart). */
  readonly unplannedStateMs: StateMs;
  /** What the unit did outside planned operation time (breaks, no shift): not in OEE. */
  readonly outsidePlannedTime: {
    readonly runningMs: number;
    readonly producedQuantity: number;
    readonly goodQuantity: number;
    readonly scrapQuantity: number;
  };
}

export interface UnitGroupInput {
  readonly calendarTimeMs: number;
  readonly plannedOperationTimeMs: number;
  /** The unit's figures within the planned operation time. */
  readonly figures: BucketFigures;
  /** Its figures outside it (within the group's span). */
  readonly outside: BucketFigures;
  /** Planned stop time per state (micro-stops never), and the planned `down` stops. */
  readonly plannedMs: Readonly<Partial<Record<EquipmentState, number>>>;
  readonly plannedDownStops: number;
  /** Ideal time of the pieces produced, ms, and the pieces without one. */
  readonly idealTimeMs: number;
  readonly piecesWithoutIdealTime: number;
}

const zeroStates = (): StateMs => {
  const out = { 'no-data': 0 } as StateMs;
  for (const s of EQUIPMENT_STATES) out[s] = 0;
  return out;
};

/** Pieces of a unit: a `total` counter, when counted, is what it made; else good + scrap. */
export function quantities(f: BucketFigures): { produced: number; good: number; scrap: number } {
  if (f.total > 0) {
    const good = f.good > 0 ? f.good : Math.max(0, f.total - f.scrap);
    return { produced: Math.max(f.total, good + f.scrap), good, scrap: f.scrap };
  }
  return { produced: f.good + f.scrap, good: f.good, scrap: f.scrap };
}

export function unitTotals(input: UnitGroupInput): KpiTotals {
  const f = input.figures;
  const planned = (s: EquipmentState): number => input.plannedMs[s] ?? 0;
  const stateMs = zeroStates();
  let covered = 0;
  for (const s of EQUIPMENT_STATES) {
    stateMs[s] = f.ms[s];
    covered += f.ms[s];
  }
  stateMs['no-data'] = Math.max(0, input.plannedOperationTimeMs - covered);
  const unplannedStateMs = zeroStates();
  for (const s of EQUIPMENT_STATES) {
    if (s === 'running') continue;
    unplannedStateMs[s] = Math.max(0, f.ms[s] - planned(s) - (s === 'down' ? f.microMs : 0));
  }
  unplannedStateMs['no-data'] = stateMs['no-data'];
  let plannedDown = 0;
  for (const s of EQUIPMENT_STATES) plannedDown += planned(s);
  let unplannedStop = 0;
  for (const s of EQUIPMENT_STATES) unplannedStop += unplannedStateMs[s];
  const q = quantities(f);
  const o = quantities(input.outside);
  return {
    calendarTimeMs: input.calendarTimeMs,
    plannedOperationTimeMs: input.plannedOperationTimeMs,
    plannedDownTimeMs: plannedDown,
    plannedBusyTimeMs: Math.max(0, input.plannedOperationTimeMs - plannedDown),
    actualProductionTimeMs: f.ms.running + f.microMs,
    runningMs: f.ms.running,
    microStopMs: f.microMs,
    microStops: f.microStops,
    unplannedStopMs: unplannedStop,
    changeoverMs: f.ms.changeover,
    changeovers: f.n.changeover,
    failures: Math.max(0, f.n.down - f.microStops - input.plannedDownStops),
    failureDownTimeMs: unplannedStateMs.down,
    idealProductionTimeMs: input.idealTimeMs,
    piecesWithoutIdealTime: input.piecesWithoutIdealTime,
    producedQuantity: q.produced,
    goodQuantity: q.good,
    scrapQuantity: q.scrap,
    stateMs,
    unplannedStateMs,
    outsidePlannedTime: {
      runningMs: input.outside.ms.running,
      producedQuantity: o.produced,
      goodQuantity: o.good,
      scrapQuantity: o.scrap,
    },
  };
}

const STATE_KEYS = Object.keys(zeroStates()) as (keyof StateMs)[];
// statesAt writes the keys out in this order.
if (
  STATE_KEYS.join() !== 'no-data,running,idle,down,planned-stop,changeover,starved,blocked,unknown'
)
  throw new Error(`kpi.ts statesAt does not match the states: ${STATE_KEYS.join()}`);

/** Add b's numbers (from `at`) to a's (totals as `totalsToArray` numbers). */
export function addTotalsArray(a: Float64Array, b: Float64Array, at = 0): void {
  for (let i = 0; i < KPI_TOTALS_WIDTH; i += 1) a[i]! += b[at + i]!;
}

/**
 * Totals summed: a line of its units, a range of its groups (calendar time too, as PBT is).
 * Written field by field: a report adds tens of thousands of these, and keyed access by a list
 * of names was most of its time (bench/kpi).
 */
export function addKpiTotals(all: readonly KpiTotals[]): KpiTotals {
  let calendarTimeMs = 0;
  let plannedOperationTimeMs = 0;
  let plannedDownTimeMs = 0;
  let plannedBusyTimeMs = 0;
  let actualProductionTimeMs = 0;
  let runningMs = 0;
  let microStopMs = 0;
  let microStops = 0;
  let unplannedStopMs = 0;
  let changeoverMs = 0;
  let changeovers = 0;
  let failures = 0;
  let failureDownTimeMs = 0;
  let idealProductionTimeMs = 0;
  let piecesWithoutIdealTime = 0;
  let producedQuantity = 0;
  let goodQuantity = 0;
  let scrapQuantity = 0;
  const stateMs = zeroStates();
  const unplannedStateMs = zeroStates();
  let outRunning = 0;
  let outProduced = 0;
  let outGood = 0;
  let outScrap = 0;
  for (const t of all) {
    calendarTimeMs += t.calendarTimeMs;
    plannedOperationTimeMs += t.plannedOperationTimeMs;
    plannedDownTimeMs += t.plannedDownTimeMs;
    plannedBusyTimeMs += t.plannedBusyTimeMs;
    actualProductionTimeMs += t.actualProductionTimeMs;
    runningMs += t.runningMs;
    microStopMs += t.microStopMs;
    microStops += t.microStops;
    unplannedStopMs += t.unplannedStopMs;
    changeoverMs += t.changeoverMs;
    changeovers += t.changeovers;
    failures += t.failures;
    failureDownTimeMs += t.failureDownTimeMs;
    idealProductionTimeMs += t.idealProductionTimeMs;
    piecesWithoutIdealTime += t.piecesWithoutIdealTime;
    producedQuantity += t.producedQuantity;
    goodQuantity += t.goodQuantity;
    scrapQuantity += t.scrapQuantity;
    for (const k of STATE_KEYS) {
      stateMs[k] += t.stateMs[k];
      unplannedStateMs[k] += t.unplannedStateMs[k];
    }
    const o = t.outsidePlannedTime;
    outRunning += o.runningMs;
    outProduced += o.producedQuantity;
    outGood += o.goodQuantity;
    outScrap += o.scrapQuantity;
  }
  return {
    calendarTimeMs,
    plannedOperationTimeMs,
    plannedDownTimeMs,
    plannedBusyTimeMs,
    actualProductionTimeMs,
    runningMs,
    microStopMs,
    microStops,
    unplannedStopMs,
    changeoverMs,
    changeovers,
    failures,
    failureDownTimeMs,
    idealProductionTimeMs,
    piecesWithoutIdealTime,
    producedQuantity,
    goodQuantity,
    scrapQuantity,
    stateMs,
    unplannedStateMs,
    outsidePlannedTime: {
      runningMs: outRunning,
      producedQuantity: outProduced,
      goodQuantity: outGood,
      scrapQuantity: outScrap,
    },
  };
}

export interface Kpis {
  readonly availability: number | null;
  readonly performance: number | null;
  readonly quality: number | null;
  readonly oee: number | null;
  readonly teep: number | null;
  readonly yield: number | null;
  readonly firstPassYield: number | null;
  readonly scrapRatio: number | null;
  readonly mtbfMs: number | null;
  readonly mttrMs: number | null;
}

/** The ratios of totals (oee.ts); performance is null while some pieces lack an ideal time. */
export function kpisOfTotals(t: KpiTotals): Kpis {
  const k = kpisOf({
    plannedBusyTimeMs: t.plannedBusyTimeMs,
    actualProductionTimeMs: t.actualProductionTimeMs,
    idealProductionTimeMs: t.idealProductionTimeMs,
    producedWithIdealTime: t.producedQuantity - t.piecesWithoutIdealTime,
    producedQuantity: t.producedQuantity,
    goodQuantity: t.goodQuantity,
    scrapQuantity: t.scrapQuantity,
    calendarTimeMs: t.calendarTimeMs,
    failures: t.failures,
    failureDownTimeMs: t.failureDownTimeMs,
  });
  const performance = t.piecesWithoutIdealTime > 0 ? null : k.performance;
  const oee =
    k.availability === null || performance === null || k.quality === null
      ? null
      : k.availability * performance * k.quality;
  return {
    availability: k.availability,
    performance,
    quality: k.quality,
    oee,
    teep:
      oee === null || t.calendarTimeMs <= 0 ? null : (oee * t.plannedBusyTimeMs) / t.calendarTimeMs,
    // Until rework is counted (issue #12) every good piece is good the first time.
    yield: k.quality,
    firstPassYield: k.quality,
    scrapRatio: k.scrapRatio,
    mtbfMs: k.mtbfMs,
    mttrMs: k.mttrMs,
  };
}

/** The six big losses as time, ms; the performance and quality ones need the ideal time. */
export interface Losses {
  readonly breakdownsMs: number;
  readonly setupMs: number;
  readonly otherStopsMs: number;
  readonly smallStopsMs: number;
  readonly reducedSpeedMs: number | null;
  readonly rejectsMs: number | null;
}

export function lossesOf(t: KpiTotals): Losses {
  const u = t.unplannedStateMs;
  const ideal = t.piecesWithoutIdealTime > 0 ? null : t.idealProductionTimeMs;
  return {
    breakdownsMs: u.down,
    setupMs: u.changeover,
    // `unknown` (the device went silent) and no data at all are not failures of the machine.
    otherStopsMs: u.idle + u.starved + u.blocked + u['planned-stop'] + u.unknown + u['no-data'],
    smallStopsMs: t.microStopMs,
    reducedSpeedMs: ideal === null ? null : t.actualProductionTimeMs - ideal - t.microStopMs,
    rejectsMs:
      ideal === null || t.producedQuantity === 0
        ? ideal === null
          ? null
          : 0
        : (ideal * t.scrapQuantity) / t.producedQuantity,
  };
}

/** The plain numbers of KpiTotals, first in `totalsToArray` (kpi-fields.ts KPI_TOTAL_FIELDS). */
const SCALARS = 18;

/** The numbers of KpiTotals in a fixed order (`totalsToArray`), for the KPI cache. */
export const KPI_TOTALS_WIDTH = SCALARS + 2 * STATE_KEYS.length + 4;

/** KpiTotals as numbers (every field, `stateMs` and the like by STATE_KEYS). */
export function totalsToArray(t: KpiTotals): Float64Array {
  const a = new Float64Array(KPI_TOTALS_WIDTH);
  a[0] = t.calendarTimeMs;
  a[1] = t.plannedOperationTimeMs;
  a[2] = t.plannedDownTimeMs;
  a[3] = t.plannedBusyTimeMs;
  a[4] = t.actualProductionTimeMs;
  a[5] = t.runningMs;
  a[6] = t.microStopMs;
  a[7] = t.microStops;
  a[8] = t.unplannedStopMs;
  a[9] = t.changeoverMs;
  a[10] = t.changeovers;
  a[11] = t.failures;
  a[12] = t.failureDownTimeMs;
  a[13] = t.idealProductionTimeMs;
  a[14] = t.piecesWithoutIdealTime;
  a[15] = t.producedQuantity;
  a[16] = t.goodQuantity;
  a[17] = t.scrapQuantity;
  let i = SCALARS;
  for (const k of STATE_KEYS) a[i++] = t.stateMs[k];
  for (const k of STATE_KEYS) a[i++] = t.unplannedStateMs[k];
  a[i++] = t.outsidePlannedTime.runningMs;
  a[i++] = t.outsidePlannedTime.producedQuantity;
  a[i++] = t.outsidePlannedTime.goodQuantity;
  a[i] = t.outsidePlannedTime.scrapQuantity;
  return a;
}

/** The state times at a[i …] in STATE_KEYS order, written out: a report reads thousands. */
function statesAt(a: Float64Array, i: number): StateMs {
  return {
    'no-data': a[i]!,
    running: a[i + 1]!,
    idle: a[i + 2]!,
    down: a[i + 3]!,
    'planned-stop': a[i + 4]!,
    changeover: a[i + 5]!,
    starved: a[i + 6]!,
    blocked: a[i + 7]!,
    unknown: a[i + 8]!,
  };
}

/** The KpiTotals of `totalsToArray` (the numbers from `at`). */
export function totalsFromArray(a: Float64Array, at = 0): KpiTotals {
  const i = at + SCALARS + 2 * STATE_KEYS.length;
  return {
    calendarTimeMs: a[at]!,
    plannedOperationTimeMs: a[at + 1]!,
    plannedDownTimeMs: a[at + 2]!,
    plannedBusyTimeMs: a[at + 3]!,
    actualProductionTimeMs: a[at + 4]!,
    runningMs: a[at + 5]!,
    microStopMs: a[at + 6]!,
    microStops: a[at + 7]!,
    unplannedStopMs: a[at + 8]!,
    changeoverMs: a[at + 9]!,
    changeovers: a[at + 10]!,
    failures: a[at + 11]!,
    failureDownTimeMs: a[at + 12]!,
    idealProductionTimeMs: a[at + 13]!,
    piecesWithoutIdealTime: a[at + 14]!,
    producedQuantity: a[at + 15]!,
    goodQuantity: a[at + 16]!,
    scrapQuantity: a[at + 17]!,
    stateMs: statesAt(a, at + SCALARS),
    unplannedStateMs: statesAt(a, at + SCALARS + STATE_KEYS.length),
    outsidePlannedTime: {
      runningMs: a[i]!,
      producedQuantity: a[i + 1]!,
      goodQuantity: a[i + 2]!,
      scrapQuantity: a[i + 3]!,
    },
  };
}
