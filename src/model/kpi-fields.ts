/**
 * The fields of kpi.ts KpiTotals and Kpis that the KPI outputs list as columns, in their order:
 * the CSV of GET /api/v1/kpi/oee (server/kpi-routes.ts) and the `kpi.shift` message to BI
 * (erp.ts KpiMessage, rendered as CSV by enterprise/files/csv.ts). Pure data; no I/O.
 */
import type { Kpis, KpiTotals } from './kpi.ts';

/** Every number of KpiTotals (times ms, counts); `stateMs` and the like are listed elsewhere. */
export const KPI_TOTAL_FIELDS = [
  'calendarTimeMs',
  'plannedOperationTimeMs',
  'plannedDownTimeMs',
  'plannedBusyTimeMs',
  'actualProductionTimeMs',
  'runningMs',
  'microStopMs',
  'microStops',
  'unplannedStopMs',
  'changeoverMs',
  'changeovers',
  'failures',
  'failureDownTimeMs',
  'idealProductionTimeMs',
  'piecesWithoutIdealTime',
  'producedQuantity',
  'goodQuantity',
  'scrapQuantity',
] as const satisfies readonly (keyof KpiTotals)[];

/**
 * Every ratio of Kpis, in its order. The `kpi.shift` message carries a subset in an order of
 * its own (erp.ts KPI_SHIFT_KPIS), which BI loaders already read.
 */
export const KPI_RATIO_FIELDS = [
  'availability',
  'performance',
  'quality',
  'oee',
  'teep',
  'yield',
  'firstPassYield',
  'scrapRatio',
  'mtbfMs',
  'mttrMs',
] as const satisfies readonly (keyof Kpis)[];
