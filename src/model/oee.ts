/**
 * OEE and the time and quantity KPIs around it, after ISO 22400-2:2014 (KPIs for manufacturing
 * operations management), computed from summed times and counts. Pure: no I/O.
 *
 * The rule that makes rollups right: a line, area, site or shift figure is computed from the
 * SUMS of its members' times and counts (`addTotals`), never by averaging their percentages.
 * Performance in particular sums the ideal production time of every piece (each unit's or
 * product's own ideal cycle time × its count), so units of different speeds weigh in by time.
 *
 * ISO 22400-2 names used (its clause 5 time model and clause 6 KPIs):
 * - PBT, planned busy time: planned operation time (shift time minus breaks) minus planned down
 *   time (stops planned by their reason, else by their state: `planned-stop`, `changeover`).
 * - APT, actual production time: the unit was producing (state `running`), plus its micro-stops
 *   (model/kpi.ts: a micro-stop is a performance loss, not an availability loss).
 * - PRI × PQ, planned run time per item × produced quantity: the ideal time for what was made.
 * - PQ produced quantity, GQ good quantity, SQ scrap quantity (PQ = GQ + SQ).
 * - Availability = APT / PBT; Effectiveness ("performance") = PRI × PQ / APT;
 *   Quality ratio = GQ / PQ; OEE index = Availability × Effectiveness × Quality ratio
 *   = PRI × GQ / PBT.
 * - TEEP (not an ISO 22400-2 KPI; the common definition) = OEE × PBT / calendar time.
 * - MTBF (mean operating time between failures) = APT / failures; MTTR = down time for
 *   failures / failures (ISO 22400-2 §6.10.5–6.10.6 define them over the failure events).
 * A ratio whose denominator is zero is null (nothing planned, nothing produced), never NaN.
 */

/** Summable inputs of one unit over one time range (ms and pieces). */
export interface OeeTotals {
  /** PBT: planned busy time. */
  readonly plannedBusyTimeMs: number;
  /** APT: actual production time (running). */
  readonly actualProductionTimeMs: number;
  /** Σ PRI × PQ: ideal time for the pieces produced (pieces without an ideal time: none). */
  readonly idealProductionTimeMs: number;
  /** PQ counted with an ideal cycle time, so Effectiveness compares like with like. */
  readonly producedWithIdealTime: number;
  /** PQ, GQ, SQ. */
  readonly producedQuantity: number;
  readonly goodQuantity: number;
  readonly scrapQuantity: number;
  /** The whole range of the calendar (for TEEP), ms. */
  readonly calendarTimeMs: number;
  /** Unplanned stops counted as failures, and their total down time. */
  readonly failures: number;
  readonly failureDownTimeMs: number;
}

export interface OeeInput {
  readonly plannedBusyTimeMs: number;
  readonly actualProductionTimeMs: number;
  /** PRI per piece, ms; null when the unit (or product) has none configured. */
  readonly idealCycleTimeMs: number | null;
  readonly goodQuantity: number;
  readonly scrapQuantity: number;
  readonly calendarTimeMs?: number;
  readonly failures?: number;
  readonly failureDownTimeMs?: number;
}

/** The totals of one unit's range (one product, one ideal cycle time). */
export function totalsOf(input: OeeInput): OeeTotals {
  const produced = input.goodQuantity + input.scrapQuantity;
  const ideal = input.idealCycleTimeMs;
  return {
    plannedBusyTimeMs: input.plannedBusyTimeMs,
    actualProductionTimeMs: input.actualProductionTimeMs,
    idealProductionTimeMs: ideal === null ? 0 : ideal * produced,
    producedWithIdealTime: ideal === null ? 0 : produced,
    producedQuantity: produced,
    goodQuantity: input.goodQuantity,
    scrapQuantity: input.scrapQuantity,
    calendarTimeMs: input.calendarTimeMs ?? 0,
    failures: input.failures ?? 0,
    failureDownTimeMs: input.failureDownTimeMs ?? 0,
  };
}

/** Members summed (a rollup, or a range made of buckets). */
export function addTotals(...all: readonly OeeTotals[]): OeeTotals {
  const sum = (k: keyof OeeTotals): number => all.reduce((s, t) => s + t[k], 0);
  return {
    plannedBusyTimeMs: sum('plannedBusyTimeMs'),
    actualProductionTimeMs: sum('actualProductionTimeMs'),
    idealProductionTimeMs: sum('idealProductionTimeMs'),
    producedWithIdealTime: sum('producedWithIdealTime'),
    producedQuantity: sum('producedQuantity'),
    goodQuantity: sum('goodQuantity'),
    scrapQuantity: sum('scrapQuantity'),
    calendarTimeMs: sum('calendarTimeMs'),
    failures: sum('failures'),
    failureDownTimeMs: sum('failureDownTimeMs'),
  };
}

export interface OeeKpis {
  readonly availability: number | null;
  readonly performance: number | null;
  readonly quality: number | null;
  readonly oee: number | null;
  readonly teep: number | null;
  readonly scrapRatio: number | null;
  readonly mtbfMs: number | null;
  readonly mttrMs: number | null;
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

/** The KPIs of summed totals. */
export function kpisOf(t: OeeTotals): OeeKpis {
  const availability = ratio(t.actualProductionTimeMs, t.plannedBusyTimeMs);
  const performance = ratio(t.idealProductionTimeMs, t.actualProductionTimeMs);
  const quality = ratio(t.goodQuantity, t.producedQuantity);
  const oee =
    availability === null || performance === null || quality === null
      ? null
      : availability * performance * quality;
  return {
    availability,
    performance,
    quality,
    oee,
    teep:
      oee === null || t.calendarTimeMs <= 0 ? null : (oee * t.plannedBusyTimeMs) / t.calendarTimeMs,
    scrapRatio: ratio(t.scrapQuantity, t.producedQuantity),
    mtbfMs: ratio(t.actualProductionTimeMs, t.failures),
    mttrMs: ratio(t.failureDownTimeMs, t.failures),
  };
}
